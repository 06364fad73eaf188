"""``genloupe train FAMILY --config '{"arch": "conv", ...}'`` through a real subprocess: a conv model
trains on a shipped stand-in at a real shape and its checkpoint loads as the conv architecture; an
architecture a family lacks is a one-line error with exit status 2, before any data are read."""

from __future__ import annotations

import json

from genloupe.engine.checkpoints.zoo import load_checkpoint

from .test_cli_train import genloupe_train


def test_train_a_conv_flow_on_the_colour_standin(tmp_path):
    out = tmp_path / "flow.pt"
    config = {"arch": "conv", "scales": 1, "couplings": 1, "hidden": 4}
    result = genloupe_train("flow", "--data", "digits32rgb", "--out", str(out), "--epochs", "1", "--device", "cpu",
                            "--config", json.dumps(config))
    assert result.returncode == 0, result.stderr
    assert "multi-scale flow" in result.stdout and "test bits/dim" in result.stdout
    model = load_checkpoint(out)
    assert model.arch == "conv" and model.config["arch"] == "conv" and model.info.data_shape == (3, 32, 32)


def test_an_architecture_the_family_lacks_exits_with_status_2_and_one_line(tmp_path):
    result = genloupe_train("gaussian", "--data", "no/such/folder", "--out", str(tmp_path / "x.pt"),
                            "--config", '{"arch": "conv"}')
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "gaussian has no architecture 'conv'" in result.stderr
