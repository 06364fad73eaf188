"""The report as HTML: one jinja2 template (assets/report_template.html.j2), autoescaped.

The same template serves the self-contained HTML file (images as data URIs) and the PDF (images
as named QTextDocument resources): the caller says how each image is referenced. Everything a
person typed (notes, paths, names) goes through autoescaping, so a note '<script>' stays text.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2

from genloupe.app.wording import INSIDE, REALISM
from genloupe.widgets.metrics_panel import format_interval, format_number

from .figures import Figure
from .images import card_thumbnails, data_uri
from .model import MetricRow, ReportData, SampleCard
from .suggestion_rows import suggestion_rows

TEMPLATE = "report_template.html.j2"
HIDDEN_COLUMNS = ("proj_x", "proj_y")  # coordinates of a projection say nothing on a card
_BETTER = {"lower": "↓", "higher": "↑"}


@dataclass(frozen=True)
class Layout:
    """Sizes that differ between a browser page and a printed A4 page."""

    figure_width: int  # CSS px
    thumbnail_px: int
    flagged_columns: int
    highlight_columns: int


SCREEN = Layout(figure_width=760, thumbnail_px=96, flagged_columns=4, highlight_columns=6)
PRINT = Layout(figure_width=620, thumbnail_px=72, flagged_columns=4, highlight_columns=5)


def render_html(data: ReportData, figures: list[Figure], image_src: Mapping[str, str], layout: Layout = SCREEN) -> str:
    """The report's HTML; ``image_src`` maps each figure name and card key to what an <img> src should hold."""
    return _template().render(
        data=data,
        figures=figures,
        src=image_src,
        layout=layout,
        metrics=(table := metric_table(data.metrics))[0],
        metric_notes=table[1],
        suggestions=suggestion_rows(data),
        table_sources=data.table_sources(),
    )


def write_html(data: ReportData, figures: list[Figure], path: Path) -> Path:
    """The self-contained HTML file: every image inline as a data URI, nothing fetched from anywhere."""
    sources = {figure.name: data_uri(figure.png) for figure in figures}
    sources.update({key: data_uri(png) for key, png in card_thumbnails(data, SCREEN.thumbnail_px).items()})
    path.write_text(render_html(data, figures, sources, SCREEN), encoding="utf-8")
    return path


def card_facts(card: SampleCard) -> list[tuple[str, str]]:
    """(label, text) lines of a sample's numbers, in the words the window uses."""
    numbers = dict(card.numbers)
    facts = []
    if "log_px" in numbers:
        facts.append(("log P(x)", f"{format_number(numbers.pop('log_px'))} nats"))
    if "bpd" in numbers:
        facts.append(("bits/dim", format_number(numbers.pop("bpd"))))
    if card.likelihood_rank is not None:
        facts.append(("likelihood", _rank_text(card.likelihood_rank)))
    if "realism" in numbers:
        facts.append((REALISM, format_number(numbers.pop("realism"))))
    if "in_manifold" in numbers:  # any ball, unlike realism: named so the two never read as a contradiction
        inside = numbers.pop("in_manifold")
        facts.append((INSIDE if card.source == "sample" else "inside a sample's ball (any size)", "yes" if inside else "no"))
    if "nn_id" in numbers or "nn_distance" in numbers:
        where = f"#{numbers.pop('nn_id')}" if "nn_id" in numbers else ""
        distance = f" at {format_number(numbers.pop('nn_distance'))}" if "nn_distance" in numbers else ""
        facts.append(("nearest real", (where + distance).strip()))
    if "realism_train" in numbers:
        facts.append(("realism vs training images", format_number(numbers.pop("realism_train"))))
    if "train_nn_id" in numbers or "train_nn_distance" in numbers:
        where = f"#{numbers.pop('train_nn_id')}" if "train_nn_id" in numbers else ""
        distance = f" at {format_number(numbers.pop('train_nn_distance'))}" if "train_nn_distance" in numbers else ""
        facts.append(("nearest training", (where + distance).strip()))
    facts += [(name, format_number(value)) for name, value in numbers.items() if name not in HIDDEN_COLUMNS]
    return facts


def label_text(label: str) -> str:
    """'bad', 'memorized', ... and custom labels as 'label 3'."""
    return f"label {label}" if label.isdigit() else label


def _rank_text(rank: tuple[int, int]) -> str:
    """'top 3%' / 'bottom 10%': the share of the source's samples at least (at most) as likely as this one."""
    place, count = rank
    side, share = ("top", place / count) if 2 * place <= count else ("bottom", (count - place + 1) / count)
    percent = 100.0 * share
    text = f"{percent:.0f}" if percent >= 9.5 else f"{percent:.1f}".rstrip("0").rstrip(".")
    return f"{side} {text}%"


def metric_table(rows: list[MetricRow]) -> tuple[list[dict[str, str]], list[str]]:
    """Rows of a compact metrics table and the numbered notes they point to (methods and conventions, each once)."""
    notes: list[str] = []

    def mark(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return str(notes.index(text) + 1)

    table = []
    for row in rows:
        value = format_number(row.value)
        if row.std is not None:
            value += f" ± {format_number(row.std)}"
        details = " · ".join(f"{DETAIL_NAMES.get(k, k.replace('_', ' '))} {_detail(v)}" for k, v in row.details.items())
        table.append({
            "name": row.name + (f" {_BETTER[row.better]}" if row.better in _BETTER else ""),
            "value": value,
            "interval": format_interval(row.interval),
            "n": row.n,
            "notes": ", ".join(mark(part) for part in (row.method, row.convention) if part),
            "details": details,
        })
    return table, notes


DETAIL_NAMES = {"value_infinity": "FID∞ (extrapolated to infinitely many samples)", "mean_nats": "mean log P(x), nats:",
                "k": "k =", "scored_under": "scored under", "subset_size": "subset size", "subsets": "subsets:"}


def _detail(value: Any) -> str:
    return format_number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(label=label_text, facts=card_facts)
    return environment.from_string(files("genloupe.assets").joinpath(TEMPLATE).read_text(encoding="utf-8"))
