"""``genloupe suggest SESSION``: calibrated suggestions for a saved session, written into it and exported.

The same rules as the window's Suggest flags and ``genloupe evaluate --suggest``: every threshold comes from
the session's held-out real images, scored exactly as its samples, so each label states the share of real
images it would flag.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from genloupe.app.commands.outputs import check_output_paths
from genloupe.engine.calibration import DEFAULT_FALSE_FLAG_RATE, unresolved_text
from genloupe.engine.errors import GenLoupeError
from genloupe.engine.session import FlagEditor, Session
from genloupe.engine.session.suggestions import (
    LIKELY_QUANTILE,
    SuggestOptions,
    Suggestions,
    options_record,
    suggest_all,
    suggested_labels,
    write_suggestions,
)

TESTS = ("likely_but_bad", "unlikely", "unrealistic", "memorized")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "suggest",
        help="calibrated suggestions (likely but bad, memorized) for a saved session, written into it",
        description="Flag samples for review with thresholds set on the session's held-out real images: each label "
        "states the share of real images it would flag. The flags are 'suggested', never 'confirmed'.",
    )
    parser.add_argument("session", type=Path, help="a GenLoupe session file (written to: the suggestions are added)")
    add_options(parser)
    parser.add_argument("--json", type=Path, default=None, help="write the suggestions here (key 'suggestions')")
    parser.add_argument("--csv", type=Path, default=None, help="write one row per sample with its suggested labels")
    parser.set_defaults(run=run)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The calibration options, shared with ``genloupe evaluate --suggest``."""
    parser.add_argument("--false-flag-rate", type=float, default=DEFAULT_FALSE_FLAG_RATE,
                        help="share of held-out real images each label may flag (default 0.05)")
    parser.add_argument("--likely-quantile", type=float, default=LIKELY_QUANTILE,
                        help="'likely' means log P(x) at or above this quantile of held-out real images (default 0.5)")
    parser.add_argument("--threshold", action="append", default=[], metavar="TEST=VALUE",
                        help=f"set a test's threshold outright instead of calibrating it (tests: {', '.join(TESTS)}); "
                        "its false-flag rate is then measured on held-out real images")


def options_from(args: argparse.Namespace) -> SuggestOptions:
    thresholds = {}
    for item in args.threshold:
        name, _, value = item.partition("=")
        if name not in TESTS:
            raise GenLoupeError(f"--threshold {item!r}: unknown test {name!r}; tests are {', '.join(TESTS)}")
        try:
            thresholds[name] = float(value)
        except ValueError:
            raise GenLoupeError(f"--threshold {item!r}: {value!r} is not a number") from None
    if not 0.0 < args.likely_quantile < 1.0:
        raise GenLoupeError(f"--likely-quantile must lie strictly between 0 and 1, got {args.likely_quantile:g}")
    if not 0.0 < args.false_flag_rate < 1.0:
        raise GenLoupeError(f"--false-flag-rate must lie strictly between 0 and 1, got {args.false_flag_rate:g}")
    return SuggestOptions(args.false_flag_rate, args.likely_quantile, thresholds)


def document(found: list[Suggestions]) -> dict[str, Any]:
    """The JSON key ``suggestions``: per label its ids, thresholds and false-flag rate."""
    return {suggestion.label: suggestion.to_dict() for suggestion in found}


def print_found(found: list[Suggestions]) -> None:
    if not found:
        print("no suggestions: no held-out real images were scored like the samples (evaluate with a training split)")
    for suggestion in found:
        tests = ", ".join(f"{t.name} " + (unresolved_text(t.threshold) or f"{len(t.ids)} (< {t.threshold.value:.3g})")
                          for t in suggestion.tests)
        print(f"  suggested {suggestion.label:>9}: {len(suggestion.ids):>5} samples, flags "
              f"{100 * suggestion.false_flag_rate:.1f}% of real images  [{tests}]")


def write_into(session: Session, found: list[Suggestions], options: SuggestOptions) -> None:
    write_suggestions(FlagEditor(session), found)
    session.update_run(suggestions=options_record(options))


def run(args: argparse.Namespace) -> int:
    check_output_paths(args.json, args.csv)
    options = options_from(args)
    with Session.open(args.session) as session:
        sample, real = session.read_columns("sample"), session.read_columns("reference")
        found = suggest_all(sample, real, options)
        write_into(session, found, options)
    print_found(found)
    if args.json:
        args.json.write_text(json.dumps({"suggestions": document(found)}, indent=1, default=float))
    if args.csv:
        labels = suggested_labels(found)
        reasons = {idx: reason for s in found for idx, reason in zip(s.ids.tolist(), s.reasons)}
        n = len(next(iter(sample.values()))) if sample else 0
        with open(args.csv, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("id", "source", "suggested", "reason"))
            writer.writerows((i, "sample", labels.get(i, ""), reasons.get(i, "")) for i in range(n))
    return 0
