"""``genloupe report SESSION --out DIR [--format html,pdf,json,csv]``: export a session as a report, headless."""

from __future__ import annotations

import argparse

from genloupe.app.report import FORMATS, export_report, parse_formats
from genloupe.engine.comparison import Comparison, is_comparison
from genloupe.engine.session import Session


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="export a session as a report: self-contained HTML, PDF, JSON with every number, CSV per sample",
        description="Write report.<format> files for a session: provenance, metrics with their conventions, "
        "likelihood histograms, the manifold view, likelihood against quality, and the flagged samples "
        "with their notes. The session file is only read.",
    )
    parser.add_argument("session", help="a GenLoupe session file, or a comparison file (genloupe compare --session)")
    parser.add_argument("--out", required=True, help="folder to write the report files into (created if missing)")
    parser.add_argument(
        "--format",
        default=",".join(FORMATS),
        help=f"comma-separated formats out of {', '.join(FORMATS)} (default: all)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    formats = parse_formats(args.format)  # before opening anything: a typo costs nothing
    if is_comparison(args.session):  # a comparison: table, plots, rankings with tau, trajectories
        from genloupe.app.report.comparison import export_comparison_report

        with Comparison.open(args.session, read_only=True) as comparison:
            paths = export_comparison_report(comparison, args.out, formats)
        for path in paths:
            print(path)
        return 0
    with Session.open(args.session, read_only=True) as session:
        paths = export_report(session, args.out, formats)
    for path in paths:
        print(path)
    return 0
