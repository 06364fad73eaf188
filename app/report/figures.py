"""The report's figures, drawn by the window's own widgets offscreen, so report and window look alike.

Each view is filled from the session's columns, sized, and rendered into a QImage at twice the
pixel density (sharp in print). The plot alone is rendered, not the hint line under it, which is
about mouse gestures. Figures are always drawn on the light palette: a report is read on paper.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from genloupe.widgets import theme
from genloupe.widgets.histogram import HistogramView
from genloupe.widgets.manifold_view import ManifoldView
from genloupe.widgets.quality_scatter import QualityScatter

from .model import ReportData, SourceData

FIGURE_SIZE = (760, 420)  # logical pixels (CSS px in the HTML)
MANIFOLD_SIZE = (760, 600)  # both axes share one scale there: a squarer plot wastes less of it
SCALE = 2  # device pixels per logical pixel in the PNG
REAL_NAME, SAMPLE_NAME = "held-out real", "samples"

_application: QtWidgets.QApplication | None = None  # kept alive when this module had to create it


@dataclass(frozen=True)
class Figure:
    name: str  # file-like name, unique in a report ('likelihood-histogram')
    title: str
    caption: str
    png: bytes
    width: int  # logical size of the figure; the PNG holds SCALE times as many pixels
    height: int


def ensure_application() -> QtWidgets.QApplication:
    """The running QApplication, or a new offscreen one when a script or the CLI has none."""
    global _application
    app = QtWidgets.QApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = _application = QtWidgets.QApplication([])
    return app


def render_figures(data: ReportData) -> list[Figure]:
    """Every figure the session's columns allow: histograms, manifold view, likelihood against quality."""
    ensure_application()
    samples = data.sources.get("sample")
    reference = data.sources.get("reference")
    makers: list[Callable[[], Figure | None]] = [
        lambda: _histogram(samples, reference, data.convention, _plot_title(data.run)),
        lambda: _manifold(samples, reference),
        lambda: _quality(samples),
    ]
    with _light_palette():
        return [figure for make in makers if (figure := make()) is not None]


def _plot_title(run: dict) -> str:
    """The convention in a few words (the caption holds the full line): a long title would clip the plot."""
    short = str((run.get("likelihood_convention") or {}).get("short", ""))
    scorer = run.get("scored_with")
    return f"scored under {os.path.basename(str(scorer))} · {short}" if scorer else short


def _histogram(samples: SourceData | None, reference: SourceData | None, convention: str, title: str) -> Figure | None:
    sets, colours = {}, {}
    for name, source, colour in ((REAL_NAME, reference, theme.REAL), (SAMPLE_NAME, samples, theme.GENERATED)):
        if source is not None and "bpd" in source.columns and np.isfinite(source.columns["bpd"]).any():
            sets[name], colours[name] = source.columns["bpd"], colour
    if not sets:
        return None
    view = HistogramView()
    view.set_sets(sets, convention=title or convention, colours=colours)
    described = {REAL_NAME: "held-out real image (blue)", SAMPLE_NAME: "sample (orange)"}
    caption = (
        f"Bits per dimension of every {' and every '.join(described[name] for name in sets)}, each as a share of "
        "its own set. Lower bits/dim means higher likelihood." + (f" Convention: {convention}." if convention else "")
    )
    return _render("likelihood-histogram", "Likelihood histograms", caption, view, FIGURE_SIZE)


def _manifold(samples: SourceData | None, reference: SourceData | None) -> Figure | None:
    if samples is None or not {"proj_x", "proj_y"} <= samples.columns.keys():
        return None
    has_reference = reference is not None and {"proj_x", "proj_y"} <= reference.columns.keys()
    real_xy = _xy(reference) if has_reference else np.empty((0, 2))
    view = ManifoldView()
    view.set_data(
        real_xy,
        _xy(samples),
        real_in=reference.columns.get("in_manifold") if has_reference else None,
        generated_in=samples.columns.get("in_manifold"),
        realism=samples.columns.get("realism"),
        names=(REAL_NAME, SAMPLE_NAME),
    )
    caption = (
        "A 2-D projection of the features of held-out real images (blue) and samples (orange). "
        "Filled points lie inside the other set's k-NN manifold, hollow ones outside: hollow orange points are "
        "samples no real image vouches for (lost precision), hollow blue points are real images the model does "
        "not reach (lost recall). Sample markers grow with realism."
    )
    return _render("manifold", "Precision and recall manifolds", caption, view, MANIFOLD_SIZE)


def _quality(samples: SourceData | None) -> Figure | None:
    if samples is None or not {"bpd", "realism"} <= samples.columns.keys():
        return None
    view = QualityScatter()
    view.set_data(samples.columns["bpd"], samples.columns["realism"], flagged=samples.problem_mask(), name=SAMPLE_NAME)
    caption = (
        "Bits/dim of every sample against its realism score (realism of at least 1: inside a real k-NN ball of at "
        "most median radius; precision counts balls of any size); "
        "red points are flagged by hand. Samples to the left and low down are the ones the likelihood ranks high "
        "and the real data rejects. The title gives the rank correlation between the two."
    )
    return _render("likelihood-vs-quality", "Likelihood against quality", caption, view, FIGURE_SIZE)


def _xy(source: SourceData) -> np.ndarray:
    return np.column_stack([source.columns["proj_x"], source.columns["proj_y"]])


def _render(name: str, title: str, caption: str, view: QtWidgets.QWidget, size: tuple[int, int]) -> Figure:
    """Lay ``view`` out at ``size``, never shown, and render its plot to PNG bytes.

    Rendering a hidden widget delivers its pending resize events first, so the plot is drawn at
    its laid-out size; nothing is shown, no event loop runs.
    """
    view.resize(*size)
    view.layout().activate()
    plot = view.plot
    plot.plotItem.autoBtn.hide()  # the 'A' auto-range button is a control, not part of the figure
    image = QtGui.QImage(plot.size() * SCALE, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(SCALE)
    image.fill(theme.plot_colours()[0])
    QtWidgets.QWidget.render(plot, image)  # the widget's paint, not QGraphicsView's scene-only render
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Figure(name, title, caption, bytes(buffer.data()), plot.width(), plot.height())


@contextlib.contextmanager
def _light_palette() -> Iterator[None]:
    """Draw with the style's standard (light) palette while inside, whatever theme the window uses."""
    app = QtWidgets.QApplication.instance()
    current = app.palette()
    if current.color(QtGui.QPalette.ColorRole.Base).lightness() >= 128:
        yield
        return
    app.setPalette(app.style().standardPalette())
    try:
        yield
    finally:
        app.setPalette(current)
