"""JSON read from untrusted bytes: bounded in size and in nesting before anything walks it."""

from __future__ import annotations

import json
from typing import Any

from ..errors import GenLoupeError
from .limits import limits
from .text import one_line


def depth(value: Any) -> int:
    """Nesting of a parsed JSON value, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_json(data: bytes | str, what: str, limit: int | None = None,
               error: type[GenLoupeError] = GenLoupeError, *, allow_nan: bool = False) -> Any:
    """``json.loads`` of at most ``limit`` bytes (default: the metadata cap) nested at most the depth cap.

    NaN and Infinity literals are refused unless ``allow_nan`` (a session's own metrics may hold them).
    """
    caps = limits()
    limit = caps.metadata_bytes if limit is None else limit
    if len(data) > limit:
        raise error(f"{what}: {len(data)} bytes of JSON (at most {limit} allowed)")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text) if allow_nan else json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise error(f"{what}: JSON nested deeper than {caps.json_depth} levels") from None
    except (UnicodeDecodeError, ValueError) as problem:
        raise error(f"{what}: not valid JSON ({one_line(problem)})") from None
    if depth(value) > caps.json_depth:
        raise error(f"{what}: JSON nested deeper than {caps.json_depth} levels")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")
