"""Calibrated suggestions headless: `evaluate --suggest`, `genloupe suggest SESSION`, `--per-pixel`, as real processes."""

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from genloupe.app.cli import main
from genloupe.app.demo import demo_model_path
from genloupe.engine.session import FlagEditor, Session, labels_by_sample

AUTOREGRESSIVE = demo_model_path("autoregressive")


def genloupe(*args):
    return subprocess.run([sys.executable, "-m", "genloupe.app", *args], capture_output=True, text=True, timeout=300)


def in_process(capsys, *args):
    """The same entry point in this process (torch already imported): exit status, stdout, stderr."""
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, captured.out, captured.err)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suggest")
    out = genloupe("evaluate", AUTOREGRESSIVE, "--n", "150", "--device", "cpu", "--metrics", "ll,fid,pr", "--suggest",
                   "--json", str(folder / "e.json"), "--csv", str(folder / "e.csv"), "--session", str(folder / "e.genloupe"),
                   "--per-pixel", str(folder / "bits.npz"))
    assert out.returncode == 0, out.stderr
    return folder, out


def test_evaluate_suggest_writes_session_json_and_csv_that_agree(evaluated):
    folder, out = evaluated
    doc = json.loads((folder / "e.json").read_text())
    suggestions = doc["suggestions"]
    assert set(suggestions) == {"bad", "memorized"}
    bad = suggestions["bad"]
    assert bad["false_flag_rate"] <= 0.05 and bad["n_real"] == 179
    assert set(bad["threshold"]) == {"likely_but_bad", "unlikely", "unrealistic"}
    assert all(t["set_by"] == "held-out real images" for t in bad["threshold"].values())
    assert len(bad["ids"]) == len(bad["reasons"]) == len(bad["scores"]) > 0
    rows = [r for r in csv.DictReader(line for line in open(folder / "e.csv") if not line.startswith("#")) if r["source"] == "sample"]
    from_csv = {int(r["id"]) for r in rows if "bad" in r["suggested"].split(";")}
    assert from_csv == set(bad["ids"])
    with Session.open(folder / "e.genloupe", read_only=True) as session:
        flags = labels_by_sample(session.flag_rows("sample"))
        assert {i for i, labels in flags.items() if labels.get("bad") == "suggested"} == set(bad["ids"])
        reasons = {row[0]: row[3] for row in session.flag_rows("sample") if row[1] == "bad"}
        assert reasons[bad["ids"][0]] == bad["reasons"][0]
        assert session.run["suggestions"]["false_flag_rate"] == 0.05
    rho = doc["metrics"]["spearman_bpd_realism"]
    low, high = doc["metrics"]["spearman_bpd_realism_ci"]
    assert -1 <= low <= rho <= high <= 1
    assert "flags 5.0% of real images" in out.stdout
    assert "fid: 5" not in out.stdout and "FID:" in out.stdout  # rounded rows, not Python reprs
    assert all(len(part) < 12 for line in out.stdout.splitlines() for part in line.split() if part[:1].isdigit())


def test_suggest_on_a_saved_session_matches_and_takes_its_options(evaluated, tmp_path, capsys):
    folder, _ = evaluated
    expected = json.loads((folder / "e.json").read_text())["suggestions"]
    out = in_process(capsys, "suggest", folder / "e.genloupe", "--json", tmp_path / "s.json", "--csv", tmp_path / "s.csv")
    assert out.returncode == 0, out.stderr
    again = json.loads((tmp_path / "s.json").read_text())["suggestions"]
    assert again["bad"]["ids"] == expected["bad"]["ids"] and again["bad"]["threshold"] == expected["bad"]["threshold"]
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert {int(r["id"]) for r in rows if "bad" in r["suggested"]} == set(expected["bad"]["ids"])
    copy = tmp_path / "copy.genloupe"  # the shared session keeps its 5 % suggestions for the other tests
    shutil.copyfile(folder / "e.genloupe", copy)
    kept = expected["bad"]["ids"][-1]  # one suggestion confirmed by hand before recalibrating: it must stay
    with Session.open(copy) as session:
        FlagEditor(session).confirm("sample", [kept], "bad")
    strict = in_process(capsys, "suggest", copy, "--false-flag-rate", "0.01", "--threshold", "memorized=0.5",
                        "--json", tmp_path / "t.json")
    assert strict.returncode == 0, strict.stderr
    doc = json.loads((tmp_path / "t.json").read_text())["suggestions"]
    assert doc["bad"]["false_flag_rate"] <= 0.01 and len(doc["bad"]["ids"]) <= len(expected["bad"]["ids"])
    assert doc["memorized"]["threshold"]["memorized"]["set_by"] == "given"
    assert doc["memorized"]["threshold"]["memorized"]["value"] == 0.5
    assert "-inf" not in strict.stdout  # a rate too small for 179 real images says so instead of '< -inf'
    assert doc["bad"]["threshold"]["likely_but_bad"]["value"] == float("-inf")  # 1 % over 3 tests: k = 0 of 180
    assert "likely_but_bad off: 179 held-out real images cannot resolve a rate this small" in strict.stdout
    with Session.open(copy, read_only=True) as session:  # the earlier 5 % suggestions are withdrawn, not kept
        rows = session.flag_rows("sample")
    suggested = {(row[0], row[1]) for row in rows if row[2] == "suggested"}
    assert suggested == {(i, label) for label in ("bad", "memorized") for i in doc[label]["ids"]} - {(kept, "bad")}
    assert labels_by_sample(rows)[kept]["bad"] == "confirmed"


