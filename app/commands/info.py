"""``genloupe info PATH``: what a model file is (format, data shape, levels, likelihood, parameters, hash)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from genloupe.engine.checkpoints import open_model
from genloupe.engine.likelihood import likelihood_words


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="describe a model file: format, data shape, levels, likelihood kind, parameters, content hash",
        description="Open a model file the way every other command does (checks included) and describe it. "
        "PATH#head picks a head of a hybrid checkpoint.",
    )
    parser.add_argument("path", help="model file or folder (any supported format; PATH#head picks a head)")
    parser.add_argument("--trust-code", action="store_true", help="allow a Python adapter file to run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def describe(info: dict[str, Any]) -> dict[str, Any]:
    """The model's info as the plain values ``info`` prints."""
    extra = info["extra"]
    return {
        "format": extra.get("format"),
        "name": info["name"],
        "family": info["family"],
        "heads": [h for h in extra.get("heads", []) if h],
        "head": extra.get("head", ""),
        "data_shape": info["data_shape"],
        "levels": info["levels"],
        "likelihood": info["likelihood"],
        "discrete": info["discrete"],
        "estimator": info["estimator"],
        "bound_k": info["bound_k"],
        "per_dim": info["per_dim"],
        "parameters": extra.get("parameters"),
        "content_hash": extra.get("content_hash"),
        "source": extra.get("source"),
        "stored_samples": extra.get("stored_samples"),
        "stored_log_px": (extra.get("convention") or {}).get("description"),
        "stored_convention": extra.get("convention"),
        "warnings": list(extra.get("warnings") or []),
        "likelihood_note": likelihood_text(info),  # "likelihood" is the kind; this says it as the text does
    }


def stored_text(convention: dict[str, Any]) -> str:
    """A sample bundle's likelihood: the values stored with its samples, and that nothing more is scored."""
    kind = convention.get("kind", "exact").replace("_", " ")
    estimator = convention.get("estimator", "") + (f"-{convention['k']}" if convention.get("k") else "")
    what = ", ".join(filter(None, [convention.get("unit"), convention.get("space", "discrete"), estimator]))
    return f"stored with the samples only: {kind} ({what}); new images cannot be scored"


def likelihood_text(summary: dict[str, Any]) -> str:
    """The likelihood kind in the words the JSON, the report and the window use (engine.likelihood)."""
    if summary.get("stored_convention"):
        return stored_text(summary["stored_convention"])
    return likelihood_words(discrete=summary["discrete"], kind=summary["likelihood"], estimator=summary["estimator"],
                            k_bound=summary["bound_k"])


def format_summary(summary: dict[str, Any]) -> str:
    c, h, w = summary["data_shape"]
    parameters = summary["parameters"]
    rows = [
        ("format", summary["format"]),
        ("model", summary["name"] + (f" (family {summary['family']})" if summary["family"] else "")),
        ("data", f"{c}x{h}x{w} (C x H x W, D={c * h * w}), {summary['levels']} levels"),
        ("likelihood", likelihood_text(summary)),
        ("parameters", "unknown" if parameters is None else f"{parameters:,}"),
        ("hash", summary["content_hash"]),
    ]
    if summary["heads"]:
        rows.insert(2, ("heads", f"{', '.join(summary['heads'])} (open one with PATH#head)"))
    if summary["stored_samples"] is not None:
        rows.insert(2, ("samples", f"{summary['stored_samples']} stored"))
    rows += [("warning", text) for text in summary.get("warnings", [])]
    return "\n".join(f"{key:<11}{value}" for key, value in rows)


def run(args: argparse.Namespace) -> int:
    summary = describe(open_model(args.path, trust_code=args.trust_code).info.to_dict())
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
