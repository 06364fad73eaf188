"""Render a report to pictures to look at: its PDF pages (pdftoppm) and its figures, as PNG files.

Not a test (pytest does not collect it; CI may lack poppler's pdftoppm). Run from the repository root:

    .venv/bin/python -m tests.app.render_report_pages [OUT_DIR]

It writes the realistic session of tests/app/test_report.py, exports every report format, renders
each PDF page to OUT_DIR/page-N.png and saves each figure to OUT_DIR/figure-NAME.png, then lists them.
Open the HTML in a browser too; headless Chromium can screenshot it:
``chromium --headless --screenshot=OUT_DIR/html.png --window-size=1100,4000 OUT_DIR/report/report.html``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from genloupe.app.report import export_report  # noqa: E402
from genloupe.app.report.figures import render_figures  # noqa: E402
from genloupe.app.report.model import gather_report  # noqa: E402
from genloupe.engine.session import Session  # noqa: E402
from tests.app.test_report import write_session  # noqa: E402


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with Session.open(write_session(out / "run.genloupe")) as session:
        paths = export_report(session, out / "report")
        for figure in render_figures(gather_report(session)):
            paths.append(out / f"figure-{figure.name}.png")
            paths[-1].write_bytes(figure.png)
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        print("pdftoppm not found (Debian: apt-get install poppler-utils); PDF pages not rendered", file=sys.stderr)
    else:
        subprocess.run([pdftoppm, "-r", "80", "-png", str(out / "report" / "report.pdf"), str(out / "page")], check=True)
        paths += sorted(out.glob("page-*.png"))
    print("\n".join(str(path) for path in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/genloupe-report-pages")))