@pytest.mark.parametrize("args, message", [
    (("--false-flag-rate", "1.5"), "--false-flag-rate must lie strictly between 0 and 1"),
    (("--threshold", "likely=2"), "unknown test 'likely'"),
    (("--threshold", "unlikely=abc"), "is not a number"),
])
def test_bad_options_are_one_line_errors(evaluated, args, message, capsys):
    folder, _ = evaluated
    out = in_process(capsys, "suggest", folder / "e.genloupe", *args)
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_suggest_against_training_images_is_refused_before_the_work(capsys):
    out = in_process(capsys, "evaluate", AUTOREGRESSIVE, "--n", "10", "--split", "train", "--suggest")
    assert out.returncode == 2 and "--suggest calibrates on held-out images" in out.stderr and "sampling" not in out.stderr


def test_suggest_on_a_missing_session_is_a_one_line_error(tmp_path, capsys):
    out = in_process(capsys, "suggest", tmp_path / "none.genloupe")
    assert out.returncode == 2 and "no such session file" in out.stderr


def test_per_pixel_maps_of_samples_and_held_out_images_sum_to_the_number_beside_them(evaluated):
    folder, _ = evaluated
    maps = np.load(folder / "bits.npz")
    assert maps["sample_bits"].shape == (150, 1, 8, 8) and maps["reference_bits"].shape == (179, 1, 8, 8)
    for source in ("sample", "reference"):  # a discrete model: the map's mean is the bits/dim itself
        np.testing.assert_allclose(maps[f"{source}_bits"].reshape(len(maps[f"{source}_bpd"]), -1).mean(1),
                                   maps[f"{source}_bpd"], rtol=1e-5)
        assert "exactly" in str(maps[f"{source}_estimator"])
    doc = json.loads((folder / "e.json").read_text())
    assert np.mean(maps["reference_bpd"]) == pytest.approx(doc["likelihood"]["reference"]["mean_bpd"])


def test_per_pixel_for_a_model_without_per_pixel_terms_is_refused_before_the_work(tmp_path, capsys):
    out = in_process(capsys, "evaluate", demo_model_path("Gaussian mixture"), "--n", "10", "--per-pixel", tmp_path / "b.npz")
    assert out.returncode == 2 and "gives no per-pixel bits" in out.stderr and not (tmp_path / "b.npz").exists()


def test_the_report_shows_the_suggestions_with_their_false_flag_rate_and_the_rank_correlation(evaluated, tmp_path, capsys):
    folder, _ = evaluated
    out = in_process(capsys, "report", folder / "e.genloupe", "--out", tmp_path / "report", "--format", "html")
    assert out.returncode == 0, out.stderr
    text = " ".join((tmp_path / "report" / "report.html").read_text(encoding="utf-8").split())
    assert "Suggestions, calibrated on held-out real images" in text and "5.0%" in text
    assert "Spearman ρ(bits/dim, realism)" in text and "Fisher z interval" in text
    assert "log P(x) exact (autoregressive" in text  # the discrete model's convention, in the shared words
