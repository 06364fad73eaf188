"""``genloupe compare MODEL... --reference SOURCE``: several models (or checkpoints) against one reference, headless.

Each model is evaluated once with the same seed, sample count and features, into its own session
file; the comparison file (``--session``) references them. Given an existing comparison, only the
new models are evaluated. A folder stands for every model file in it, in epoch order (trajectories).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from genloupe.app.commands.outputs import check_output_paths
from genloupe.app.comparison_model import format_table, gather, write_csv, write_json
from genloupe.app.progress_bar import terminal_progress
from genloupe.engine.comparison import (
    NOISE_WEIGHTS, Comparison, ComparisonSettings, MemberSpec, evaluate_member, is_comparison, open_reference,
)
from genloupe.engine.comparison.sweep import noise_sweep_specs
from genloupe.engine.comparison.trajectory import MODEL_SUFFIXES, checkpoint_files, is_checkpoint_folder
from genloupe.engine.errors import GenLoupeError
from genloupe.engine.evaluation import ALL_METRICS

def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare several models or training checkpoints: table, rankings with Kendall's tau, trajectories",
        description="Evaluate each MODEL against one reference with the same seed, sample count and features, "
        "print one row per model (bits/dim, FID, KID, precision, recall, density, coverage with intervals), "
        "the ranking by likelihood against the ranking by each quality metric with Kendall's tau, and, for "
        "checkpoints with epochs, the trajectory over training.",
    )
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="model files (PATH#head picks a head), or folders of checkpoints")
    parser.add_argument("--reference", default=None, help="reference data source (default: the embedded digits)")
    parser.add_argument("--split", default=None, choices=["train", "val", "test", "all"], help="reference split (default test)")
    parser.add_argument("--n", type=int, default=None, help="samples drawn per model (default 1000)")
    parser.add_argument("--features", default=None,
                        help="auto (follows the data; the default), digits-cnn, inception-fid, dinov2, pixels, pixels:D "
                        "or an extractor file; `genloupe features` lists them")
    parser.add_argument("--metrics", default=None, help=f"comma-separated subset of {','.join(ALL_METRICS)}")
    parser.add_argument("--seed", type=int, default=None, help="seed shared by every model (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--noise-sweep", nargs="?", const=",".join(f"{w:g}" for w in NOISE_WEIGHTS), default=None,
                        metavar="W,...", help="mix each model with uniform noise at these weights "
                        f"(default {','.join(f'{w:g}' for w in NOISE_WEIGHTS)}; 0 is the model itself)")
    parser.add_argument("--trust-code", action="store_true", help="allow Python adapter files to run")
    parser.add_argument("--json", type=Path, default=None, help="write the comparison (every number) here")
    parser.add_argument("--csv", type=Path, default=None, help="write one row per model here")
    parser.add_argument("--session", type=Path, default=None,
                        help="comparison file to write, or to add the models to when it exists; the models' session "
                        "files go beside it (without --session they are temporary)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_paths(args.json, args.csv, args.session)
    specs = member_specs(args.models, args.noise_sweep, args.trust_code)
    with tempfile.TemporaryDirectory(prefix="genloupe-compare-") as scratch:
        path = args.session or Path(scratch) / "comparison.glcompare"
        with open_comparison(path, args) as comparison:
            settings = replace(comparison.settings, device=args.device)  # the device is this run's, not the comparison's
            reference, train = open_reference(settings)
            known = {(m.address, m.noise_weight) for m in comparison.members()}
            for spec in specs:
                if (spec.address, spec.noise_weight) in known:
                    print(f"{spec.name}: already in the comparison")
                    continue
                progress = terminal_progress(f"{spec.name} ")
                member = evaluate_member(spec, settings, reference, train, comparison.new_session_path(spec.name), progress)
                comparison.add_member(member)
                known.add((spec.address, spec.noise_weight))
            data = gather(comparison)
            print(format_table(data))
            if args.json:
                write_json(data, args.json)
            if args.csv:
                write_csv(data, args.csv)
    return 0


def open_comparison(path: Path, args: argparse.Namespace) -> Comparison:
    """The comparison at ``path`` (its own settings win; a conflicting option is an error), or a new one."""
    asked = {"reference": args.reference, "split": args.split, "n_samples": args.n, "features": args.features,
             "seed": args.seed, "metrics": _metrics(args.metrics)}
    asked = {key: value for key, value in asked.items() if value is not None}
    if path.exists():
        if not is_comparison(path):
            raise GenLoupeError(f"{path}: exists and is not a GenLoupe comparison file; choose another --session")
        comparison = Comparison.open(path)
        stored = comparison.settings.to_dict()
        differ = [key for key, value in asked.items() if (list(value) if key == "metrics" else value) != stored[key]]
        if differ:
            comparison.close()
            raise GenLoupeError(f"{path} compares models with {', '.join(f'{k}={stored[k]}' for k in differ)}; "
                                "every member shares them (leave the options out, or start another comparison)")
        return comparison
    if asked.get("n_samples", 2) < 2:
        raise GenLoupeError("--n must be at least 2")
    return Comparison.create(path, ComparisonSettings(**asked, device=args.device))


def member_specs(models: list[str], sweep: str | None, trust_code: bool) -> list[MemberSpec]:
    """One spec per model file (folders expanded in epoch order), times the noise weights of a sweep."""
    addresses = []
    for model in models:
        if is_checkpoint_folder(model):
            addresses += [str(path) for path in checkpoint_files(model)]
        elif Path(model).is_dir() and not (Path(model) / "meta.json").exists():
            raise GenLoupeError(f"{model}: no model files ({', '.join(MODEL_SUFFIXES)}) in this folder")
        else:
            addresses.append(model)
    if sweep is None:
        return [MemberSpec(address, 0.0, trust_code) for address in addresses]
    weights = parse_weights(sweep)
    return [spec for address in addresses for spec in noise_sweep_specs(address, weights, trust_code)]


def parse_weights(text: str) -> list[float]:
    try:
        weights = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise GenLoupeError(f"--noise-sweep takes comma-separated weights such as 0,0.5,0.9,0.99, got {text!r}") from None
    bad = [w for w in weights if not 0.0 <= w < 1.0]
    if bad or not weights:
        raise GenLoupeError(f"noise weights must lie in [0, 1), got {text!r}")
    return weights


def _metrics(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    metrics = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(metrics) - set(ALL_METRICS))
    if unknown or not metrics:
        raise GenLoupeError(f"unknown metrics {', '.join(unknown) or '(none)'}; choose from {', '.join(ALL_METRICS)}")
    return metrics
