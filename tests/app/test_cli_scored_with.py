"""A GAN head scored under another model: the JSON, the session and the report name that model with path and hash."""

from __future__ import annotations

import json
import subprocess
import sys

from genloupe.app.demo import demo_dir
from genloupe.app.report import gather_report
from genloupe.engine.checkpoints.hashing import content_hash
from genloupe.engine.session import Session

VAEGAN = demo_dir() / "vaegan.pt"


def test_scored_numbers_name_the_scoring_model_with_its_path_and_hash(tmp_path):
    scorer = f"{VAEGAN}#vae"
    out = subprocess.run([sys.executable, "-m", "genloupe.app", "evaluate", f"{VAEGAN}#gan", "--score-with", scorer,
                          "--n", "40", "--metrics", "ll", "--device", "cpu", "--json", str(tmp_path / "e.json"),
                          "--session", str(tmp_path / "e.genloupe")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "scored under vaegan/vae" in out.stdout
    expected_hash = content_hash(str(VAEGAN))  # the file, not the address with its #head
    doc = json.loads((tmp_path / "e.json").read_text())
    assert "scored_with" not in doc  # one key names the scoring model
    assert doc["scoring_model"]["name"] == "vaegan/vae" and doc["scoring_model"]["hash"] == expected_hash
    assert doc["scoring_model"]["path"].endswith("vaegan.pt") and doc["scoring_model"]["head"] == "vae"
    with Session.open(tmp_path / "e.genloupe", read_only=True) as session:
        assert session.run["scored_with"] == scorer and session.run["scoring_model"]["hash"] == expected_hash
        rows = dict(gather_report(session).provenance)
    assert rows["likelihood scored under"] == scorer and expected_hash in rows["likelihood scored with"]
