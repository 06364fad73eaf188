"""The inspector on real digits: the sample, its numbers, neighbours and per-pixel bits map."""

import numpy as np
import pyqtgraph as pg
import pytest
from sklearn.datasets import load_digits

from genloupe.widgets.inspector import Inspector, bits_map, colorize, format_value


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().images.astype(np.uint8)[:, None]


@pytest.fixture
def inspector(qtbot):
    widget = Inspector(image_size=160)
    qtbot.addWidget(widget)
    return widget


def table_rows(inspector: Inspector) -> dict[str, str]:
    table = inspector.table
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


def test_shows_the_sample_its_numbers_and_neighbours(inspector, digits):
    numbers = {"log_px": -68.91234, "bpd": 1.5532, "realism": float("nan"), "id": 5, "flags": "bad, 3"}
    neighbours = [digits[i] for i in (15, 25, 35)]
    inspector.show_sample(digits[5], 17, numbers, neighbours, None, "Sample #5", neighbour_captions=["a", "b", "c"])
    assert not inspector.content.isHidden() and inspector.placeholder.isHidden()
    assert inspector.title_label.text() == "Sample #5"
    assert table_rows(inspector) == {"log_px": "-68.91", "bpd": "1.553", "realism": "–", "id": "5", "flags": "bad, 3"}
    image = inspector.image_label.pixmap().toImage()
    assert (image.width(), image.height()) == (160, 160)
    assert image.pixelColor(0, 0).value() == 0 and image.pixelColor(159, 159).value() == 0  # the digit's dark border
    assert len(inspector.neighbour_labels) == 3
    assert inspector.neighbour_labels[0].pixmap().width() == inspector.neighbour_size
    assert inspector.bits_panel.isHidden(), "no per-pixel bits, no heat map"


def test_bits_map_is_colour_mapped_with_its_range(inspector, digits):
    bits = np.zeros((1, 1, 8, 8))
    bits[0, 0, 2, 3] = 6.5
    bits[0, 0, 5, 5] = 1.0
    inspector.show_sample(digits[0], 17, {"bpd": 1.2}, None, bits, "")
    assert not inspector.bits_panel.isHidden()
    assert inspector.bits_max_label.text() == "6.5 bits" and inspector.bits_min_label.text() == "0 bits"
    assert "7.5" in inspector.bits_caption.text()
    heat = inspector.bits_label.pixmap().toImage()
    lut = pg.colormap.get("inferno").getLookupTable(nPts=256, alpha=False)
    block = heat.width() // 8
    assert heat.pixelColor(3 * block + block // 2, 2 * block + block // 2).getRgb()[:3] == tuple(lut[-1])
    assert heat.pixelColor(1, 1).getRgb()[:3] == tuple(lut[0])
    assert inspector.title_label.isHidden()


def test_clear_returns_to_the_placeholder(inspector, digits):
    inspector.show_sample(digits[1], 17, {"bpd": 1.0}, [digits[2]], np.ones((8, 8)), "x")
    inspector.clear()
    assert inspector.content.isHidden() and not inspector.placeholder.isHidden()
    assert inspector.table.rowCount() == 0 and inspector.neighbour_labels == []


def test_rejects_mismatched_captions_and_shapes(inspector, digits):
    with pytest.raises(ValueError, match="captions"):
        inspector.show_sample(digits[0], 17, {}, [digits[1]], None, "", neighbour_captions=["a", "b"])
    with pytest.raises(ValueError, match="per-pixel bits"):
        bits_map(np.zeros(8))


def test_helpers():
    assert bits_map(np.ones((3, 4, 5))).tolist() == np.full((4, 5), 3.0).tolist()
    rgb = colorize(np.array([[0.0, 1.0, np.nan]]), 0.0, 1.0)
    lut = pg.colormap.get("inferno").getLookupTable(nPts=256, alpha=False)
    assert rgb[0, 0].tolist() == lut[0].tolist() and rgb[0, 1].tolist() == lut[-1].tolist()
    assert rgb[0, 2].tolist() == [128, 128, 128]
    assert [format_value(v) for v in (3, np.int64(7), 0.000123456, 12345.6, True, "x")] == [
        "3", "7", "0.0001235", "1.235e+04", "yes", "x"
    ]
