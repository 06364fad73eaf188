"""What adding one model to a comparison of five costs, against evaluating it alone and recomputing all six.

    python tests/bench/bench_compare.py [--json OUT] [--n 1000] [--repeats 5] [--device auto] [--cli]

A comparison of five demo models (the Gaussian, the mixture, the flow, the hybrid's VAE and GAN heads) is
built once with a warm feature cache; then, ``--repeats`` times each and alternating so both see the same
machine load:

- ``add_one``: the autoregressive demo added to a fresh copy of that comparison (its evaluation, its session
  file, its row), i.e. what File ▸ Add model to comparison or ``genloupe compare NEW --session OLD`` does;
- ``evaluate_alone``: the same model through ``engine.evaluation.evaluate`` with the same settings and no
  files written: the floor one model costs;
- ``recompute_all`` (one run per repeat): all six models evaluated from scratch, as a comparison that kept no
  member sessions would.

``--cli`` also times ``genloupe compare NEW --session COPY`` as a process (interpreter start-up included).
Medians in seconds, printed as JSON. The GPU machines run the engine part unchanged (``--device cuda``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_metrics  # noqa: E402,F401  (makes genloupe.engine importable from a bare checkout: the GPU machines)

DEMO = Path(__file__).resolve().parents[2] / "assets" / "demo"
FIVE = ("gaussian.pt", "mixture.pt", "flow.pt", "vaegan.pt#vae", "vaegan.pt#gan")
ADDED = "autoregressive.pt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--n", type=int, default=1000, help="samples per model (default 1000, the CLI's default)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cli", action="store_true", help="also time the genloupe compare process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genloupe-bench-compare-") as scratch:
        os.environ.setdefault("GENLOUPE_CACHE_DIR", os.path.join(scratch, "cache"))
        result = run(Path(scratch), args)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


def run(scratch: Path, args: argparse.Namespace) -> dict:
    import torch

    from genloupe.engine.comparison import Comparison, ComparisonSettings, MemberSpec, evaluate_member, open_reference
    from genloupe.engine.checkpoints import open_model
    from genloupe.engine.evaluation import evaluate

    demo = DEMO
    settings = ComparisonSettings(n_samples=args.n, device=args.device)
    reference, train = open_reference(settings)
    base = scratch / "five.glcompare"

    def add(comparison: Comparison, name: str) -> None:
        spec = MemberSpec(str(demo / name.partition("#")[0]) + (f"#{name.partition('#')[2]}" if "#" in name else ""))
        comparison.add_member(evaluate_member(spec, settings, reference, train, comparison.new_session_path(spec.name)))

    with Comparison.create(base, settings) as comparison:
        for name in FIVE:
            add(comparison, name)  # also warms the feature cache with the reference's features

    def add_one(k: int) -> float:
        copy = scratch / f"copy-{k}.glcompare"
        shutil.copyfile(base, copy)
        start = time.perf_counter()
        with Comparison.open(copy) as comparison:
            add(comparison, ADDED)
            assert len(comparison.members()) == 6
        return time.perf_counter() - start

    def evaluate_alone() -> float:
        start = time.perf_counter()
        further = {"train": train} if train is not None else None
        evaluate(open_model(str(demo / ADDED)), reference, settings.evaluation_settings(), further=further)
        return time.perf_counter() - start

    def recompute_all(k: int) -> float:
        start = time.perf_counter()
        with Comparison.create(scratch / f"all-{k}.glcompare", settings) as comparison:
            for name in (*FIVE, ADDED):
                add(comparison, name)
        return time.perf_counter() - start

    times: dict[str, list[float]] = {"add_one": [], "evaluate_alone": [], "recompute_all": [], "cli_add_one": []}
    for k in range(args.repeats):
        times["add_one"].append(add_one(k))
        times["evaluate_alone"].append(evaluate_alone())
        times["recompute_all"].append(recompute_all(k))
        if args.cli:
            copy = scratch / f"cli-{k}.glcompare"
            shutil.copyfile(base, copy)
            command = [sys.executable, "-m", "genloupe.app", "compare", str(demo / ADDED), "--session", str(copy),
                       "--device", args.device]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times["cli_add_one"].append(time.perf_counter() - start)
    medians = {key: statistics.median(values) for key, values in times.items() if values}
    return {
        "what": f"add {ADDED} to a comparison of five demo models ({', '.join(FIVE)}), {args.n} samples each",
        "median_s": medians,
        "runs_s": {key: values for key, values in times.items() if values},
        "add_one_over_evaluate_alone": medians["add_one"] / medians["evaluate_alone"],
        "add_one_over_recompute_all": medians["add_one"] / medians["recompute_all"],
        "device": str(torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
                                   if args.device != "auto" else "cpu")),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.platform(),
        "cli_command": "genloupe compare assets/demo/autoregressive.pt --session FIVE.glcompare" if args.cli else None,
    }


if __name__ == "__main__":
    sys.exit(main())
