"""Bringing your own model from the command line, as real processes: the adapter template, the issue's
`k` traceback now a one-line error (exit 2), GenLoupe's split written out, the model's own split
declared, and the scoring model's provenance in every output."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from genloupe.app.report.model import provenance_rows
from genloupe.engine.checkpoints import content_hash, open_model
from genloupe.engine.data import open_data
from genloupe.engine.session import Session

from ..engine.byo_examples import trained, write


def genloupe(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "genloupe.app", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def test_new_adapter_writes_a_template_that_opens_and_is_never_overwritten(tmp_path):
    out = genloupe("new-adapter", str(tmp_path / "mine.py"), "--shape", "3,4,4", "--levels", "256")
    assert out.returncode == 0, out.stderr
    model = open_model(tmp_path / "mine.py", trust_code=True)  # runs as written, every probe passed
    assert model.info.data_shape == (3, 4, 4) and model.info.levels == 256 and model.info.extra["warnings"] == []
    again = genloupe("new-adapter", str(tmp_path / "mine.py"))
    assert again.returncode == 2 and again.stderr.strip().endswith("exists; GenLoupe does not overwrite it (give another name)")


def test_a_bound_adapter_without_k_is_a_one_line_error_naming_the_fix():
    folder = trained()
    write(folder, "issue_vae_adapter.py", '''
from dataclasses import replace
from vae_adapter import VaeModel, load as load_vae

class AsInTheIssue(VaeModel):
    def log_prob(self, y):  # the README's old protocol: no k, no generator
        return super().log_prob(y)

def load(path):
    model = AsInTheIssue(load_vae(path).vae)
    model.info = replace(model.info, bound_k=None)
    return model
''')
    out = genloupe("likelihood", str(folder / "issue_vae_adapter.py"), "--trust-code")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "genloupe likelihood: error: issue_vae_adapter.py: a bound model's log_prob must accept k (the number of draws, "
        "IWAE-K), or its ModelInfo must declare bound_k, the K it always uses: def log_prob(self, y, generator=None, k=None)"]


def test_the_models_own_split_and_the_scoring_model_travel_with_the_numbers(tmp_path):
    folder = trained()
    out = genloupe("data", "digits", "--split-indices", str(tmp_path / "split.json"))
    assert out.returncode == 0, out.stderr
    written = json.loads((tmp_path / "split.json").read_text())
    digits = open_data("digits")
    expected = digits.split_indices(0)
    assert all(written[name] == expected[name].tolist() for name in ("train", "val", "test"))
    assert written["checksum"] == digits.checksum() and "permutation" in written["recipe"]

    samples = tmp_path / "made_samples.npz"
    np.savez(samples, samples=digits.images[:40, 0], levels=np.int64(17))
    out = genloupe("evaluate", str(samples), "--n", "40", "--metrics", "ll", "--device", "cpu",
                   "--score-with", str(folder / "made_adapter.py"), "--trust-code",
                   "--train-indices", str(folder / "train_indices.json"), "--also-split", "train",
                   "--json", str(tmp_path / "e.json"), "--csv", str(tmp_path / "e.csv"),
                   "--session", str(tmp_path / "e.genloupe"))
    assert out.returncode == 0, out.stderr
    document = json.loads((tmp_path / "e.json").read_text())
    train = json.loads((folder / "train_indices.json").read_text())["train"]
    assert document["reference"]["n"] == len(digits) - len(train)  # held out: every image the model did not see
    assert document["training_split"]["kind"] == "declared" and document["training_split"]["n_train"] == len(train)
    scorer = document["scoring_model"]
    assert scorer["path"].endswith("made_adapter.py") and scorer["hash"] == content_hash(folder / "made_adapter.py")
    assert scorer["name"] == "MADE (karpathy-style, 128 hidden)"
    lines = (tmp_path / "e.csv").read_text().splitlines()
    assert lines[0].startswith("# model: made_samples | ")
    assert lines[1] == f"# likelihood scored with: {scorer['name']} | {scorer['path']} | {scorer['hash']}"
    assert lines[2].startswith("id,source,")
    with Session.open(tmp_path / "e.genloupe") as session:
        run = session.run
        assert run["scoring_model"]["hash"] == scorer["hash"] and run["training_split"]["kind"] == "declared"
    rows = dict(provenance_rows(run))  # the report's provenance table
    assert scorer["hash"] in rows["likelihood scored with"] and "declared" in rows["training images"]
