"""Report time against the number of flags: linear now, quadratic before (each card scanned every flag row).

    python tests/bench/bench_report_flags.py [--json OUT] [--repeats 3] [--sizes 6000,12000,24000,60000]

For each size, a session of that many samples each carrying a confirmed flag (and a note on every tenth)
is written, then ``gather_report`` runs on it (what every format starts from), alternating with the
reference: the same call with cards built the old way, each scanning every flag row. Medians over
``--repeats``; the reference is skipped above 24 000 flags (it takes minutes there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from genloupe.app.report import model as report_model
from genloupe.engine.session import Session
from genloupe.engine.session.flags import labels_by_sample

REFERENCE_LIMIT = 24000


def write_session(path: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    with Session.create(path, {"checkpoint": "m.pt", "model": {"name": "bench"}}) as session:
        session.write_columns("sample", {"log_px": -rng.random(n) * 100, "bpd": rng.random(n) * 4})
        session.write_images("sample", rng.integers(0, 17, (n, 1, 8, 8)), 17)
        session.replace_flags("sample", range(n), [(i, "bad", "confirmed", "", 0.0, 0.0) for i in range(n)])
        for idx in range(0, n, 10):
            session.set_note("sample", idx, "looks off")
    return path


def reference_card(source, idx, ranks):
    """The card as built before: every flag row scanned for each card."""
    rows = [row for row in source.flags if row[0] == idx]
    rank = None if ranks is None or ranks[0][idx] == 0 else (int(ranks[0][idx]), ranks[1])
    return report_model.SampleCard(
        source=source.name, idx=int(idx),
        numbers={name: source.columns[name][idx].item() for name in source.column_names()},
        labels=labels_by_sample(rows).get(idx, {}), reasons=tuple(row[3] for row in rows if row[3]),
        note=source.notes.get(idx, ("", 0.0))[0], likelihood_rank=rank)


def timed(path: Path, reference: bool) -> float:
    ours = report_model._card
    report_model._card = reference_card if reference else ours
    try:
        with Session.open(path, read_only=True) as session:
            started = time.perf_counter()
            report_model.gather_report(session)
            return time.perf_counter() - started
    finally:
        report_model._card = ours


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="6000,12000,24000,60000")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in (int(s) for s in args.sizes.split(",")):
            path = write_session(Path(folder) / f"{n}.glup", n)
            ours, reference = [], []
            for _ in range(args.repeats):
                ours.append(timed(path, reference=False))
                if n <= REFERENCE_LIMIT:
                    reference.append(timed(path, reference=True))
            rows.append({"flags": n, "ours_s": statistics.median(ours),
                         "reference_s": statistics.median(reference) if reference else None})
    text = json.dumps({"benchmark": "report time against flags", "repeats": args.repeats, "rows": rows}, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
