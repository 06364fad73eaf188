"""Images on a grid of levels -> QImage -> QPixmap, with crisp scaling and a size-capped cache.

QImage conversion is thread-safe; QPixmaps are made only in the GUI thread (by `ThumbnailSource`,
which the views call lazily for the tiles they paint).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

# An integer upscale is kept (crisp, even pixels) unless it fills less than this share of the target.
_MIN_INTEGER_FILL = 0.75


def to_uint8(images: np.ndarray, levels: int) -> np.ndarray:
    """Integer levels 0..levels-1 to display bytes 0..255 (display value = x / (levels - 1))."""
    if levels < 2:
        raise ValueError(f"levels must be at least 2, got {levels}")
    if levels == 256 and images.dtype == np.uint8:
        return images
    scaled = images.astype(np.float32) * np.float32(255.0 / (levels - 1))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def to_qimage(image: np.ndarray, levels: int = 256) -> QImage:
    """One image (C,H,W) or (H,W) with C in {1, 3} to a QImage that owns its pixels."""
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected an image (C,H,W) with 1 or 3 channels, got shape {image.shape}")
    pixels = to_uint8(image, levels)
    channels, height, width = pixels.shape
    if channels == 1:
        data = np.ascontiguousarray(pixels[0])
        fmt = QImage.Format.Format_Grayscale8
    else:
        data = np.ascontiguousarray(pixels.transpose(1, 2, 0))
        fmt = QImage.Format.Format_RGB888
    # QImage borrows the buffer: copy() so the image outlives `data`.
    return QImage(data.data, width, height, data.strides[0], fmt).copy()


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """An (H,W,3) uint8 array (e.g. a colour-mapped heat map) to a QImage that owns its pixels."""
    return to_qimage(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1), 256)


def fit_scaled(image: QImage, size: int) -> QImage:
    """Scale to fit a size x size square: integer nearest-neighbour blocks where they fill it
    (tiny 8x8 digits stay crisp), plain nearest-neighbour for other upscales, smooth to shrink."""
    longest = max(image.width(), image.height())
    if longest == size:
        return image
    factor = size // longest
    if factor >= 1 and factor * longest >= _MIN_INTEGER_FILL * size:
        return image.scaled(
            image.width() * factor,
            image.height() * factor,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.FastTransformation,
        )
    smooth = longest > size
    mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
    return image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)


def scaled_pixmap(image: np.ndarray, levels: int, size: int, dpr: float = 1.0) -> QPixmap:
    """A pixmap of one image fitted to size x size logical pixels (GUI thread only)."""
    pixmap = QPixmap.fromImage(fit_scaled(to_qimage(image, levels), max(1, round(size * dpr))))
    pixmap.setDevicePixelRatio(dpr)
    return pixmap


class PixmapCache:
    """Least-recently-used pixmaps, capped by their total bytes."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, QPixmap] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    @staticmethod
    def _cost(pixmap: QPixmap) -> int:
        return pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)

    def get(self, key: Hashable) -> QPixmap | None:
        pixmap = self._items.get(key)
        if pixmap is not None:
            self._items.move_to_end(key)
        return pixmap

    def put(self, key: Hashable, pixmap: QPixmap) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= self._cost(old)
        self._items[key] = pixmap
        self._bytes += self._cost(pixmap)
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self._bytes -= self._cost(evicted)

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


class ThumbnailSource:
    """Pixmaps of the images of one dataset, made on demand and cached by (row, size, dpr)."""

    def __init__(self, images: np.ndarray, levels: int, cache: PixmapCache | None = None) -> None:
        if images.ndim != 4:
            raise ValueError(f"expected images (N,C,H,W), got shape {images.shape}")
        to_uint8(images[:0], levels)  # validates levels before any tile is painted
        self.images = images
        self.levels = levels
        self.cache = cache if cache is not None else PixmapCache()

    def __len__(self) -> int:
        return len(self.images)

    def pixmap(self, row: int, size: int, dpr: float = 1.0) -> QPixmap:
        key = (row, size, dpr)
        pixmap = self.cache.get(key)
        if pixmap is None:
            pixmap = scaled_pixmap(self.images[row], self.levels, size, dpr)
            self.cache.put(key, pixmap)
        return pixmap
