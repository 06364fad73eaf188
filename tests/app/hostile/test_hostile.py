"""Hostile files and concurrent writers: bounded memory, bounded time, one line, nothing lost.

The corpus (corpus.py) is generated into a temporary folder; the harness runs every case as a real CLI
run in its own forked process, measured alone (exit status, stderr, wall time, peak RSS). The caps are
lowered for the run (they can only be lowered) so that bombs stay small; a handful of cases also run
through the installed ``genloupe`` command under the production caps.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from genloupe.app.report.tables import FORMULA_LEADS
from genloupe.engine import io as bounded
from genloupe.engine.errors import CheckpointError, DataError, GenLoupeError
from genloupe.engine.session import FlagEditor, Session

from .corpus import CLASSES, DEMO, TEST_LIMITS, Case, build, session_file

pytestmark = pytest.mark.skipif(not hasattr(os, "wait4"), reason="the harness forks and measures with wait4 (POSIX)")
ROOT = Path(__file__).resolve().parents[3]
PEAK_MIB = 1024
SECONDS = 15.0
CASE_NAMES = [
    "zoo-stride-0", "zoo-aliased", "torch-zip-ratio", "sample-npz-ratio", "zip-in-zip", "data-npz-ratio",
    "data-npz-declared", "idx-declared", "idx-gzip-bomb", "idx-labels-bomb", "png-folder", "png-one-huge",
    "sample-npz-declared", "csv-million-rows", "pt2-allocates", "onnx-huge-output",
    "pt2-while-loop", "onnx-loop", "zoo-shared-references", "safetensors-huge-header", "safetensors-many-tensors",
    "session-recursive-view", "report-60000-flags",
    "npy-declares-1e12", "npz-declares-1e12", "evaluate-reference-1e12", "session-run-not-json", "session-run-a-list",
    "session-run-deep", "session-metric-abc", "session-metric-one-bound", "session-image-shape-lie",
    "session-image-dtype-lie", "session-column-length-lie", "session-column-dtype-lie", "protocol-4-checkpoint",
    "protocol-4-plain", "command-line-typo", "train-missing-folder",
    "bundle-range-nan", "bundle-range-infinity", "bundle-bits-1e307", "bundle-positive-discrete",
    "bundle-links-out", "export-bundle-link",
]


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1", **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[dict[str, Case], dict[str, dict]]:
    """Every case built, then run by the harness in one process; ({name: case}, {name: result})."""
    root = tmp_path_factory.mktemp("hostile")
    cases = {case.name: case for case in build(root)}
    listing = root / "cases.json"
    listing.write_text(json.dumps([{"name": c.name, "argv": c.argv} for c in cases.values()]))
    subprocess.run([sys.executable, "-m", "tests.app.hostile.harness", str(listing), str(root / "results.json")],
                   check=True, env=environment(GENLOUPE_READ_LIMITS=TEST_LIMITS), cwd=ROOT, timeout=600)
    results = json.loads((root / "results.json").read_text())
    summary = {kind: Counter(c.kind for c in cases.values())[kind] for kind in CLASSES}
    worst = max(results.values(), key=lambda r: r["peak_mib"]), max(results.values(), key=lambda r: r["seconds"])
    print(f"\nhostile corpus: {len(cases)} cases {summary}; worst peak {worst[0]['peak_mib']:.0f} MiB, "
          f"worst time {worst[1]['seconds']:.1f} s")
    return cases, results


def test_the_corpus_covers_every_class(corpus):
    cases, _ = corpus
    assert sorted(cases) == sorted(CASE_NAMES)
    counts = Counter(case.kind for case in cases.values())
    assert set(counts) == set(CLASSES) and all(counts[kind] >= 1 for kind in CLASSES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_each_case_is_one_line_exit_2_within_memory_and_time(corpus, name):
    cases, results = corpus
    case, result = cases[name], results[name]
    assert result["status"] == case.status, result["stderr"]
    if case.status == 2:
        lines = result["stderr"].splitlines()
        assert len(lines) == 1 and lines[0].startswith("genloupe ") and case.expect in lines[0], result["stderr"]
        assert "Traceback" not in result["stderr"] and "Warning" not in result["stderr"]
    assert result["peak_mib"] <= PEAK_MIB, result
    assert result["seconds"] <= SECONDS, result


def wait_measured(process: subprocess.Popen) -> tuple[int, float]:
    """Exit status and peak RSS (MiB) of a child, from wait4 (this test process's own memory plays no part)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024


def test_the_installed_command_under_production_caps(corpus, tmp_path):
    """The real ``genloupe`` script, production caps: refused in one line within the bounds; and the README's
    first try of a hybrid's heads (`#gan`, `--score-with ...#vae`) runs to the end."""
    cases, _ = corpus
    command = Path(sys.executable).with_name("genloupe")
    runs = {name: cases[name].argv for name in ("zoo-stride-0",)}
    runs["heads"] = ["evaluate", f"{DEMO / 'vaegan.pt'}#gan", "--score-with", f"{DEMO / 'vaegan.pt'}#vae", "--n", "20",
                     "--json", str(tmp_path / "heads.json")]
    env = environment()
    env.pop("GENLOUPE_READ_LIMITS", None)
    started = time.perf_counter()
    processes = {name: subprocess.Popen([str(command), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        env=env, text=True) for name, argv in runs.items()}
    for name, process in processes.items():
        status, peak = wait_measured(process)
        stderr = process.stderr.read()
        if name == "heads":
            assert status == 0, stderr
            assert json.loads((tmp_path / "heads.json").read_text())["model"]
        else:
            assert status == 2 and len(stderr.splitlines()) == 1 and cases[name].expect in stderr, stderr
        assert peak <= PEAK_MIB
    assert time.perf_counter() - started <= 4 * SECONDS


# --- the policy itself ---------------------------------------------------------------------------


def test_production_caps_exist_and_the_override_only_lowers_them(monkeypatch):
    caps = bounded.PRODUCTION
    assert caps.decompressed_bytes <= 2 << 30 and caps.array_bytes <= 512 << 20 and caps.ratio <= 100
    assert caps.members and caps.nesting == 1 and caps.folder_pixels <= 1 << 28 and caps.csv_rows
    assert caps.json_depth <= 64 and caps.child_seconds <= 10 and caps.child_memory <= 2 << 30
    monkeypatch.setenv("GENLOUPE_READ_LIMITS", "array_bytes=1024,ratio=100000,child_seconds=1e9")
    lowered = bounded.limits()
    assert lowered.array_bytes == 1024 and lowered.ratio == caps.ratio and lowered.child_seconds == caps.child_seconds


def test_bounded_gunzip_never_holds_more_than_asked(tmp_path):
    import gzip

    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as stream:
        for _ in range(64):
            stream.write(bytes(1 << 20))
    assert len(bounded.gunzip(path, "bomb", 100, DataError, prefix=True)) == 100
    with pytest.raises(DataError, match="expands past 4096 bytes"):
        bounded.gunzip(path, "bomb", 4096, DataError)
    assert bounded.gunzip(path, "bomb", 64 << 20, DataError) == bytes(64 << 20)


def test_json_depth_and_constants_are_refused():
    with pytest.raises(GenLoupeError, match="nested deeper"):
        bounded.parse_json("[" * 100 + "]" * 100, "x")
    with pytest.raises(GenLoupeError, match="NaN is not a finite number"):
        bounded.parse_json('{"a": NaN}', "x")
    assert bounded.parse_json('{"a": NaN}', "x", allow_nan=True)["a"] != 0


def test_a_limited_child_returns_its_value_and_its_errors_keep_their_class():
    from genloupe.engine.io.child import run_limited

    assert run_limited("math:factorial", (5,), "five") == 120
    with pytest.raises(CheckpointError, match="ValueError"):
        run_limited("math:factorial", (-1,), "minus one", CheckpointError)


# --- the CLI -----------------------------------------------------------------------------------------


def test_an_unexpected_failure_is_one_line_with_a_log(tmp_path, monkeypatch, capsys):
    from genloupe.app import cli
    from genloupe.app.commands import data as data_command

    def broken(args):
        raise ZeroDivisionError("a bug nobody foresaw")

    monkeypatch.setattr(data_command, "run", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert cli.main(["data"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "internal error: ZeroDivisionError: a bug nobody foresaw" in err
    log = Path(err.rsplit("traceback in ", 1)[1].rstrip(")\n"))
    assert log.is_file() and log.is_relative_to(tmp_path) and "Traceback" in log.read_text()


# --- concurrency, links and CSV ------------------------------------------------------------------------


def test_writers_flagging_the_same_samples_lose_nothing(tmp_path):
    """Two processes, 2000 edits, undos and redos on the same 12 samples: each writer's labels end exactly as its
    own acknowledged commands leave them (the code before this fix lost or resurrected a dozen per run)."""
    path = session_file(tmp_path / "shared.glup", n=12)
    writers = ("1,2,3,4", "5,6,7,8,9")
    processes = [subprocess.Popen([sys.executable, "-m", "tests.app.hostile.flag_writer", str(path), labels, "1000",
                                   str(seed)], stdout=subprocess.PIPE, env=environment(), cwd=ROOT, text=True)
                 for seed, labels in enumerate(writers)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes)
    with Session.open(path, read_only=True) as session:
        found = {f"{idx}:{label}": state for idx, label, state, *_ in session.flag_rows("sample")}
    for labels, output in zip(writers, outputs):
        expected = json.loads(output)
        mine = {key: state for key, state in found.items() if key.split(":")[1] in labels.split(",")}
        assert mine == expected and expected


def test_hashes_cover_linked_files_and_heads_hash_the_file(tmp_path):
    from genloupe.engine.checkpoints import content_hash

    folder = tmp_path / "linked"
    (folder / "stored").mkdir(parents=True)
    (folder / "stored" / "two").write_bytes(b"two")
    (folder / "b.png").symlink_to(folder / "stored" / "two")  # a link that stays inside is what gets loaded
    before = content_hash(folder)
    (folder / "stored" / "two").write_bytes(b"other")
    assert content_hash(folder) != before  # a change behind a link changes the hash
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"x")
    (folder / "out.png").symlink_to(outside)
    with pytest.raises(CheckpointError, match="leading out"):
        content_hash(folder)
    assert content_hash(f"{DEMO / 'vaegan.pt'}#gan") == content_hash(DEMO / "vaegan.pt")


def test_csv_neutralises_formulas_in_every_column(tmp_path):
    from genloupe.app.report import export_report

    path = tmp_path / "formulas.glup"
    starts = ["=2+3", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff201", "|cmd", "%x"]
    with Session.create(path, {"checkpoint": "m.pt"}) as session:
        source = '=HYPERLINK("http://x","y")'
        session.write_columns(source, {"log_px": -np.arange(len(starts), dtype=float)})
        session.write_images(source, np.zeros((len(starts), 1, 2, 2), np.uint8), 17)
        FlagEditor(session).add(source, [0], "bad")
        session.replace_flags(source, [1], [(1, "=2+3", "confirmed", "", 0.0, 0.0)])  # a crafted label
        for idx, text in enumerate(starts):
            session.set_note(source, idx, text)
    with Session.open(path, read_only=True) as session:
        (csv_path,) = export_report(session, tmp_path / "out", "csv")
    rows = list(csv.reader(csv_path.open(newline="", encoding="utf-8")))
    cells = [cell for row in rows[1:] for cell in row]
    texts = [cell for cell in cells if cell and not _number(cell)]
    assert texts and all(cell[0] not in FORMULA_LEADS for cell in texts), texts
    assert {row[-1] for row in rows[1:]} == {"'" + text for text in starts}


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False
