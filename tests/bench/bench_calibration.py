"""How well the calibrated suggestions work on the digits, and whether 179 held-out images are enough.

    python -m tests.bench.bench_calibration [--json OUT] [--resplits 200]

Prints one JSON document:
- ``planted``: per planted kind (tests/engine/planted.py), recall, precision and the share of the good
  samples (the 180 validation digits, real images the calibration never saw) that the label flags, with the
  label's stated false-flag rate; the thresholds come from the 179 test digits, everything is scored against
  the 1,438 training digits.
- ``reference``: the same realism test (``unrealistic`` alone at 5 %) with two references: the training split's
  manifold (1,438 images, calibrated on the test split) and the test split's (179 images, calibrated on the
  validation split): the recall each gives on the planted kinds and the threshold it sets.
- ``spread``: the share of fresh real images a threshold from n held-out ones flags varies as
  Beta(k, n + 1 − k): its 90 % range for n = 179 and n = 359 at 5 % and at 5 %/3 (each of the three 'bad'
  tests), and the measured spread over ``--resplits`` random splits of the 359 held-out digits into 179
  calibration and 180 fresh images.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from genloupe.engine.calibration import rate_spread
from genloupe.engine.session.suggestions import SuggestOptions, suggest_all, unrealistic

from tests.engine.planted import KINDS, PlantedDigits, Scored

LABEL_OF_KIND = {"near_blank": "bad", "noise": "bad", "wrong_dataset": "bad", "near_copy": "memorized"}


def planted_table(planted: PlantedDigits) -> dict:
    table = {}
    for kind in KINDS:
        scored, mask = planted.mixture(kind)
        found = {s.label: s for s in suggest_all(scored.columns, planted.calibration.columns)}[LABEL_OF_KIND[kind]]
        flagged = np.zeros(len(mask), bool)
        flagged[found.ids] = True
        hits = int((flagged & mask).sum())
        table[kind] = {"label": found.label, "recall": hits / int(mask.sum()), "precision": hits / max(1, int(flagged.sum())),
                       "false_flag_rate_on_held_out_real": float(flagged[~mask].mean()),
                       "stated_false_flag_rate": found.false_flag_rate, "n_planted": int(mask.sum()),
                       "n_good": int((~mask).sum())}
    return table


def reference_comparison(planted_by_reference: dict[str, PlantedDigits]) -> dict:
    out = {}
    for name, planted in planted_by_reference.items():
        row = {}
        for kind in ("near_blank", "noise", "wrong_dataset"):
            test = unrealistic(planted.planted[kind]["realism_train"], planted.calibration["realism_train"], 0.05)
            row[kind] = len(test.ids) / len(planted.planted[kind]["realism_train"])
        good = unrealistic(planted.good["realism_train"], planted.calibration["realism_train"], 0.05)
        row["good_flagged"] = len(good.ids) / len(planted.good["realism_train"])
        row["threshold"] = good.threshold.value
        row["manifold_images"] = len(planted.training)
        out[name] = row
    return out


def spread(planted: PlantedDigits, resplits: int) -> dict:
    pool = Scored.join(planted.calibration, planted.good)
    n = len(pool["log_px"])
    rng = np.random.default_rng(0)
    realized: dict[str, list[float]] = {"bad": [], "memorized": []}
    for _ in range(resplits):
        order = rng.permutation(n)
        calibration, fresh = pool.take(order[:179]), pool.take(order[179:])
        for found in suggest_all(fresh.columns, calibration.columns, SuggestOptions()):
            realized[found.label].append(len(found.ids) / (n - 179))
    measured = {label: {"mean": float(np.mean(v)), "p05": float(np.quantile(v, 0.05)), "p95": float(np.quantile(v, 0.95))}
                for label, v in realized.items()}
    closed = {f"n={size}, rate={rate:.4f}": rate_spread(size, rate) for size in (179, 359) for rate in (0.05, 0.05 / 3)}
    return {"measured_over_resplits": measured, "beta_90pct_range": closed, "resplits": resplits}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    parser.add_argument("--resplits", type=int, default=200)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    planted = PlantedDigits(n=60)
    small = PlantedDigits(n=60, manifold_split="test", calibration_split="val", good_split="train")
    document = {
        "planted": planted_table(planted),
        "reference": reference_comparison({"train split (1438) manifold, test calibrates": planted,
                                           "test split (179) manifold, val calibrates": small}),
        "spread": spread(planted, args.resplits),
        "seconds": time.perf_counter() - start,
    }
    text = json.dumps(document, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
