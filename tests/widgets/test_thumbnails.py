"""Levels -> bytes -> QImage -> crisp pixmaps, and the LRU pixmap cache."""

import numpy as np
import pytest
from PySide6.QtGui import QImage, QPixmap
from sklearn.datasets import load_digits

from genloupe.widgets.thumbnails import (
    PixmapCache,
    ThumbnailSource,
    fit_scaled,
    rgb_to_qimage,
    scaled_pixmap,
    to_qimage,
    to_uint8,
)


def gray_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width()].copy()


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().images.astype(np.uint8)[:, None]  # (N,1,8,8), levels 0..16


def test_levels_map_to_full_byte_range():
    levels = np.array([0, 8, 16])
    assert to_uint8(levels, 17).tolist() == [0, 128, 255]
    assert to_uint8(np.array([0, 65535], dtype=np.uint16), 65536).tolist() == [0, 255]
    eight_bit = np.arange(256, dtype=np.uint8)
    assert to_uint8(eight_bit, 256) is eight_bit
    with pytest.raises(ValueError, match="levels"):
        to_uint8(levels, 1)


def test_qimage_keeps_pixels_and_channel_order(qapp, digits):
    image = to_qimage(digits[0], 17)
    assert (image.width(), image.height()) == (8, 8)
    assert np.array_equal(gray_array(image), to_uint8(digits[0, 0], 17))

    rgb = np.zeros((3, 2, 2), dtype=np.uint8)
    rgb[0, 0, 0], rgb[1, 0, 1], rgb[2, 1, 0] = 255, 200, 100
    colour = to_qimage(rgb)
    assert colour.pixelColor(0, 0).getRgb()[:3] == (255, 0, 0)
    assert colour.pixelColor(1, 0).getRgb()[:3] == (0, 200, 0)
    assert colour.pixelColor(0, 1).getRgb()[:3] == (0, 0, 100)
    assert rgb_to_qimage(rgb.transpose(1, 2, 0)).pixelColor(1, 0).getRgb()[:3] == (0, 200, 0)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        to_qimage(np.zeros((2, 4, 4), dtype=np.uint8))


def test_tiny_digits_upscale_in_crisp_blocks(qapp, digits):
    big = gray_array(fit_scaled(to_qimage(digits[7], 17), 64))
    assert big.shape == (64, 64)
    blocks = big.reshape(8, 8, 8, 8)  # (row, y in block, col, x in block)
    assert (blocks == blocks[:, :1, :, :1]).all(), "every source pixel is one uniform 8x8 block"
    assert np.array_equal(blocks[:, 0, :, 0], to_uint8(digits[7, 0], 17))


def test_other_sizes_fit_without_blurring_upscales(qapp):
    rng = np.random.default_rng(0)
    mnist_like = rng.integers(0, 256, (1, 28, 28), dtype=np.uint8)
    fitted = fit_scaled(to_qimage(mnist_like), 48)  # 1x would fill too little: nearest-neighbour fit
    assert (fitted.width(), fitted.height()) == (48, 48)
    assert set(np.unique(gray_array(fitted))) <= set(np.unique(mnist_like))
    assert fit_scaled(to_qimage(mnist_like), 60).width() == 56  # 2x fills enough: integer blocks
    shrunk = fit_scaled(to_qimage(rng.integers(0, 256, (3, 100, 50), dtype=np.uint8)), 40)
    assert (shrunk.width(), shrunk.height()) == (20, 40)


def test_pixmap_honours_device_pixel_ratio(qapp, digits):
    pixmap = scaled_pixmap(digits[0], 17, 32, dpr=2.0)
    assert (pixmap.width(), pixmap.height()) == (64, 64)
    assert pixmap.deviceIndependentSize().toSize().width() == 32


def test_cache_evicts_least_recently_used_by_bytes(qapp):
    one = QPixmap(16, 16)
    cache = PixmapCache(max_bytes=3 * 16 * 16 * (one.depth() // 8))
    for key in "abc":
        cache.put(key, QPixmap(16, 16))
    assert cache.get("a") is not None  # a becomes the most recent
    cache.put("d", QPixmap(16, 16))
    assert cache.get("b") is None
    assert {k for k in "acd" if cache.get(k) is not None} == {"a", "c", "d"}
    assert len(cache) == 3 and cache.nbytes == cache.max_bytes
    cache.put("a", QPixmap(8, 8))  # replacing a key recounts its bytes
    assert cache.nbytes == (2 * 16 * 16 + 8 * 8) * (one.depth() // 8)
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_source_makes_each_thumbnail_once(qapp, digits):
    source = ThumbnailSource(digits, 17)
    first = source.pixmap(3, 48)
    assert source.pixmap(3, 48).cacheKey() == first.cacheKey()
    assert source.pixmap(3, 64).width() == 64
    assert len(source.cache) == 2
    with pytest.raises(ValueError, match="N,C,H,W"):
        ThumbnailSource(digits[0], 17)
