"""Flagging in the real window (issue 6): flags survive SIGKILL, undo and redo step through the session
file, suggestions expose a noise-mixed model, read-only and broken sessions, reports of what was flagged.

One session is evaluated per module: the demo MADE mixed with 90% uniform noise (NoiseMixture), 400
samples, CPU, against the digits' test split. Each test works on its own copy of the file.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt

from genloupe.app.main_window import build_window
from genloupe.app.report import export_report
from genloupe.engine.checkpoints import content_hash, open_model
from genloupe.engine.data import open_data
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.models.noise_mixture import NoiseMixture
from genloupe.engine.results import write_session
from genloupe.engine.session import Session, suggest_all

from ..engine.test_noise_mixture import noise_mask

N_SAMPLES = 400
NOISE_WEIGHT = 0.9
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
NONE = Qt.KeyboardModifier.NoModifier
HELPER = Path(__file__).with_name("flag_in_window.py")


def session_run(checkpoint: Path) -> dict:
    return {"checkpoint": str(checkpoint), "checkpoint_hash": content_hash(str(checkpoint)), "reference_source": "digits"}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> SimpleNamespace:
    """The noise-mixed demo MADE, evaluated once; its session file names a private copy of the checkpoint."""
    folder = tmp_path_factory.mktemp("flagging")
    checkpoint = folder / "autoregressive.pt"
    shutil.copyfile(str(files("genloupe.assets") / "demo" / "autoregressive.pt"), checkpoint)
    model = NoiseMixture(open_model(str(checkpoint)), NOISE_WEIGHT)
    evaluation = evaluate(model, open_data("digits").split("test"), EvaluationSettings(n_samples=N_SAMPLES, device="cpu"))
    path = folder / "mixed.genloupe"
    write_session(evaluation, path, session_run(checkpoint)).close()
    return SimpleNamespace(path=path, evaluation=evaluation, noise=noise_mask(model, N_SAMPLES))


@pytest.fixture(autouse=True)
def fresh_config(monkeypatch, tmp_path) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("GENLOUPE_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def copy(mixed, tmp_path) -> Path:
    target = tmp_path / "copy.genloupe"
    shutil.copyfile(mixed.path, target)
    return target


@pytest.fixture
def window(qtbot):
    window = build_window()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitActive(window)
    return window


@pytest.fixture
def opened(window, copy):
    window.controller.open_session(copy)
    assert window.controller.session is not None and not window.controller.session.read_only
    return window


def on_disk(path: Path) -> tuple[dict[int, dict[str, str]], dict[int, str]]:
    """({id: {label: state}}, {id: note}) as a second reader of the file sees them."""
    with Session.open(path, read_only=True) as other:
        rows, notes = other.flag_rows("sample"), other.notes("sample")
    flags: dict[int, dict[str, str]] = {}
    for idx, label, state, *_ in rows:
        flags.setdefault(idx, {})[label] = state
    return flags, {idx: text for idx, (text, _) in notes.items()}


def press(qtbot, window, ids, key, modifier=NONE) -> None:
    window.grid.select_ids(ids)
    qtbot.keyClick(window.grid.view, key, modifier)


# -- flags survive SIGKILL ------------------------------------------------------------------------------------


def test_every_flag_survives_killing_the_window_with_sigkill(copy, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GENLOUPE_CONFIG_DIR": str(tmp_path / "child-config")}
    child = subprocess.run([sys.executable, str(HELPER), str(copy)], capture_output=True, text=True, env=env, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    line = next(line for line in child.stdout.splitlines() if line.startswith("flagged "))
    state = json.loads(line.removeprefix("flagged "))
    intended = {int(idx): set(labels) for idx, labels in state["intended"].items()}
    shown = {int(idx): set(labels) for idx, labels in state["shown"].items()}
    assert shown == intended  # the window drew exactly what the keys meant
    assert sum(len(labels) for labels in intended.values()) == 14  # 6 B - 1 Shift+B + 4 M + 4 "3" + 1 G
    assert Path(f"{copy}-wal").exists()  # killed: nothing was checkpointed or closed

    with Session.open(copy) as reopened:  # a writable open recovers the WAL as a new process would
        found: dict[int, set[str]] = {}
        for idx, label, flag_state, *_ in reopened.flag_rows("sample"):
            assert flag_state == "confirmed"
            found.setdefault(idx, set()).add(label)
        notes = {idx: text for idx, (text, _) in reopened.notes("sample").items()}
    assert found == intended
    assert notes == {int(idx): text for idx, text in state["notes"].items()}


# -- undo and redo ---------------------------------------------------------------------------------------------


def test_ctrl_z_steps_back_through_every_flag_action_and_ctrl_shift_z_forward(opened, copy, qtbot):
    window, c = opened, opened.controller
    order = window.grid.visible_ids()
    steps = [
        (order[:5], Qt.Key.Key_B, NONE),
        (order[3:8], Qt.Key.Key_M, NONE),
        (order[[0, 7, 20]], Qt.Key.Key_3, NONE),
        (order[[1]], Qt.Key.Key_B, SHIFT),
        (order[3:5], Qt.Key.Key_U, NONE),  # clears every label of two samples
    ]
    states = [on_disk(copy)]
    for ids, key, modifier in steps:
        press(qtbot, window, ids, key, modifier)
        states.append(on_disk(copy))
        assert states[-1] != states[-2]
    assert states[-1][0][int(order[0])] == {"bad": "confirmed", "3": "confirmed"}
    assert int(order[3]) not in states[-1][0] and int(order[1]) not in states[-1][0]

    def shown_matches(state) -> bool:
        flags = state[0]
        return all(window.grid.model.flags_of(int(i)) == set(flags.get(int(i), {})) for i in order[:25])

    for back in range(1, len(steps) + 1):
        qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL)
        assert on_disk(copy) == states[-1 - back], f"after {back} undos"
        assert shown_matches(states[-1 - back])
    assert not c.editor.can_undo() and on_disk(copy) == ({}, {})
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL)  # nothing left to undo: nothing changes
    assert on_disk(copy) == states[0]

    for forward in range(1, 4):
        qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL | SHIFT)
        assert on_disk(copy) == states[forward]
        assert shown_matches(states[forward])
    assert c.editor.can_redo()

    press(qtbot, window, order[[30]], Qt.Key.Key_G)  # a new action after undos clears the redo stack
    after_new = on_disk(copy)
    assert after_new[0] == {**states[3][0], int(order[30]): {"good": "confirmed"}}
    assert not c.editor.can_redo()
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL | SHIFT)
    assert on_disk(copy) == after_new
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL)
    assert on_disk(copy) == states[3]


def test_notes_are_written_through_and_undone_like_flags(opened, copy, qtbot):
    window, c = opened, opened.controller
    idx = int(window.grid.visible_ids()[0])
    c.set_note(idx, "first")
    c.set_note(idx, "second thoughts")
    assert on_disk(copy)[1] == {idx: "second thoughts"}
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL)
    assert on_disk(copy)[1] == {idx: "first"} and c.view.notes.get(idx) == "first"
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL)
    assert on_disk(copy)[1] == {} and idx not in c.view.notes  # what the inspector shows follows the file
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL | SHIFT)
    assert on_disk(copy)[1] == {idx: "first"} and c.view.notes.get(idx) == "first"
    c.set_note(idx, "")  # an empty note removes it
    assert on_disk(copy)[1] == {} and idx not in c.view.notes


# -- suggestions -------------------------------------------------------------------------------------------------


def test_suggestions_are_proposals_the_person_confirms_and_can_undo(opened, copy, mixed, qtbot):
    window, c = opened, opened.controller
    columns = mixed.evaluation.columns
    expected = suggest_all(columns["sample"], columns["reference"])[0].ids  # 'bad', calibrated on held-out digits
    assert len(expected) > 0.8 * mixed.noise.sum()
    window.suggest()  # Ctrl+G: the flags, and the panel shows each label with its false-flag rate
    assert "false-flag rate" in window.suggestion_panel.text() and "5.0%" in window.suggestion_panel.text()
    flags = on_disk(copy)[0]
    bad = np.array(sorted(i for i, labels in flags.items() if "bad" in labels))
    np.testing.assert_array_equal(bad, np.sort(expected))
    assert all(labels["bad"] == "suggested" for labels in flags.values() if "bad" in labels)
    caught = mixed.noise[bad].sum()
    assert caught / len(bad) > 0.8 and caught / mixed.noise.sum() > 0.8  # precision and recall against the noise

    window.inspect(int(bad[0]))  # the inspector names realism and any-ball membership apart, beside the reason's numbers
    names = [window.inspector.table.item(row, 0).text() for row in range(window.inspector.table.rowCount())]
    assert {"realism (typical-size real balls)", "inside a real ball (any size)"} <= set(names)
    assert not any("manifold" in name for name in names)
    why = window.inspector.table.item(names.index("why"), 1).text()
    assert why.startswith("bad: log P(x)") and "\n" not in why  # the suggestion's one-line reason

    window.flag_filter.setCurrentText("suggested")
    assert set(window.grid.visible_ids().tolist()) == set(flags)
    chosen = bad[:10]
    assert all(window.grid.model.flags_of(int(i)) >= {"?bad"} for i in chosen)
    press(qtbot, window, chosen, Qt.Key.Key_Return, CTRL)  # Edit ▸ Confirm suggestions on selection
    confirmed = on_disk(copy)[0]
    assert all(confirmed[int(i)]["bad"] == "confirmed" for i in chosen)
    assert all(confirmed[int(i)]["bad"] == "suggested" for i in bad[10:])
    assert all("bad" in window.grid.model.flags_of(int(i)) for i in chosen)
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL)
    assert on_disk(copy)[0] == flags  # undo turns them back into suggestions, exactly
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL)
    assert all("bad" not in labels for labels in on_disk(copy)[0].values())  # and then removes the suggestions


# -- read-only and broken sessions -------------------------------------------------------------------------------


def test_a_session_whose_checkpoint_changed_opens_read_only_and_refuses_every_edit(window, mixed, tmp_path, qtbot):
    checkpoint = tmp_path / "model.pt"
    shutil.copyfile(str(files("genloupe.assets") / "demo" / "autoregressive.pt"), checkpoint)
    path = tmp_path / "changed.genloupe"
    write_session(mixed.evaluation, path, session_run(checkpoint)).close()
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF  # retrained, overwritten: the bytes changed
    checkpoint.write_bytes(bytes(data))
    before = path.read_bytes()

    c = window.controller
    with qtbot.waitSignal(c.warned) as warning:
        c.open_session(path)
    assert "read-only" in warning.args[0] and "changed on disk" in warning.args[0]
    assert c.session.read_only and window.windowTitle().endswith("(read-only)")
    qtbot.waitUntil(window.error_box.isVisible)
    window.error_box.close()

    ids = window.grid.visible_ids()[:3]
    with qtbot.waitSignal(c.failed) as failure:
        press(qtbot, window, ids, Qt.Key.Key_B)
    assert "read-only" in failure.args[0] and "\n" not in failure.args[0]
    qtbot.waitUntil(window.error_box.isVisible)
    assert window.error_box.text() == failure.args[0]
    assert all(window.grid.model.flags_of(int(i)) == frozenset() for i in ids)
    with qtbot.waitSignal(c.failed):
        c.set_note(int(ids[0]), "not allowed")
    assert c.suggest() == []
    qtbot.keyClick(window.grid.view, Qt.Key.Key_Z, CTRL)
    assert on_disk(path) == ({}, {})
    assert path.read_bytes() == before  # not one byte written


def test_foreign_and_corrupt_session_files_give_a_clear_error_and_the_window_keeps_working(opened, copy, tmp_path, qtbot):
    window, c = opened, opened.controller
    foreign = tmp_path / "foreign.genloupe"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
    db.close()
    not_sqlite = tmp_path / "notes.genloupe"
    not_sqlite.write_text("just some text\n" * 100)
    corrupt = tmp_path / "corrupt.genloupe"
    data = bytearray(copy.read_bytes())
    data[4 * 4096 : 5 * 4096] = bytes(range(256)) * 16  # one page of garbage in the middle of the file
    corrupt.write_bytes(bytes(data))

    cases = [(foreign, "not a GenLoupe session"), (not_sqlite, "not a SQLite database"), (corrupt, "corrupt session file")]
    for path, expected in cases:
        with qtbot.waitSignal(c.failed) as failure:
            c.open_session(path)
        message = failure.args[0]
        assert message.startswith(str(path)) and expected in message and "\n" not in message
        qtbot.waitUntil(window.error_box.isVisible)
        assert window.error_box.text() == message
        window.error_box.close()
        assert c.session.path == copy  # the open session stays open

    ids = window.grid.visible_ids()[:2]
    press(qtbot, window, ids, Qt.Key.Key_B)
    assert on_disk(copy)[0] == {int(i): {"bad": "confirmed"} for i in ids}


# -- reports of a window session -----------------------------------------------------------------------------------


class CardParser(HTMLParser):
    """The sample cards of a report, in order: (section heading, card id text, labels text, note text)."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, str]] = []
        self.heading, self._in, self._stack = "", None, []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "td" and "card" in classes:
            self.cards.append({"section": self.heading, "cardid": "", "labels": "", "note": ""})
        self._stack.append(next((name for name in ("cardid", "labels", "note") if name in classes), None) or
                           ("h2" if tag in ("h1", "h2") else None))

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()

    def handle_data(self, data):
        where = next((name for name in reversed(self._stack) if name), None)
        if where == "h2":
            self.heading = data.strip()
        elif where and self.cards:
            self.cards[-1][where] += data


