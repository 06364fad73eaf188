"""A comparison as plain data (Qt-free): the table, the rankings with τ, the trajectory, the noise sweep.

The CLI's printed table, the window's comparison view and the report all render one ComparisonData,
so they cannot disagree.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genloupe.app.metric_rows import DISPLAY
from genloupe.engine.comparison import (
    Comparison, ComparisonSettings, Member, Ranking, Trajectory, likelihood_bound, rank_members, trajectory,
)
from genloupe.engine.comparison.rankings import BETTER, QUALITY_METRICS

# Table columns: metric key -> header. Held-out bits/dim first: the likelihood everyone ranks by.
COLUMNS = {"bpd": "bits/dim", "fid": "FID", "kid": "KID", "precision": "precision", "recall": "recall",
           "density": "density", "coverage": "coverage"}
TRAJECTORY_METRICS = ("bpd", "train_bpd", *QUALITY_METRICS)
LN2 = math.log(2.0)
FORMAT = "genloupe-comparison"
VERSION = 1


@dataclass(frozen=True)
class Cell:
    value: float | None
    interval: tuple[float, float] | None
    sizes: str  # '100 samples vs 179 real' / '179 images'
    method: str


@dataclass(frozen=True)
class SweepRow:
    """One noise-mixture member against the clean model: the held-out likelihood it lost, and the bound."""

    member: int
    noise_weight: float
    lost_nats: float  # mean over held-out images of log p(x) − log q(x)
    bound_nats: float  # −ln(1 − w)
    precision: float | None


@dataclass
class ComparisonData:
    path: str
    settings: ComparisonSettings
    reference: dict[str, Any] | None
    members: list[Member]
    rankings: dict[str, Ranking]
    trajectory: Trajectory | None
    sweep: list[SweepRow]

    def names(self, positions: tuple[int, ...] | list[int]) -> list[str]:
        return [self.members[k].name for k in positions]

    def cell(self, member: Member, key: str) -> Cell:
        entry = member.metrics.get(key) or {}
        interval, method = entry.get("ci"), entry.get("method", "")
        if interval is None and entry.get("std") is not None:
            interval, method = (entry["value"] - entry["std"], entry["value"] + entry["std"]), "± one standard deviation over subsets"
        if "n_fake" in entry:
            sizes = f"{entry['n_fake']} samples vs {entry.get('n_real', '?')} real"
        else:
            sizes = f"{entry['n']} images" if "n" in entry else ""
        return Cell(entry.get("value"), tuple(interval) if interval else None, sizes, method)

    def columns(self) -> list[str]:
        """Table columns some member has a value for, in COLUMNS order."""
        return [key for key in COLUMNS if any(member.value(key) is not None for member in self.members)]

    def likelihood_kind(self, member: Member) -> str:
        """What kind of number a member's bits/dim is, in a few words ('exact', 'IWAE-64 bound', ...)."""
        short = (member.metrics.get("bpd") or {}).get("short", "")
        return short.rsplit(" · ", 1)[-1]

    def conventions(self) -> list[str]:
        """The distinct likelihood conventions of the members' bits/dim (one line each)."""
        found = []
        for member in self.members:
            text = (member.metrics.get("bpd") or {}).get("convention")
            if text and text not in found:
                found.append(text)
        return found

    def feature_convention(self) -> str:
        for member in self.members:
            for key in QUALITY_METRICS:
                if (member.metrics.get(key) or {}).get("convention"):
                    return member.metrics[key]["convention"]
        return ""


def gather(comparison: Comparison) -> ComparisonData:
    members = comparison.members()
    return ComparisonData(
        path=str(comparison.path), settings=comparison.settings, reference=comparison.reference, members=members,
        rankings=rank_members(members), trajectory=trajectory(members, TRAJECTORY_METRICS), sweep=sweep_rows(members),
    )


