"""A comparison as a report: the same four formats and conventions as a single model's report.

HTML (self-contained) and PDF render one template (assets/comparison_template.html.j2) with the
table, the bits/dim-against-quality plots, the rankings with τ, the noise sweep and the trajectory,
drawn by the window's own comparison and trajectory views on the light palette. JSON and CSV are the
``genloupe compare --json/--csv`` files. Each member's own report comes from its session.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from PySide6 import QtCore, QtGui, QtWidgets

from genloupe.app.comparison_model import (
    COLUMNS, TRAJECTORY_METRICS, ComparisonData, format_cell, format_trajectory, format_value, gather, metric_name,
    write_csv, write_json,
)
from genloupe.engine.comparison import Comparison
from genloupe.engine.comparison.rankings import BETTER

from . import write_formats
from .figures import SCALE, Figure, _light_palette, ensure_application
from .html import PRINT
from .images import data_uri

TEMPLATE = "comparison_template.html.j2"
PLOT_METRICS = ("precision", "fid")  # bits/dim against each of these, when present
SCREEN_WIDTH = 760
ARROWS = {"lower": "↓", "higher": "↑"}


def export_comparison_report(comparison: Comparison, out_dir: str | Path, formats: str | Iterable[str] = "html,pdf,json,csv",
                             ) -> list[Path]:
    """Write ``report.<format>`` for each format into ``out_dir``; return the paths written."""
    data = gather(comparison)
    figures = functools.cache(lambda: render_comparison_figures(data))

    def html(path: Path) -> Path:
        chosen = figures()
        path.write_text(render_comparison_html(data, chosen, {f.name: data_uri(f.png) for f in chosen}, SCREEN_WIDTH),
                        encoding="utf-8")
        return path

    return write_formats(out_dir, formats, {"html": html, "pdf": lambda path: write_comparison_pdf(data, figures(), path),
                                            "json": lambda path: write_json(data, path),
                                            "csv": lambda path: write_csv(data, path)})


# -- figures ------------------------------------------------------------------------------------------------


def render_comparison_figures(data: ComparisonData) -> list[Figure]:
    from genloupe.app.comparison_presenter import show_trajectory, view_rows
    from genloupe.widgets.comparison_view import ComparisonView
    from genloupe.widgets.trajectory_view import TrajectoryView

    ensure_application()
    figures = []
    with _light_palette():
        view = ComparisonView()
        rows, columns, rankings = view_rows(data)
        view.set_data(rows, columns, rankings)
        plot = view.plot
        plot.setParent(None)  # the plot alone, at the figure's size, not squeezed under the table
        plot.plotItem.autoBtn.hide()
        for metric in PLOT_METRICS:
            if metric in rankings or any(m.value(metric) is not None and m.value("bpd") is not None for m in data.members):
                caption = (f"Held-out bits/dim of each model against its {COLUMNS[metric]}, with 95% interval bars. "
                           "Dashed red lines join pairs of models that the two rankings order differently.")
                view.set_metric(metric)
                figures.append(_render_widget(f"bpd-vs-{metric}", f"Likelihood against {COLUMNS[metric]}", caption,
                                              plot, (760, 420)))
        if data.trajectory is not None:
            trajectory = TrajectoryView()
            show_trajectory(trajectory, data)
            caption = ("Held-out and train bits/dim, precision and FID of each checkpoint against the "
                       f"{data.trajectory.unit}, with 95% interval bars; shaded: held-out likelihood and quality moved apart; "
                       "dashed: the best held-out bits/dim, after which the train/held-out gap widens.")
            figures.append(_render_widget("trajectory", "Checkpoints over training", caption, trajectory, (760, 640)))
    return figures


def _render_widget(name: str, title: str, caption: str, widget: QtWidgets.QWidget, size: tuple[int, int]) -> Figure:
    """A whole widget (several linked plots) as PNG bytes, laid out at ``size`` and never shown."""
    widget.resize(*size)
    if widget.layout() is not None:
        widget.layout().activate()
    image = QtGui.QImage(widget.size() * SCALE, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(SCALE)
    image.fill(QtGui.QColor("white"))
    QtWidgets.QWidget.render(widget, image)  # the widget's paint (a plot is a QGraphicsView, whose render differs)
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Figure(name, title, caption, bytes(buffer.data()), widget.width(), widget.height())


# -- HTML and PDF -------------------------------------------------------------------------------------------


def render_comparison_html(data: ComparisonData, figures: list[Figure], src: dict[str, str], figure_width: int) -> str:
    keys = data.columns()
    first = data.members[0] if data.members else None
    sizes = ""
    if first is not None:
        sizes = (f"bits/dim over {data.cell(first, 'bpd').sizes} of the held-out split; quality metrics over "
                 f"{data.cell(first, 'precision').sizes or data.cell(first, 'fid').sizes}.")
    return _template().render(
        title=Path(data.path).stem,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        data=data,
        reference=_reference_text(data),
        headers=[f"{COLUMNS[key]} {ARROWS[BETTER[key]]}" for key in keys],
        rows=[{"name": m.name, "epoch": "" if m.epoch is None else m.epoch, "kind": data.likelihood_kind(m),
               "cells": [format_cell(data.cell(m, key)) for key in keys]} for m in data.members],
        sizes=sizes,
        figures=figures,
        src=src,
        figure_width=figure_width,
        rankings=_rankings(data),
        sweep=[{"name": data.members[row.member].name, "w": f"{row.noise_weight:g}", "lost": f"{row.lost_nats:.3f}",
                "bound": f"{row.bound_nats:.3f}", "precision": format_value(row.precision)} for row in data.sweep],
        trajectory=_trajectory(data),
    )


def write_comparison_pdf(data: ComparisonData, figures: list[Figure], path: Path) -> Path:
    """An A4 PDF of the comparison report, paginated as the single-model report is."""
    from .pdf import MARGIN_MM, PAGE, _keep_tables_together, _paint_pages

    ensure_application()
    dpi = QtGui.QGuiApplication.primaryScreen().logicalDotsPerInchX()
    page_mm = QtGui.QPageSize(PAGE).size(QtGui.QPageSize.Unit.Millimeter)
    body = QtCore.QSizeF((page_mm.width() - 2 * MARGIN_MM) / 25.4 * dpi, (page_mm.height() - 2 * MARGIN_MM) / 25.4 * dpi)
    document = QtGui.QTextDocument()
    for figure in figures:
        document.addResource(QtGui.QTextDocument.ResourceType.ImageResource, QtCore.QUrl(figure.name),
                             QtGui.QImage.fromData(figure.png))
    width = min(PRINT.figure_width, int(body.width()) - 16)
    document.setHtml(render_comparison_html(data, figures, {f.name: f.name for f in figures}, width))
    _keep_tables_together(document, body)
    writer = QtGui.QPdfWriter(str(path))
    writer.setPageSize(QtGui.QPageSize(PAGE))
    writer.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
    title = f"GenLoupe comparison: {Path(data.path).stem}"
    writer.setTitle(title)
    writer.setCreator("GenLoupe")
    _paint_pages(document, writer, dpi, title)
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(0, "the PDF could not be written", str(path))
    return path


def _reference_text(data: ComparisonData) -> str:
    reference = data.reference or {}
    return f"{reference.get('name', data.settings.reference)} ({reference.get('n', '?')} images, {data.settings.split} split)"


def _rankings(data: ComparisonData) -> list[dict[str, Any]]:
    out = []
    for metric, ranking in data.rankings.items():
        involved = {k for pair in ranking.discordant for k in pair}
        places = [((data.members[a].name, a in involved), (data.members[b].name, b in involved))
                  for a, b in zip(ranking.by_likelihood, ranking.by_quality)]
        n = len(ranking.members)
        out.append({"header": f"{metric_name(metric)} {ARROWS[BETTER[metric]]}", "places": places,
                    "tau": format_value(ranking.tau), "pairs": n * (n - 1) // 2,
                    "discordant": [f"{data.members[i].name} ≻ {data.members[j].name}" for i, j in ranking.discordant]})
    return out


def _trajectory(data: ComparisonData) -> dict[str, Any] | None:
    path = data.trajectory
    if path is None:
        return None
    keys = [key for key in TRAJECTORY_METRICS if key in path.values]
    rows = [[str(epoch), *(format_value(path.values[key][i]) for key in keys)] for i, epoch in enumerate(path.epochs)]
    notes = [line.strip() for line in format_trajectory(data)[1 + len(rows):]]
    return {"headers": [path.unit, *(metric_name(key) for key in keys)], "rows": rows, "notes": notes}


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.from_string(files("genloupe.assets").joinpath(TEMPLATE).read_text(encoding="utf-8"))
