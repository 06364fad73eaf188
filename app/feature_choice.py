"""The Features box of the toolbar: which feature space the next evaluation measures samples in.

The same choices as ``genloupe evaluate --features``: auto (follows the data), digits-cnn, inception-fid,
dinov2, pixels, pixels:D, or the person's own extractor file. The controller remembers the choice per
reference data. Whether a choice fits the data is checked by the evaluation before any sampling, so a
misfit shows as the usual one-line error dialog within a second. The engine is imported only when the
list is opened (where each extractor's weights are is shown then), so the window paints without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QInputDialog, QLabel, QWidget

if TYPE_CHECKING:  # the controller imports feature_options from here
    from genloupe.app.controller import Controller

AUTO = "auto"
BUILTIN = ("digits-cnn", "inception-fid", "dinov2", "pixels")
PIXELS_D = "pixels:D…"
USER_FILE = "extractor file…"
AUTO_TIP = "auto: digits-cnn for 1×8×8 data, else inception-fid when its weights are found, else pixels"
WEAK_PROXY = "pixel-space metrics are a weak proxy for sample quality"
TOOLTIP = Qt.ItemDataRole.ToolTipRole


def feature_options(spec: str, settings) -> dict[str, object]:
    """The chosen extractor's options: a TorchScript file (.pt) runs only once the person trusted it (by content hash)."""
    if not spec.endswith(".pt"):
        return {}
    from genloupe.engine.checkpoints import content_hash
    from genloupe.engine.errors import GenLoupeError

    try:
        return {"trust_code": content_hash(spec) in settings.trusted_hashes()}
    except (GenLoupeError, OSError):
        return {}  # the evaluation reports the missing or unreadable file


class FeatureChoice(QComboBox):
    """A combo box over feature specs (item data); ``note`` is a label for the caveat of the features shown."""

    def __init__(self, controller: "Controller", ask_trust: Callable[[str], bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller, self.ask_trust = controller, ask_trust
        self.note = QLabel()
        self.setToolTip("Features the metrics are computed in (remembered per reference data); " + AUTO_TIP)
        for spec in (AUTO, *BUILTIN):
            self.addItem(spec, spec)
        self.addItem(PIXELS_D, None)
        self.addItem(USER_FILE, None)
        self.setItemData(0, AUTO_TIP, TOOLTIP)
        self.activated.connect(self._chosen)
        controller.featuresChanged.connect(self.show_spec)
        controller.sessionLoaded.connect(lambda view: self._session_loaded(str(view.run.get("features", ""))))
        self.show_spec(controller.features)

    def spec(self) -> str:
        return str(self.currentData() or AUTO)

    def show_spec(self, spec: str) -> None:
        """Select ``spec`` (adding an item for pixels:D or a file). The note stays with the session shown."""
        index = self.findData(spec)
        if index < 0:
            index = self.count() - 2  # before the two entries that ask for more
            self.insertItem(index, Path(spec).name if _is_file(spec) else spec, spec)
            self.setItemData(index, spec, TOOLTIP)
        self.setCurrentIndex(index)

    def _session_loaded(self, features: str) -> None:
        """Name what ``auto`` chose for the session shown, and its caveat."""
        self.setItemText(0, f"{AUTO}: {features}" if self.controller.features == AUTO and features else AUTO)
        self.show_resolved(features)

    def show_resolved(self, features: str) -> None:
        """The caveat of the features a session was computed in (pixels are a weak proxy)."""
        pixels = features.split(":")[0] == "pixels"
        self.note.setText(f" ⚠ {WEAK_PROXY} " if pixels else "")
        self.note.setToolTip(f"{features}: {WEAK_PROXY}; inception-fid or dinov2 measure what people see" if pixels else "")

    def showPopup(self) -> None:  # noqa: N802 (Qt naming)
        """Say where each extractor's weights are, or how to get them, as the list opens."""
        from genloupe.engine.features.catalog import describe_all

        for entry in describe_all():
            index = self.findData(entry.name)
            if index >= 0:
                self.setItemText(index, entry.name if entry.available else f"{entry.name} (weights missing)")
                self.setItemData(index, f"{entry.dim}; takes {entry.accepts}; weights: {entry.weights}", TOOLTIP)
        super().showPopup()

    def _chosen(self, index: int) -> None:
        spec = self.itemData(index)
        if spec is None:
            spec = self._ask_pixels_dim() if self.itemText(index) == PIXELS_D else self._ask_file()
        if spec is None:  # the person cancelled: keep showing what is in force
            self.show_spec(self.controller.features)
            return
        self.controller.set_features(spec)

    def _ask_pixels_dim(self) -> str | None:
        dim, ok = QInputDialog.getInt(self, "Pixels, projected", "Project the pixels to D dimensions (a fixed random "
                                      "projection that keeps distances):", 64, 1, 1_000_000)
        return f"pixels:{dim}" if ok else None

    def _ask_file(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Feature extractor", "",
                                              "Feature extractors (*.pt2 *.pt);;All files (*)")
        if not path or (path.endswith(".pt") and not self.ask_trust(path)):
            return None
        return path


def _is_file(spec: str) -> bool:
    return spec.endswith((".pt", ".pt2")) or "/" in spec or "\\" in spec
