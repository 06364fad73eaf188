"""The report's numbers as files: JSON with every number, CSV of the per-sample table with flags and notes.

Numbers keep full precision (JSON and CSV both write floats as Python's shortest round-trip repr).
JSON has no NaN or infinity: non-finite values are written as null. The CSV writes them as
'nan', 'inf' and '-inf', which float() and every CSV reader parse back.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .model import ReportData, SourceData

FORMAT = "genloupe-report"
VERSION = 1


def report_json(data: ReportData) -> dict[str, Any]:
    """Everything the report shows, as plain JSON values."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "title": data.title,
        "created": data.created,
        "session": data.session_path,
        "run": _plain(data.run),
        "metrics": _plain(data.metrics_raw),
        "sources": {name: _source_json(source) for name, source in data.sources.items()},
        "highest_likelihood": [card.idx for card in data.top],
        "lowest_likelihood": [card.idx for card in data.bottom],
    }


def write_json(data: ReportData, path: Path) -> Path:
    path.write_text(json.dumps(report_json(data), indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    return path


def write_csv(data: ReportData, path: Path) -> Path:
    """One row per image: id, source, every per-sample column, confirmed flags, suggested flags, note.

    Labels within a cell are separated by ';'. Booleans are 1 and 0; a column a source lacks is empty.
    Every text cell (source, labels, note, any text column) that starts with a character a spreadsheet
    reads as a formula (= + - @, tab, CR, LF, |, %, or their full-width forms) gets a leading ' so that
    it shows as text.
    """
    sources = data.table_sources()
    names: list[str] = []
    for source in sources:
        names += [name for name in source.column_names() if name not in names]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([_as_text(name) for name in ("id", "source", *names, "flags", "suggested", "note")])
        for source in sources:
            columns = [source.columns[name].tolist() if name in source.columns else None for name in names]
            confirmed, suggested = _labels(source)
            for idx in range(source.n):
                cells = ("" if values is None else _cell(values[idx]) for values in columns)
                note = source.notes.get(idx, ("", 0.0))[0]
                row = (idx, source.name, *cells, confirmed.get(idx, ""), suggested.get(idx, ""), note)
                writer.writerow([_as_text(cell) if isinstance(cell, str) else cell for cell in row])
    return path


FORMULA_LEADS = frozenset("=+-@\t\r\n|%\uff1d\uff0b\uff0d\uff20\uff5c\uff05")  # ASCII and full-width


def _as_text(text: str) -> str:
    """``text`` as a spreadsheet shows it: a leading ' keeps a formula-like cell inert."""
    return f"'{text}" if text[:1] in FORMULA_LEADS else text


def _source_json(source: SourceData) -> dict[str, Any]:
    return {
        "n": source.n,
        "levels": source.levels,
        "image_shape": None if source.images is None else list(source.images.shape[1:]),
        "columns": {name: _plain(source.columns[name].tolist()) for name in source.column_names()},
        "flags": [
            {"id": idx, "label": label, "state": state, "reason": reason, "created": created, "updated": updated}
            for idx, label, state, reason, created, updated in source.flags
        ],
        "notes": [{"id": idx, "text": text, "updated": updated} for idx, (text, updated) in sorted(source.notes.items())],
        "flag_counts": source.flag_counts(),
    }


def _labels(source: SourceData) -> tuple[dict[int, str], dict[int, str]]:
    """{idx: 'bad;memorized'} of confirmed and of suggested flags."""
    found: dict[str, dict[int, list[str]]] = {"confirmed": {}, "suggested": {}}
    for idx, label, state, *_ in source.flags:
        found[state].setdefault(idx, []).append(label)
    return tuple({idx: ";".join(labels) for idx, labels in found[state].items()} for state in ("confirmed", "suggested"))


def _cell(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
