"""The report's Suggestions table: each label with how many samples it proposes and how often it flags real images.

Recomputed from the session's columns with the options the run recorded, so it agrees with the window, the
CLI and the flags written into the session.
"""

from __future__ import annotations

from genloupe.app.suggestion_view import summary_rows
from genloupe.engine.session.suggestions import options_from_record, suggest_all

from .model import ReportData


def suggestion_rows(data: ReportData) -> list[tuple[str, int, str, str]]:
    """(label, suggested, false-flag rate, tests) rows; empty when the run made no suggestions."""
    sample, reference = data.sources.get("sample"), data.sources.get("reference")
    if "suggestions" not in data.run or sample is None or reference is None:
        return []
    found = suggest_all(sample.columns, reference.columns, options_from_record(data.run["suggestions"]))
    return summary_rows(found)
