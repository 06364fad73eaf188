"""What a session file stores, checked as it is read: a crafted or damaged file is a SessionError, never a
ValueError, a traceback or an allocation its own bytes do not back.

The session file is untrusted input like any other (it is shared, and SQLite's typing is loose): every
record is checked for its JSON shape and depth, every array for its dtype, declared shape and the bytes
that back it, and every flag and note row for its types, before anything is built from it.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

import numpy as np

from .. import io as bounded
from ..errors import SessionError

TABLES = {"meta", "columns", "images", "arrays", "flags", "notes"}
NUMERIC_KINDS = "biuf"
METRIC_NUMBERS = ("value", "mean", "std")
METRIC_INTERVALS = ("ci", "interval")
FLAG_STATES = ("suggested", "confirmed")
RECORD_BYTES = 64 << 20  # the run and metrics records: JSON text held whole


def check_schema(db: sqlite3.Connection, where: str) -> None:
    """Exactly GenLoupe's tables, as tables: a view (a recursive one could run for ever) or trigger is refused."""
    rows = db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    tables = {name for kind, name in rows if kind == "table"}
    others = sorted(f"{kind} {name}" for kind, name in rows if kind not in ("table", "index"))
    if others or not TABLES <= tables:
        found = ", ".join(others) if others else f"missing tables {', '.join(sorted(TABLES - tables))}"
        raise SessionError(f"{where}: not a GenLoupe session layout ({bounded.describe(found)})")


def record(text: Any, key: str, where: str) -> dict[str, Any]:
    """A meta record (the run, the metrics): a JSON object of bounded size and depth."""
    if not isinstance(text, str):
        raise SessionError(f"{where}: the {key!r} record is not text")
    value = bounded.parse_json(text, f"{where}: the {key!r} record", RECORD_BYTES, SessionError, allow_nan=True)
    if not isinstance(value, dict):
        raise SessionError(f"{where}: the {key!r} record is a JSON {type(value).__name__}, not an object")
    return value


def metrics(value: dict[str, Any], where: str) -> dict[str, Any]:
    """Each metric a number (or null) or an object whose value/mean/std are numbers and whose interval is two."""
    for key, entry in value.items():
        what = f"{where}: metric {bounded.describe(key)}"
        if isinstance(entry, dict):
            for field in METRIC_NUMBERS:
                if field in entry:
                    _number(entry[field], f"{what} {field}")
            for field in METRIC_INTERVALS:
                interval = entry.get(field)
                if interval is not None and not (isinstance(interval, list) and len(interval) == 2):
                    raise SessionError(f"{what}: its {field} must be [low, high], got {bounded.describe(interval)}")
                for bound in interval or ():
                    _number(bound, f"{what} {field}")
        else:
            _number(entry, what)
    return value


def _number(value: Any, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise SessionError(f"{what} is {bounded.describe(value)}, not a number")


def dtype(text: Any, what: str) -> np.dtype:
    """A stored dtype: a numeric NumPy type string, nothing else (no objects, no structured types)."""
    try:
        found = np.dtype(text) if isinstance(text, str) and len(text) <= 8 else None
    except TypeError:
        found = None
    if found is None or found.kind not in NUMERIC_KINDS or found.fields is not None or found.subdtype is not None:
        raise SessionError(f"{what}: stored dtype {bounded.describe(text)} is not a numeric type")
    return found


def shape(text: Any, what: str) -> tuple[int, ...]:
    """A stored shape: a JSON list of non-negative integers."""
    value = bounded.parse_json(text, f"{what}: shape", 4096, SessionError) if isinstance(text, str) else None
    if not isinstance(value, list) or len(value) > 8 or \
            not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        raise SessionError(f"{what}: stored shape {bounded.describe(text)} is not a list of sizes")
    return tuple(value)


def array(data: Any, kind: np.dtype, dims: tuple[int, ...], what: str) -> np.ndarray:
    """The array a BLOB holds, after checking that it holds exactly the bytes its shape and dtype declare."""
    if not isinstance(data, bytes):
        raise SessionError(f"{what}: stored data is not a BLOB")
    need = math.prod(dims) * kind.itemsize
    if len(data) != need:
        raise SessionError(f"{what}: declares {list(dims)} of {kind} ({need} bytes) but holds {len(data)} bytes")
    return np.frombuffer(data, dtype=kind).reshape(dims).copy()


def column(name: Any, kind: Any, length: Any, data: Any, where: str) -> tuple[str, np.ndarray]:
    what = f"{where}: column {bounded.describe(name)}"
    if not isinstance(name, str) or not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise SessionError(f"{what}: malformed column record")
    return name, array(data, dtype(kind, what), (length,), what)


def images(row: tuple, where: str) -> tuple[np.ndarray, int]:
    """(N, C, H, W) integer levels: uint8 or uint16, levels 2..65536, every value below levels."""
    stored_shape, stored_dtype, levels, data = row
    dims = shape(stored_shape, where)
    kind = dtype(stored_dtype, where)
    if len(dims) != 4 or kind not in (np.dtype(np.uint8), np.dtype(np.uint16)):
        raise SessionError(f"{where}: images must be (N, C, H, W) uint8 or uint16, got {list(dims)} of {kind}")
    if not isinstance(levels, int) or not 2 <= levels <= 65536:
        raise SessionError(f"{where}: images stored on {bounded.describe(levels)} levels")
    pixels = array(data, kind, dims, where)
    if pixels.size and int(pixels.max()) >= levels:
        raise SessionError(f"{where}: images hold values up to {int(pixels.max())} on {levels} levels")
    return pixels, levels


def flag_row(row: tuple, where: str) -> tuple:
    idx, label, state, reason, created, updated = row
    if not (isinstance(idx, int) and isinstance(label, str) and state in FLAG_STATES and isinstance(reason, str)
            and isinstance(created, (int, float)) and isinstance(updated, (int, float))):
        raise SessionError(f"{where}: malformed flag row {bounded.describe(row)}")
    return row


def note_row(row: tuple, where: str) -> tuple:
    idx, text, updated = row
    if not (isinstance(idx, int) and isinstance(text, str) and isinstance(updated, (int, float))):
        raise SessionError(f"{where}: malformed note row {bounded.describe(row)}")
    return row
