"""Session metrics as display rows (name, value, interval, n, convention), for the panel and reports."""

from __future__ import annotations

from typing import Any

# metric key -> (display name, which direction is better)
DISPLAY = {
    "mean_bpd_sample": ("bits/dim, samples", "lower"),
    "mean_bpd_reference": ("bits/dim, held-out real", "lower"),
    "mean_bpd_train": ("bits/dim, train split", None),
    "fid": ("FID", "lower"),
    "kid": ("KID (MMD², unscaled)", "lower"),
    "is": ("IS", "higher"),
    "precision": ("precision", "higher"),
    "recall": ("recall", "higher"),
    "density": ("density", "higher"),
    "coverage": ("coverage", "higher"),
    "spearman_bpd_realism": ("Spearman ρ(bits/dim, realism)", None),
}



def metric_rows(metrics: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per known metric present, in a fixed reading order."""
    rows = []
    for key, (name, better) in DISPLAY.items():
        entry = metrics.get(key)
        if entry is None:
            continue
        interval = entry.get("ci")
        if interval is None and entry.get("std") is not None:
            interval = (entry["value"] - entry["std"], entry["value"] + entry["std"])
        rows.append({
            "name": name,
            "value": entry.get("value"),
            "interval": tuple(interval) if interval is not None else None,
            "n": _sample_size(entry),
            "convention": _convention(entry),
            "better": better,
            "note": entry.get("method", "") or ("± one standard deviation over subsets" if entry.get("std") is not None else ""),
        })
    return rows


def _sample_size(entry: dict[str, Any]) -> str:
    if "n_fake" in entry and "n_real" in entry:
        return f"{entry['n_fake']} vs {entry['n_real']}"
    return str(entry.get("n", entry.get("n_fake", "")))


def _convention(entry: dict[str, Any]) -> str:
    text = str(entry.get("convention", ""))
    if "k" in entry:
        text += f", k={entry['k']}"
    return text
