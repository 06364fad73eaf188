"""``genloupe train --save-every``, ``genloupe compare`` (a real process) and ``genloupe report`` on a comparison:
every saved epoch is on the trajectory; a later model is evaluated alone; bad input exits 2."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys
from importlib.resources import files

import pytest
from scipy.stats import kendalltau

from genloupe.app.cli import main
from genloupe.engine.checkpoints.zoo import load_checkpoint
from genloupe.engine.comparison import Comparison

DEMO = files("genloupe.assets") / "demo"
FLOW = '{"couplings": 2, "hidden": 16}'


def genloupe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genloupe.app", *args], capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A five-epoch flow run keeping a checkpoint every two epochs, and the comparison of its folder."""
    root = tmp_path_factory.mktemp("run")
    (root / "ckpt").mkdir()
    with contextlib.redirect_stdout(io.StringIO()) as train_out:  # in-process: tests/app/test_cli_train.py runs a process
        assert main(["train", "flow", "--out", str(root / "ckpt" / "flow.pt"), "--epochs", "5", "--save-every", "2",
                     "--device", "cpu", "--config", FLOW]) == 0
    compared = genloupe("compare", str(root / "ckpt"), "--n", "60", "--metrics", "ll,fid,pr", "--device", "cpu",
                        "--session", str(root / "run.glcompare"), "--json", str(root / "run.json"))
    assert compared.returncode == 0, compared.stderr
    return root, train_out.getvalue(), compared.stdout


def test_save_every_keeps_each_epoch_and_the_trajectory_holds_them_all(trained):
    root, train_out, compare_out = trained
    kept = sorted(p.name for p in (root / "ckpt").glob("flow-epoch*.pt"))
    assert kept == ["flow-epoch0002.pt", "flow-epoch0004.pt", "flow-epoch0005.pt"]  # every 2nd epoch and the last
    assert "kept 3 checkpoints" in train_out
    assert [load_checkpoint(root / "ckpt" / name).train_info["epoch"] for name in kept] == [2, 4, 5]
    document = json.loads((root / "run.json").read_text())
    assert document["trajectory"]["epochs"] == [2, 4, 5] and document["trajectory"]["unit"] == "epoch"
    assert document["trajectory"]["models"] == kept
    assert len(document["trajectory"]["values"]["bpd"]) == 3 and "train_bpd" in document["trajectory"]["values"]
    assert {m["name"]: m["epoch"] for m in document["members"]} == {**dict(zip(kept, [2, 4, 5])), "flow.pt": None}
    assert "trajectory over epoch" in compare_out


def test_a_model_added_to_a_comparison_is_the_only_one_evaluated(trained, capsys):
    root, _, _ = trained
    session = root / "run.glcompare"
    before = [m.session for m in Comparison.open(session, read_only=True).members()]
    assert main(["compare", str(DEMO / "gaussian.pt"), str(root / "ckpt" / "flow-epoch0002.pt"), str(DEMO / "gaussian.pt"),
                 "--session", str(session), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "flow-epoch0002.pt: already in the comparison" in printed and "gaussian.pt: already in the comparison" in printed
    with Comparison.open(session, read_only=True) as comparison:
        members = comparison.members()
    assert [m.session for m in members if m.name != "gaussian.pt"] == before and len(members) == len(before) + 1


def test_report_on_a_comparison_writes_table_rankings_and_trajectory(trained, capsys, qapp):
    root, _, _ = trained
    assert main(["report", str(root / "run.glcompare"), "--out", str(root / "report")]) == 0, capsys.readouterr().err
    assert {p.name for p in (root / "report").iterdir()} == {"report.html", "report.pdf", "report.json", "report.csv"}
    document = json.loads((root / "report" / "report.json").read_text())
    members = {m["name"]: m["metrics"] for m in document["members"]}
    ranking = document["rankings"]["precision"]
    bpd = [-members[name]["bpd"]["value"] for name in ranking["by_likelihood"]]
    precision = [members[name]["precision"]["value"] for name in ranking["by_likelihood"]]
    assert ranking["tau"] == pytest.approx(kendalltau(bpd, precision).statistic)
    rows = list(csv.DictReader(open(root / "report" / "report.csv", encoding="utf-8")))
    assert len(rows) == len(members) and float(rows[0]["bpd_low"]) < float(rows[0]["bpd"]) < float(rows[0]["bpd_high"])
    html = (root / "report" / "report.html").read_text(encoding="utf-8")
    assert "Kendall" in html and "Checkpoints over training" in html and "data:image/png;base64" in html


@pytest.mark.parametrize("args, message", [
    (["compare", "/no/such/model.pt"], "no such file"),
    (["compare", str(DEMO / "flow.pt"), "--noise-sweep", "0,1.5"], "noise weights must lie in [0, 1)"),
    (["compare", str(DEMO / "flow.pt"), "--metrics", "ll,bogus"], "unknown metrics bogus"),
    (["compare", str(DEMO / "flow.pt"), "--n", "1"], "--n must be at least 2"),
    (["train", "vaegan", "--out", "/tmp/never-written.pt", "--save-every", "2"], "not trained epoch by epoch"),
    (["train", "flow", "--out", "/tmp/never-written.pt", "--save-every", "0", "--epochs", "1"], "every N >= 1"),
])
def test_bad_input_is_one_line_and_status_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_existing_comparison_keeps_its_settings(trained, capsys):
    root, _, _ = trained
    assert main(["compare", str(DEMO / "flow.pt"), "--session", str(root / "run.glcompare"), "--n", "500"]) == 2
    assert "n_samples=60" in capsys.readouterr().err
    not_a_comparison = root / "ckpt" / "flow.pt"
    assert main(["compare", str(DEMO / "flow.pt"), "--session", str(not_a_comparison)]) == 2
    assert "not a GenLoupe comparison" in capsys.readouterr().err
