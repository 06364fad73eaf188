"""``genloupe evaluate MODEL --reference SOURCE``: samples, likelihoods, features and metrics, headless."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genloupe.app.commands import suggest as suggest_command
from genloupe.app.commands.outputs import check_output_paths
from genloupe.app.commands.splits import add_train_indices, declared_split, split_provenance
from genloupe.app.summary_text import print_summary
from genloupe.app.progress_bar import terminal_progress
from genloupe.engine.checkpoints import content_hash, open_model
from genloupe.engine.data import open_data
from genloupe.engine.errors import GenLoupeError
from genloupe.engine.compatibility import features_note, resolve_features
from genloupe.engine.features.registry import is_user_file
from genloupe.engine.evaluation import ALL_METRICS, EvaluationSettings, evaluate
from genloupe.engine.models.base import supports_per_dim
from genloupe.engine.per_pixel import write_per_pixel
from genloupe.engine.results import provenance_comments, summary, write_csv, write_session
from genloupe.engine.session.suggestions import suggest_all, suggested_labels


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
    parser.add_argument("--suggest", action="store_true",
                        help="calibrated suggestions into the session, the JSON ('suggestions') and the CSV ('suggested'); "
                        "scores against the train split unless --training-split names another")
    suggest_command.add_options(parser)
    parser.add_argument("--per-pixel", type=Path, default=None, metavar="OUT",
                        help="write per-pixel bits of samples and held-out images to this .npz")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_paths(args.json, args.csv, args.session, args.per_pixel)
    suggest_options = suggest_command.options_from(args) if args.suggest else None
    if args.suggest and args.split in ("train", "all"):
        raise GenLoupeError(f"--suggest calibrates on held-out images: use --split test or val, not {args.split}")
    metrics = tuple(name.strip() for name in args.metrics.split(",") if name.strip())
    if args.n < 2:
        raise GenLoupeError("--n must be at least 2")
    model = open_model(args.model, trust_code=args.trust_code)
    scorer = open_model(args.score_with, trust_code=args.trust_code) if args.score_with else None
    if args.per_pixel and not supports_per_dim(scorer or model):
        raise GenLoupeError(f"--per-pixel: {(scorer or model).info.name} gives no per-pixel bits")
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
        device=args.device, seed=args.seed, k_deq=args.k_deq, per_pixel_reference=args.per_pixel is not None,
    )
    training_split = args.training_split or ("train" if args.suggest and args.split in ("val", "test") else None)
    training = data.split(training_split, declared=splits).images if training_split else None
    result = evaluate(model, reference, settings, scoring_model=scorer, further=further, training=training,
                      progress=terminal_progress())
    model_hash = content_hash(args.model.partition("#")[0])  # PATH#head: the file is what is hashed
    document = {**summary(result, model_path=args.model, model_hash=model_hash),
                "training_split": split_provenance(declared)}
    found = suggest_all(result.columns["sample"], result.columns["reference"], suggest_options) if args.suggest else None
    if found is not None:
        document["suggestions"] = suggest_command.document(found)
    _print_summary(document, scorer.info.name if scorer is not None else None)
    if found is not None:
        suggest_command.print_found(found)
    if args.json:
        args.json.write_text(json.dumps(document, indent=1, default=float))
    if args.csv:
        write_csv(result, args.csv, suggested_labels(found) if found is not None else None,
                  comments=provenance_comments(result, args.model, model_hash))
    if args.session:
        session = write_session(result, args.session, {"checkpoint": str(Path(args.model).resolve()), "checkpoint_hash": model_hash,
                                                       "training_split": split_provenance(declared),
                                                       **({"scored_with": args.score_with} if scorer else {})})
        if found is not None:
            suggest_command.write_into(session, found, suggest_options)
        session.close()
    if args.per_pixel:
        write_per_pixel(result, args.per_pixel)
    return 0


def _print_summary(document: dict, scored_with: str | None = None) -> None:
    print_summary(document, scored_with=scored_with)  # rounded, each value with its uncertainty and convention (app/summary_text.py)
    for text in document["warnings"]:
        print(f"genloupe evaluate: warning: {text}", file=sys.stderr)
