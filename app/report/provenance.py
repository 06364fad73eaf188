"""The run's provenance written for people: sentences and units, no raw dictionaries or keys."""

from __future__ import annotations

from typing import Any, Callable

from genloupe.engine.likelihood import likelihood_words

TIMING_NAMES = {"sampling": "sampling", "likelihood": "likelihood", "features": "features", "metrics": "metrics",
                "calibration": "calibration on held-out images"}


def seconds(value: float) -> str:
    if value < 1:
        return f"{1000 * value:.0f} ms"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def model_text(model: dict[str, Any]) -> str:
    shape = "×".join(str(v) for v in model.get("data_shape", []))
    parts = [str(model.get("name", "?")) + (f" (family {model['family']})" if model.get("family") else "")]
    if shape:
        parts.append(f"images {shape} (C×H×W) on {model.get('levels', '?')} levels")
    if "likelihood" in model:
        parts.append("likelihood: " + likelihood_words(discrete=bool(model.get("discrete")), kind=model["likelihood"],
                                                       estimator=str(model.get("estimator", "")),
                                                       k_bound=model.get("bound_k")))
    parameters = (model.get("extra") or {}).get("parameters")
    if parameters:
        parts.append(f"{parameters:,} parameters")
    return "; ".join(parts)


def reference_text(reference: dict[str, Any]) -> str:
    checksum = str(reference.get("checksum", ""))
    return (f"{reference.get('name', '?')}: {reference.get('n', '?'):,} images on {reference.get('levels', '?')} levels"
            + (f" (content checksum {checksum[:12]}…)" if checksum else ""))


def settings_text(settings: dict[str, Any]) -> str:
    parts = []
    if settings.get("k_deq"):
        parts.append(f"{settings['k_deq']} dequantization draws per image")
    if settings.get("k_bound"):
        parts.append(f"bound over K={settings['k_bound']}")
    if settings.get("k_pr"):
        parts.append(f"k={settings['k_pr']} neighbours for precision/recall")
    if settings.get("k_dc"):
        parts.append(f"k={settings['k_dc']} for density/coverage")
    if settings.get("metrics"):
        parts.append("metrics " + ", ".join(settings["metrics"]))
    return "; ".join(parts)


def timings_text(timings: dict[str, float]) -> str:
    return ", ".join(f"{TIMING_NAMES.get(stage, stage)} {seconds(float(value))}" for stage, value in timings.items())


def suggestions_text(record: dict[str, Any]) -> str:
    rate = float(record.get("false_flag_rate", 0.05))
    text = (f"each label flags at most {100 * rate:g}% of held-out real images; 'likely' is log P(x) at or above "
            f"the {100 * float(record.get('likely_quantile', 0.5)):g}th percentile of held-out real images")
    given = record.get("thresholds") or {}
    return text + ("; thresholds given: " + ", ".join(f"{k} {v:g}" for k, v in given.items()) if given else "")


def versions_text(versions: dict[str, Any]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())


WRITERS: dict[str, Callable[[Any], str]] = {
    "model": model_text, "reference": reference_text, "settings": settings_text, "timings": timings_text,
    "suggestions": suggestions_text, "versions": versions_text,
}
