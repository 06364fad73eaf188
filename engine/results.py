"""An evaluation as the files people keep: the JSON summary, the per-sample CSV, and a session file."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from .evaluation import Evaluation
from .likelihood import likelihood_words
from .session import Session
from .versions import versions

MAX_STORED_BITS = 64_000_000  # per-pixel bits are kept in the session up to this many values (256 MB)
CSV_COLUMNS = ("log_px", "bpd", "realism", "in_manifold", "nn_id", "nn_distance", "train_nn_id", "train_nn_distance")


def summary(evaluation: Evaluation, *, model_path: str = "", model_hash: str = "") -> dict[str, Any]:
    """The ``genloupe evaluate --json`` document (keys fixed by the CLI contract)."""
    scalar_metrics: dict[str, Any] = {}
    for name, entry in evaluation.metrics.items():
        if name.startswith("mean_bpd_"):
            continue
        key = {"kid": "kid_mean", "is": "is_mean"}.get(name, name)
        scalar_metrics[key] = entry["value"]
        if "std" in entry:
            scalar_metrics[key.replace("_mean", "") + "_std"] = entry["std"]
        if entry.get("ci") is not None:
            scalar_metrics[f"{key}_ci"] = list(entry["ci"])
    return {
        "model": {**evaluation.model_info, "likelihood_note": likelihood_note(evaluation), "path": model_path,
                  "hash": model_hash},
        "scoring_model": scoring_model(evaluation),
        "warnings": list(evaluation.warnings),
        "reference": {"name": evaluation.reference_name, "checksum": evaluation.reference_checksum,
                      "n": int(len(evaluation.reference)), "levels": evaluation.levels},
        "features": evaluation.settings.features,
        "n_samples": int(len(evaluation.samples)),
        "device": evaluation.device,
        "seed": evaluation.settings.seed,
        "likelihood": {
            {"sample": "samples"}.get(source, source): {
                "mean_nats": ll.mean_nats, "mean_bpd": ll.mean_bpd, "convention": ll.convention.to_dict()
            }
            for source, ll in evaluation.likelihood.items()
        },
        "metrics": scalar_metrics,
        "metric_details": evaluation.metrics,
        "timings": evaluation.timings,
        "versions": versions(),
    }


def likelihood_note(evaluation: Evaluation) -> str:
    """The model's likelihood kind in the words of ``info`` and the report: a flow's ``likelihood`` is "exact" (its
    density) while log P(x) of the discrete image, beside it in the convention, is a dequantization bound."""
    info = evaluation.model_info
    discrete = bool(info.get("discrete"))
    return likelihood_words(discrete=discrete, kind=str(info.get("likelihood")), estimator=str(info.get("estimator", "")),
                            k_bound=info.get("bound_k"), k_dequantization=None if discrete else evaluation.settings.k_deq)


def scoring_model(evaluation: Evaluation) -> dict[str, Any] | None:
    """Which model scored the likelihood when it was not the evaluated one: name, path, content hash."""
    info = evaluation.scoring_info
    if info is None:
        return None
    extra = info.get("extra", {})
    return {"name": info["name"], "path": extra.get("source", ""), "hash": extra.get("content_hash", ""),
            "head": extra.get("head", ""), "format": extra.get("format", "")}


def provenance_comments(evaluation: Evaluation, model_path: str, model_hash: str) -> list[str]:
    """The lines a CSV of numbers starts with (as ``# ...`` comments): which models they come from."""
    lines = [f"model: {evaluation.model_info['name']} | {model_path} | {model_hash}"]
    scorer = scoring_model(evaluation)
    if scorer is not None:
        lines.append(f"likelihood scored with: {scorer['name']} | {scorer['path']} | {scorer['hash']}")
    return lines + [f"warning: {text}" for text in evaluation.warnings]


def write_csv(evaluation: Evaluation, path: str | Path, suggested: dict[int, str] | None = None,
              comments: list[str] | None = None) -> None:
    """One row per scored image (samples, reference images, further sets): id, source and its numbers.

    ``suggested`` ({sample id: 'bad;memorized'}) adds the column ``suggested`` for samples.
    ``comments`` (provenance, see :func:`provenance_comments`) come first as ``# `` lines; read the file
    with ``csv.DictReader(line for line in handle if not line.startswith("#"))``.
    """
    with open(path, "w", newline="") as handle:
        handle.writelines(f"# {' '.join(line.split())}\n" for line in comments or [])
        writer = csv.writer(handle)
        writer.writerow(("id", "source", *CSV_COLUMNS, *(("suggested",) if suggested is not None else ())))
        for source, columns in evaluation.columns.items():
            if not columns:
                continue
            n = len(next(iter(columns.values())))
            values = [columns.get(name) for name in CSV_COLUMNS]
            for i in range(n):
                extra = () if suggested is None else (suggested.get(i, "") if source == "sample" else "",)
                writer.writerow((i, source, *(_cell(v[i]) if v is not None else "" for v in values), *extra))


def write_session(evaluation: Evaluation, path: str | Path, run: dict[str, Any]) -> Session:
    """A new session file holding the evaluation: images, per-sample table, metrics, provenance."""
    session = Session.create(path, {**run, **provenance(evaluation)})
    session.write_images("sample", evaluation.samples, evaluation.levels)
    session.write_images("reference", evaluation.reference, evaluation.levels)
    for source, columns in evaluation.columns.items():
        if columns:
            session.write_columns(source, columns)
    if evaluation.real_nn_distance is not None:
        session.write_columns("reference-nn", {"nn_distance": evaluation.real_nn_distance})
    if evaluation.training_nn_distance is not None:
        session.write_images("training", evaluation.training, evaluation.levels)
        session.write_columns("training-nn", {"nn_distance": evaluation.training_nn_distance})
    bits = evaluation.likelihood.get("sample")
    if bits is not None and bits.per_dim_bits is not None and bits.per_dim_bits.size <= MAX_STORED_BITS:
        session.write_array("sample-bits", bits.per_dim_bits.astype(np.float32))
    session.write_metrics(evaluation.metrics)
    return session


def provenance(evaluation: Evaluation) -> dict[str, Any]:
    settings = evaluation.settings
    ll = evaluation.likelihood.get("sample")
    return {
        "model": evaluation.model_info,
        "scoring_model": scoring_model(evaluation),
        "warnings": list(evaluation.warnings),
        "reference": {"name": evaluation.reference_name, "checksum": evaluation.reference_checksum,
                      "n": int(len(evaluation.reference)), "levels": evaluation.levels},
        "features": settings.features,
        "seed": settings.seed,
        "n_samples": int(len(evaluation.samples)),
        "device": evaluation.device,
        "settings": {"k_deq": settings.k_deq, "k_bound": settings.k_bound, "k_pr": settings.k_pr, "k_dc": settings.k_dc,
                     "metrics": list(settings.metrics)},
        "likelihood_convention": ll.convention.to_dict() if ll else None,
        "timings": evaluation.timings,
        "versions": versions(),
    }


def _cell(value: Any) -> Any:
    if isinstance(value, (np.bool_, bool)):
        return int(value)
    if isinstance(value, np.floating):
        return repr(float(value))
    return value.item() if isinstance(value, np.generic) else value