def test_the_report_of_a_window_session_holds_its_flags_and_notes(opened, copy, tmp_path, qtbot):
    window, c = opened, opened.controller
    order = window.grid.visible_ids()
    press(qtbot, window, order[:3], Qt.Key.Key_B)
    press(qtbot, window, order[[2, 40]], Qt.Key.Key_M)
    note = "<script>alert('noise')</script> ranked high & bad"
    c.set_note(int(order[40]), note)
    c.set_note(int(order[99]), "just a remark")
    flags, notes = on_disk(copy)

    paths = export_report(c.session, tmp_path / "report", "html,json,csv")
    assert [p.name for p in paths] == ["report.html", "report.json", "report.csv"]

    html = paths[0].read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(" in html
    parser = CardParser()
    parser.feed(html)
    flagged_cards = [card for card in parser.cards if not card["section"].startswith(("Highest", "Lowest"))]
    by_id = {int(card["cardid"].strip().removeprefix("sample #")): card for card in flagged_cards}
    assert set(by_id) == set(flags) | set(notes)
    for idx, labels in flags.items():
        assert all(label in by_id[idx]["labels"] for label in labels), (idx, by_id[idx])
    assert by_id[int(order[40])]["note"] == note and by_id[int(order[99])]["note"] == "just a remark"

    document = json.loads(paths[1].read_text(encoding="utf-8"))["sources"]["sample"]
    assert {(f["id"], f["label"], f["state"]) for f in document["flags"]} == {
        (idx, label, state) for idx, labels in flags.items() for label, state in labels.items()}
    assert {n["id"]: n["text"] for n in document["notes"]} == notes
    np.testing.assert_array_equal(document["columns"]["log_px"], c.view.sample_columns["log_px"])

    with open(paths[2], newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["source"] == "sample"]
    assert len(rows) == N_SAMPLES
    for row in rows:
        idx = int(row["id"])
        assert set(filter(None, row["flags"].split(";"))) == set(flags.get(idx, {}))
        assert row["note"] == notes.get(idx, "")
        assert float(row["log_px"]) == c.view.sample_columns["log_px"][idx]