def sweep_rows(members: list[Member]) -> list[SweepRow]:
    """Each noise mixture whose clean model is in the comparison: held-out nats lost, against −ln(1 − w)."""
    clean = {m.address: m for m in members if m.noise_weight == 0 and m.value("bpd") is not None}
    rows = []
    for k, member in enumerate(members):
        base = clean.get(member.address)
        if member.noise_weight and base is not None and member.value("bpd") is not None:
            dims = int(np.prod(member.summary["model"]["data_shape"]))
            lost = (member.value("bpd") - base.value("bpd")) * dims * LN2
            rows.append(SweepRow(k, member.noise_weight, lost, likelihood_bound(member.noise_weight), member.value("precision")))
    return rows


# -- text (the CLI) --------------------------------------------------------------------------------------------


def format_value(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    magnitude = abs(value)
    return f"{value:.1f}" if magnitude >= 100 else f"{value:.2f}" if magnitude >= 10 else f"{value:.3f}"


def format_cell(cell: Cell) -> str:
    text = format_value(cell.value)
    if cell.interval is not None and cell.value is not None:
        text += f" [{format_value(cell.interval[0])}, {format_value(cell.interval[1])}]"
    return text


def format_table(data: ComparisonData) -> str:
    """The comparison as the CLI prints it: the table, sizes and conventions, rankings with τ, sweep, trajectory."""
    width = max([len("model")] + [len(m.name) for m in data.members]) + 2
    keys = data.columns()
    cells = [[format_cell(data.cell(m, key)) for key in keys] for m in data.members]
    arrows = {"lower": "↓", "higher": "↑"}
    headers = [f"{COLUMNS[key]} {arrows[BETTER[key]]}" for key in keys]
    widths = [max(len(header), *(len(row[i]) for row in cells)) + 2 for i, header in enumerate(headers)]
    kinds = [data.likelihood_kind(m) for m in data.members]
    lines = ["model".ljust(width) + "epoch  " + "".join(h.ljust(w) for h, w in zip(headers, widths)) + "bits/dim is"]
    for member, row, kind in zip(data.members, cells, kinds):
        epoch = "" if member.epoch is None else str(member.epoch)
        lines.append((member.name.ljust(width) + epoch.ljust(7) + "".join(c.ljust(w) for c, w in zip(row, widths))
                      + kind).rstrip())
    if data.members:
        first = data.members[0]
        lines.append(f"[95% intervals] bits/dim over {data.cell(first, 'bpd').sizes} (held-out {data.settings.split} "
                     f"split of {data.settings.reference}); quality metrics over {data.cell(first, 'precision').sizes or '—'}")
    lines += [f"bits/dim: {text}" for text in data.conventions()]
    if data.feature_convention():
        lines.append(f"quality: {data.feature_convention()}")
    for metric, ranking in data.rankings.items():
        if metric not in COLUMNS:
            continue
        lines.append("")
        lines.append(f"ranking by held-out bits/dim vs by {COLUMNS[metric]}: Kendall's tau = {format_value(ranking.tau)}")
        by_ll, by_q = data.names(ranking.by_likelihood), data.names(ranking.by_quality)
        for place, (a, b) in enumerate(zip(by_ll, by_q), start=1):
            lines.append(f"  {place}. {a.ljust(width)}{place}. {b}")
        pairs = len(ranking.members) * (len(ranking.members) - 1) // 2
        shown = ", ".join(f"{data.members[i].name} > {data.members[j].name}" for i, j in ranking.discordant)
        lines.append(f"  discordant pairs ({len(ranking.discordant)} of {pairs}; likelihood's preference first): {shown or 'none'}")
    if data.sweep:
        lines += ["", "noise mixture: held-out log-likelihood lost (nats/image) within the bound -ln(1-w), precision"]
        for row in data.sweep:
            lines.append(f"  w={row.noise_weight:<5g} lost {row.lost_nats:7.3f}  bound {row.bound_nats:7.3f}  "
                         f"precision {format_value(row.precision)}")
    if data.trajectory is not None:
        lines += ["", *format_trajectory(data)]
    return "\n".join(lines)


def format_trajectory(data: ComparisonData) -> list[str]:
    path = data.trajectory
    keys = [key for key in TRAJECTORY_METRICS if key in path.values]
    lines = [f"trajectory over {path.unit}: " + "  ".join(keys)]
    for row, epoch in enumerate(path.epochs):
        lines.append(f"  {epoch:>6}  " + "  ".join(format_value(path.values[key][row]).rjust(max(len(key), 7)) for key in keys))
    for metric in ("precision", "fid"):
        epochs = path.parting(metric, QUALITY_METRICS[metric])
        if epochs:
            lines.append(f"  held-out bits/dim and {COLUMNS[metric]} move apart (one improves, the other worsens) "
                         f"at {path.unit} {', '.join(map(str, epochs))}")
    opens = path.gap_opens()
    if opens is not None:
        row = int(np.flatnonzero(path.epochs == opens)[0])
        gap = path.values["bpd"] - path.values["train_bpd"]
        lines.append(f"  held-out bits/dim is best at {path.unit} {opens}; after it the train/held-out gap widens "
                     f"from {gap[row]:.3f} to {gap[-1]:.3f} bits/dim")
    return lines


# -- files (the CLI's --json and --csv, the report) ---------------------------------------------------------------


def to_json(data: ComparisonData) -> dict[str, Any]:
    return _plain({
        "format": FORMAT,
        "version": VERSION,
        "comparison": data.path,
        "settings": data.settings.to_dict(),
        "reference": data.reference,
        "members": [{"name": m.name, "address": m.address, "noise_weight": m.noise_weight, "epoch": m.epoch,
                     "epoch_source": m.epoch_source, "session": str(m.session), "model": m.summary.get("model"),
                     "metrics": m.metrics} for m in data.members],
        "rankings": {metric: {"likelihood": "bpd", "quality": metric, "tau": r.tau,
                              "by_likelihood": data.names(r.by_likelihood), "by_quality": data.names(r.by_quality),
                              "discordant": [[data.members[i].name, data.members[j].name] for i, j in r.discordant]}
                     for metric, r in data.rankings.items()},
        "noise_sweep": [{"model": data.members[row.member].name, "noise_weight": row.noise_weight,
                         "lost_nats_per_image": row.lost_nats, "bound_nats_per_image": row.bound_nats,
                         "precision": row.precision} for row in data.sweep],
        "trajectory": None if data.trajectory is None else {
            "unit": data.trajectory.unit, "epochs": data.trajectory.epochs.tolist(),
            "models": data.names(data.trajectory.members),
            "values": {key: values.tolist() for key, values in data.trajectory.values.items()},
            "intervals": {key: values.tolist() for key, values in data.trajectory.intervals.items()},
        },
    })


def write_json(data: ComparisonData, path: Path) -> Path:
    path.write_text(json.dumps(to_json(data), indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    return path


CSV_METRICS = ("bpd", "train_bpd", "sample_bpd", *QUALITY_METRICS)


def write_csv(data: ComparisonData, path: Path) -> Path:
    """One row per model: name, address, noise weight, epoch, then value, low, high and sizes of each metric."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["model", "address", "noise_weight", "epoch", "session"]
        for key in CSV_METRICS:
            header += [key, f"{key}_low", f"{key}_high", f"{key}_n"]
        writer.writerow(header)
        for member in data.members:
            row: list[Any] = [_text(member.name), _text(member.address), member.noise_weight,
                              "" if member.epoch is None else member.epoch, _text(str(member.session))]
            for key in CSV_METRICS:
                cell = data.cell(member, key)
                low, high = cell.interval or ("", "")
                row += ["" if cell.value is None else cell.value, low, high, cell.sizes]
            writer.writerow(row)
    return path


def metric_name(key: str) -> str:
    return {"bpd": "bits/dim, held-out", "train_bpd": "bits/dim, train split", "sample_bpd": "bits/dim, samples"}.get(
        key, DISPLAY.get(key, (key,))[0])


def _text(value: str) -> str:
    """A cell that spreadsheets show as text, never as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
