"""The evaluation summary a terminal prints: rounded values, each with its uncertainty and convention.

The rows are the window's and the report's (app/metric_rows.py): same names, same interval or ± std, so
the three never disagree; the interval's method is in the JSON and the report.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from genloupe.app.metric_rows import metric_rows


def number(value: float | None) -> str:
    """Four significant digits, no exponent for everyday magnitudes."""
    if value is None:
        return "—"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def uncertainty(row: dict[str, Any]) -> str:
    interval, note = row["interval"], row["note"]
    if interval is None:
        return ""
    if note.startswith("±"):
        return f"± {number((interval[1] - interval[0]) / 2)} ({note[1:].strip()})"
    level = note.split(" interval")[0] if " interval" in note else ""
    return f"[{number(interval[0])}, {number(interval[1])}]" + (f" {level} interval" if level else "")


def print_summary(document: dict[str, Any], out: TextIO | None = None, *, scored_with: str | None = None) -> None:
    """``scored_with`` names the model whose likelihood the numbers are, when the evaluated model has none."""
    out = out or sys.stdout
    model = document["model"]
    print(f"{model['name']}: {document['n_samples']} samples vs {document['reference']['name']} "
          f"(n={document['reference']['n']}), {document['features']} features, device {document['device']}", file=out)
    under = f"scored under {scored_with}: " if scored_with else ""
    for source, entry in document["likelihood"].items():
        print(f"  {source:>9}: {entry['mean_bpd']:.3f} bits/dim  [{under}{entry['convention']['description']}]", file=out)
    for row in metric_rows(document["metric_details"]):
        if row["name"].startswith("bits/dim"):
            continue  # printed above with the likelihood convention
        line = f"  {row['name']:>30}: {number(row['value']):>8}"
        extra = " ".join(filter(None, [uncertainty(row), f"[{row['convention']}]" if row["convention"] else ""]))
        print(f"{line}  {extra}".rstrip(), file=out)
