"""The window's Suggestions panel: each proposed label with how often it would flag real images, and why."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from genloupe.engine.calibration import unresolved_text
from genloupe.engine.session.suggestions import Suggestions

TEST_NAMES = {"likely_but_bad": "likely but bad", "unlikely": "unlikely", "unrealistic": "unrealistic",
              "memorized": "near a training image"}


def summary_rows(found: list[Suggestions]) -> list[tuple[str, int, str, str]]:
    """(label, count, false-flag rate, tests with thresholds) per label, as the panel and status bar word them."""
    rows = []
    for suggestion in found:
        tests = "; ".join(f"{TEST_NAMES.get(t.name, t.name)}: "
                          + (unresolved_text(t.threshold) or f"{len(t.ids)} below {t.threshold.value:.3g}")
                          + ("" if t.threshold.calibrated else " (given)") for t in suggestion.tests)
        rows.append((suggestion.label, len(suggestion.ids), f"{100 * suggestion.false_flag_rate:.1f}%", tests))
    return rows


def status_text(found: list[Suggestions]) -> str:
    if not found:
        return "no suggestions: the session has no scores of held-out real images to calibrate them on"
    parts = [f"{count} {label} (flags {rate} of real images)" for label, count, rate, _ in summary_rows(found)]
    return "suggested: " + ", ".join(parts) + " — Show ▸ suggested"


class SuggestionPanel(QLabel):
    """A small table: label, how many samples, the share of held-out real images it would flag, its tests."""

    def __init__(self) -> None:
        super().__init__("Suggest flags (Ctrl+G) to see the calibrated suggestions here.")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.setWordWrap(True)
        self.setMargin(6)

    def show_found(self, found: list[Suggestions]) -> None:
        if not found:
            self.setText(html.escape(status_text(found)))
            return
        head = "<tr><th align=left>label</th><th align=right>suggested</th><th align=right>false-flag rate</th>" \
               "<th align=left>tests (thresholds from held-out real images)</th></tr>"
        body = "".join(f"<tr><td>{html.escape(label)}</td><td align=right>{count}</td><td align=right>{rate}</td>"
                       f"<td>{html.escape(tests)}</td></tr>" for label, count, rate, tests in summary_rows(found))
        note = ("False-flag rate: the expected share of real images each label would flag, set on held-out real "
                "images scored exactly as the samples are.")
        self.setText(f"<table cellspacing=0 cellpadding=3>{head}{body}</table><p>{html.escape(note)}</p>")
