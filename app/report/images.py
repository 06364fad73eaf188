"""Sample images as PNG bytes and data URIs (Pillow, no Qt): thumbnails that travel inside the report."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from .model import ReportData

THUMBNAIL_PX = 72  # thumbnails are at least this wide; small images are enlarged by a whole factor


def thumbnail_png(image: np.ndarray, levels: int, min_px: int = THUMBNAIL_PX) -> bytes:
    """One image (C, H, W) of integer levels as a PNG, enlarged with nearest-neighbour to >= ``min_px``.

    Display value is x / (L - 1); pixels stay sharp squares, because blurring an 8x8 digit would
    hide exactly the pixel-level artefacts the report is about.
    """
    channels, height, width = image.shape
    values = np.rint(image.astype(np.float64) * (255.0 / max(levels - 1, 1))).clip(0, 255).astype(np.uint8)
    factor = max(1, -(-min_px // max(height, width)))
    values = values.repeat(factor, axis=1).repeat(factor, axis=2)
    # uint8 (H, W) is a grey image, (H, W, 3) an RGB one; other channel counts show their first channel
    picture = Image.fromarray(np.ascontiguousarray(values.transpose(1, 2, 0) if channels == 3 else values[0]))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """A PNG as a data: URI, so the HTML needs no file beside it."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def card_thumbnails(data: ReportData, min_px: int = THUMBNAIL_PX) -> dict[str, bytes]:
    """PNG of every sample the report shows as a card, by card key (samples without images are left out)."""
    thumbnails = {}
    for card in (*data.flagged, *data.top, *data.bottom):
        source = data.sources[card.source]
        if card.key not in thumbnails and source.images is not None:
            thumbnails[card.key] = thumbnail_png(source.images[card.idx], source.levels, min_px)
    return thumbnails
