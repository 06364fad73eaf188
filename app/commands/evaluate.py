"""``genloupe evaluate MODEL --reference SOURCE``: samples, likelihoods, features and metrics, headless."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genloupe.app.commands.outputs import check_output_paths
from genloupe.app.commands.splits import add_train_indices, declared_split, split_provenance
from genloupe.app.progress_bar import terminal_progress
from genloupe.engine.checkpoints import content_hash, open_model
from genloupe.engine.data import open_data
from genloupe.engine.errors import GenLoupeError
from genloupe.engine.compatibility import features_note, resolve_features
from genloupe.engine.features.registry import is_user_file
from genloupe.engine.evaluation import ALL_METRICS, EvaluationSettings, evaluate
from genloupe.engine.results import provenance_comments, summary, write_csv, write_session


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="sample a model and compute likelihoods and sample-quality metrics")
    parser.add_argument("model", help="model file (any supported format; PATH#head picks a head)")
    parser.add_argument("--reference", default="digits", help="reference data source (default: the embedded digits)")
    parser.add_argument("--levels", type=int, default=None, help="levels L of the reference data (default: inferred)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                        help="reference split (held-out test split by default)")
    parser.add_argument("--also-split", action="append", default=[], choices=["train", "val", "test", "all"],
                        help="also score this split of the reference source (repeatable): e.g. train, to see overfitting")
    parser.add_argument("--training-split", default=None, choices=["train", "val", "test", "all"],
                        help="split of the reference source the model was trained on: each sample's nearest "
                        "training image is found (memorization)")
    add_train_indices(parser)
    parser.add_argument("--n", type=int, default=1000, help="number of samples to draw")
    parser.add_argument("--features", default="auto",
                        help="auto (follows the data), digits-cnn, inception-fid, dinov2, pixels, pixels:D, or an "
                        "extractor file (.pt, .pt2); `genloupe features` lists them")
    parser.add_argument("--inception-weights", default=None, help="weights file of inception-fid")
    parser.add_argument("--dinov2-weights", default=None, help="weights file of dinov2 (dinov2_vitl14_pretrain.pth)")
    parser.add_argument("--metrics", default=",".join(ALL_METRICS), help=f"comma-separated subset of {','.join(ALL_METRICS)}")
    parser.add_argument("--score-with", default=None, help="model that scores the likelihood (e.g. CKPT#vae for a GAN head)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k-deq", type=int, default=8)
    parser.add_argument("--trust-code", action="store_true", help="allow Python adapter files to run")
    parser.add_argument("--json", type=Path, default=None, help="write the summary here")
    parser.add_argument("--csv", type=Path, default=None, help="write one row per sample here")
    parser.add_argument("--session", type=Path, default=None, help="write a session file (for the window and reports)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_paths(args.json, args.csv, args.session)
    metrics = tuple(name.strip() for name in args.metrics.split(",") if name.strip())
    if args.n < 2:
        raise GenLoupeError("--n must be at least 2")
    model = open_model(args.model, trust_code=args.trust_code)
    scorer = open_model(args.score_with, trust_code=args.trust_code) if args.score_with else None
    data = open_data(args.reference, levels=args.levels)
    declared = declared_split(args, data)
    splits = declared.indices if declared else None
    reference = data.split(args.split, declared=splits)
    further = {split: data.split(split, declared=splits).images for split in args.also_split}
    features = resolve_features(args.features, reference.shape, args.inception_weights)
    options = {"weights": {"inception-fid": args.inception_weights, "dinov2": args.dinov2_weights}.get(features)}
    if is_user_file(features):  # a user's extractor file: TorchScript needs the same trust
        options = {"trust_code": args.trust_code}
    if features_note(features):
        print(f"note: {features} features: {features_note(features)}", file=sys.stderr)
    settings = EvaluationSettings(
        n_samples=args.n, metrics=metrics, features=features, feature_options=options,
        device=args.device, seed=args.seed, k_deq=args.k_deq,
    )
    training = data.split(args.training_split, declared=splits).images if args.training_split else None
    result = evaluate(model, reference, settings, scoring_model=scorer, further=further, training=training,
                      progress=terminal_progress())
    model_hash = content_hash(args.model)
    document = {**summary(result, model_path=args.model, model_hash=model_hash),
                "training_split": split_provenance(declared)}
    _print_summary(document)
    if args.json:
        args.json.write_text(json.dumps(document, indent=1, default=float))
    if args.csv:
        write_csv(result, args.csv, provenance_comments(result, args.model, model_hash))
    if args.session:
        write_session(result, args.session, {"checkpoint": str(Path(args.model).resolve()), "checkpoint_hash": model_hash,
                                             "training_split": split_provenance(declared)}).close()
    return 0


def _print_summary(document: dict) -> None:
    out = sys.stdout
    print(f"{document['model']['name']}: {document['n_samples']} samples vs {document['reference']['name']} "
          f"(n={document['reference']['n']}), {document['features']} features, device {document['device']}", file=out)
    for source, entry in document["likelihood"].items():
        print(f"  {source:>9}: {entry['mean_bpd']:.4f} bits/dim  [{entry['convention']['description']}]", file=out)
    for name, value in document["metrics"].items():
        print(f"  {name:>12}: {value}", file=out)
    for text in document["warnings"]:
        print(f"genloupe evaluate: warning: {text}", file=sys.stderr)
