"""Export a session as a report: self-contained HTML, PDF, JSON with every number, CSV per sample.

All formats render one ReportData gathered from the session (model.py). JSON and CSV need no Qt;
HTML and PDF draw their figures with the window's widgets and create an offscreen QApplication
when none is running (scripts, the CLI). Call from the GUI thread when a window is open.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
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
    data = gather_report(session)

    @functools.cache
    def figures() -> list:
        from .figures import render_figures

        return render_figures(data)

    def html(path: Path) -> Path:
        from .html import write_html

        return write_html(data, figures(), path)

    def pdf(path: Path) -> Path:
        from .pdf import write_pdf

        return write_pdf(data, figures(), path)

    return write_formats(out_dir, formats, {"html": html, "pdf": pdf, "json": lambda path: write_json(data, path),
                                            "csv": lambda path: write_csv(data, path)})


def write_formats(out_dir: str | Path, formats: str | Iterable[str], writers: dict[str, Callable[[Path], Path]]) -> list[Path]:
    """Create ``out_dir`` and call the writer of each chosen format with ``report.<format>`` there.

    One place for what every report shares: the format check, the folder, and one-line errors."""
    chosen = parse_formats(formats)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GenLoupeError(f"{out}: cannot create the report folder ({error.strerror})") from None
    try:
        return [writers[name](out / f"{BASENAME}.{name}") for name in chosen]
    except OSError as error:
        raise GenLoupeError(f"{error.filename or out}: cannot write the report ({error.strerror or error})") from None
