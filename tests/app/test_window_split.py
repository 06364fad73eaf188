"""The window follows a declared training split (`genloupe open CKPT --train-indices FILE`): its held-out
views are the images the model did not learn from, and the session says which split it used."""

import json

import numpy as np

from genloupe.app.demo import demo_model_path
from genloupe.app.main_window import build_window
from genloupe.engine.data import open_data


def test_the_windows_views_follow_the_declared_training_split(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("GENLOUPE_CONFIG_DIR", str(tmp_path / "config"))
    train = np.arange(0, 1797, 2)  # the model's own split: every other image
    (tmp_path / "split.json").write_text(json.dumps({"train": train.tolist()}))
    window = build_window()
    qtbot.addWidget(window)
    c = window.controller
    c.n_samples, c.train_indices = 64, str(tmp_path / "split.json")
    with qtbot.waitSignal(c.sessionLoaded, timeout=120_000) as loaded:
        c.open_model(demo_model_path("diagonal Gaussian"))
    view = loaded.args[0]
    held_out = open_data("digits").images[1::2]
    np.testing.assert_array_equal(view.reference, held_out)  # not GenLoupe's test split
    assert view.run["training_split"]["kind"] == "declared" and view.run["training_split"]["n_train"] == len(train)
