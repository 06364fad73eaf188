"""Export a session as a report: self-contained HTML, PDF, JSON with every number, CSV per sample.

All formats render one ReportData gathered from the session (model.py). JSON and CSV need no Qt;
HTML and PDF draw their figures with the window's widgets and create an offscreen QApplication
when none is running (scripts, the CLI). Call from the GUI thread when a window is open.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from genloupe.engine.errors import GenLoupeError
from genloupe.engine.session import Session

from .model import ReportData, gather_report
from .tables import write_csv, write_json

FORMATS = ("html", "pdf", "json", "csv")
BASENAME = "report"

__all__ = ["BASENAME", "FORMATS", "ReportData", "export_report", "gather_report", "parse_formats"]


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """'html,pdf' or ('html', 'pdf') -> ('html', 'pdf'), in FORMATS order; an unknown name is a GenLoupeError."""
    names = [part.strip().lower() for part in (formats.split(",") if isinstance(formats, str) else formats)]
    names = [name for name in names if name]
    unknown = sorted(set(names) - set(FORMATS))
    if unknown or not names:
        raise GenLoupeError(f"unknown report format {', '.join(unknown) or '(none given)'}; choose from {', '.join(FORMATS)}")
    return tuple(name for name in FORMATS if name in names)


def export_report(session: Session, out_dir: str | Path, formats: str | Iterable[str] = FORMATS) -> list[Path]:
    """Write ``report.<format>`` for each format into ``out_dir`` (created if missing); return the paths written."""
    formats = parse_formats(formats)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GenLoupeError(f"{out}: cannot create the report folder ({error.strerror})") from None
    data = gather_report(session)
    paths = []
    try:
        if "html" in formats or "pdf" in formats:
            from .figures import render_figures
            from .html import write_html
            from .pdf import write_pdf

            figures = render_figures(data)
            if "html" in formats:
                paths.append(write_html(data, figures, out / f"{BASENAME}.html"))
            if "pdf" in formats:
                paths.append(write_pdf(data, figures, out / f"{BASENAME}.pdf"))
        if "json" in formats:
            paths.append(write_json(data, out / f"{BASENAME}.json"))
        if "csv" in formats:
            paths.append(write_csv(data, out / f"{BASENAME}.csv"))
    except OSError as error:
        raise GenLoupeError(f"{error.filename or out}: cannot write the report ({error.strerror or error})") from None
    return paths
