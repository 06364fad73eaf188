"""The session file: round trips, write-through flags, undo/redo, read-only, bad files, crash safety."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from genloupe.engine.errors import SessionError
from genloupe.engine.session import FlagEditor, Session, labels_by_sample
from genloupe.engine.session.suggestions import likely_but_bad, memorized

RUN = {"checkpoint": "demo/flow.pt", "checkpoint_hash": "abc123", "seed": 0}


@pytest.fixture
def session(tmp_path):
    with Session.create(tmp_path / "run.genloupe", RUN) as s:
        yield s


def test_every_part_round_trips_exactly(tmp_path):
    path = tmp_path / "run.genloupe"
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, size=(50_000, 1, 8, 8), dtype=np.uint8)
    columns = {"log_px": rng.normal(size=50_000), "in_manifold": rng.random(50_000) > 0.5, "nn_id": np.arange(50_000)}
    with Session.create(path, RUN) as s:
        s.write_images("sample", images, 17)
        s.write_columns("sample", columns)
        s.write_metrics({"fid": {"value": 3.5, "n": 1000, "convention": "digits-cnn"}})
        s.set_note("sample", 7, "<script>alert(1)</script>")
    with Session.open(path) as s:
        back, levels = s.read_images("sample")
        assert levels == 17 and np.array_equal(back, images)
        table = s.read_columns("sample")
        assert all(np.array_equal(table[name], columns[name]) for name in columns)
        assert table["in_manifold"].dtype == bool
        assert s.read_metrics()["fid"]["value"] == 3.5
        assert s.run == RUN
        assert s.notes("sample")[7][0] == "<script>alert(1)</script>"
        assert s.sources() == ["sample"]
        assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_flag_actions_undo_and_redo(session):
    editor = FlagEditor(session)
    heard = []
    editor.listeners.append(lambda source, ids: heard.append((source, ids.tolist())))
    editor.add("sample", [1, 2, 3], "bad")
    editor.add("sample", [3], "memorized")
    editor.remove("sample", [2], "bad")
    assert labels_by_sample(session.flag_rows("sample")) == {1: {"bad": "confirmed"}, 3: {"bad": "confirmed", "memorized": "confirmed"}}
    editor.undo()
    assert 2 in labels_by_sample(session.flag_rows("sample"))
    editor.undo()
    editor.undo()
    assert session.flag_rows("sample") == [] and not editor.can_undo()
    editor.redo()
    assert sorted(labels_by_sample(session.flag_rows("sample"))) == [1, 2, 3]
    editor.clear("sample", [1, 2])
    assert not editor.can_redo()  # a new action drops the redo branch
    assert list(labels_by_sample(session.flag_rows("sample"))) == [3]
    assert heard[0] == ("sample", [1, 2, 3]) and len(heard) == 8


def test_suggested_and_confirmed_are_distinct_and_undo_restores_states(session):
    editor = FlagEditor(session)
    editor.add("sample", [4, 5], "bad", state="suggested", reason="high likelihood, realism 0.3",
               reasons={4: "top 5% by likelihood, realism 0.1"})
    editor.add("sample", [6], "bad")
    editor.add("sample", [6], "bad", state="suggested")  # never downgrades a confirmed flag
    editor.confirm("sample", [4, 6], "bad")
    states = labels_by_sample(session.flag_rows("sample"))
    assert states == {4: {"bad": "confirmed"}, 5: {"bad": "suggested"}, 6: {"bad": "confirmed"}}
    assert session.flag_counts("sample") == {("bad", "confirmed"): 2, ("bad", "suggested"): 1}
    editor.undo()
    assert labels_by_sample(session.flag_rows("sample"))[4] == {"bad": "suggested"}
    assert session.flag_rows("sample", [5])[0][3] == "high likelihood, realism 0.3"
    assert session.flag_rows("sample", [4])[0][3] == "top 5% by likelihood, realism 0.1"


def test_a_new_calibration_replaces_the_suggestions_in_one_undoable_step(session):
    """Ctrl+G again after recalibrating: stale suggestions go, new ones come, confirmed flags stay; one undo."""
    editor = FlagEditor(session)
    editor.replace_suggestions("sample", {"bad": {1: "old", 2: "old", 3: "old"}, "memorized": {4: "copy of 9"}})
    editor.confirm("sample", [2], "bad")
    before = session.flag_rows("sample")
    editor.replace_suggestions("sample", {"bad": {2: "new", 3: "new", 7: "new"}, "memorized": {}})
    assert labels_by_sample(session.flag_rows("sample")) == {
        2: {"bad": "confirmed"}, 3: {"bad": "suggested"}, 7: {"bad": "suggested"}}
    assert session.flag_rows("sample", [3])[0][3] == "new" and session.flag_rows("sample", [2])[0][3] == "old"
    assert editor.undo_text() == "suggest bad, memorized"
    editor.undo()
    assert session.flag_rows("sample") == before
    editor.redo()
    assert sorted(labels_by_sample(session.flag_rows("sample"))) == [2, 3, 7]


def test_notes_are_undoable(session):
    editor = FlagEditor(session)
    editor.set_note("sample", 3, "looks like a 7 drawn twice")
    editor.set_note("sample", 3, "")
    assert session.notes("sample") == {}
    editor.undo()
    assert session.notes("sample")[3][0] == "looks like a 7 drawn twice"


def test_unknown_labels_are_refused(session):
    with pytest.raises(SessionError, match="unknown flag label"):
        FlagEditor(session).add("sample", [1], "ugly")


def test_read_only_refuses_writes(tmp_path, session):
    FlagEditor(session).add("sample", [1], "bad")
    with Session.open(session.path, read_only=True) as ro:
        assert ro.flag_rows("sample")[0][:3] == (1, "bad", "confirmed")
        with pytest.raises(SessionError, match="read-only"):
            FlagEditor(ro).add("sample", [2], "bad")


def test_save_as_copies_everything(tmp_path, session):
    FlagEditor(session).add("sample", [9], "good")
    copy = session.save_as(tmp_path / "copy.genloupe")
    assert copy.flag_rows("sample")[0][:2] == (9, "good")
    copy.close()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a GenLoupe session"),
        (os.urandom(4096), "not a GenLoupe session"),
        (b"SQLite format 3\x00" + os.urandom(4000), "corrupt session"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.genloupe"
    path.write_bytes(content)
    with pytest.raises(SessionError, match=message) as info:
        Session.open(path)
    assert "\n" not in str(info.value)


def test_foreign_sqlite_and_newer_schema_and_truncation(tmp_path, session):
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(SessionError, match="another application"):
        Session.open(foreign)
    session._db.execute("PRAGMA user_version = 99")
    with pytest.raises(SessionError, match="schema version 99"):
        Session.open(session.path)
    session._db.execute("PRAGMA user_version = 1")
    session.write_images("sample", np.zeros((5000, 1, 8, 8), np.uint8), 17)
    session._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    truncated = tmp_path / "truncated.genloupe"
    truncated.write_bytes(session.path.read_bytes()[:6000])
    with pytest.raises(SessionError):
        Session.open(truncated).read_images("sample")
    with pytest.raises(SessionError, match="no such session"):
        Session.open(tmp_path / "missing.genloupe")
    with pytest.raises(SessionError, match="cannot open or create"):
        Session.create(tmp_path / "no-such-folder" / "new.genloupe", RUN)


def test_sigkill_right_after_flagging_loses_nothing(tmp_path):
    path = tmp_path / "crash.genloupe"
    Session.create(path, RUN).close()
    script = textwrap.dedent(
        f"""
        import os, signal
        from genloupe.engine.session import FlagEditor, Session
        editor = FlagEditor(Session.open({str(path)!r}))
        for i in range(20):
            editor.add("sample", [i], "bad" if i % 2 else "memorized")
        editor.set_note("sample", 3, "copy of a training 3")
        print("flagged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL and "flagged" in result.stdout
    with Session.open(path) as s:
        flags = labels_by_sample(s.flag_rows("sample"))
        assert len(flags) == 20 and flags[1] == {"bad": "confirmed"} and flags[0] == {"memorized": "confirmed"}
        assert s.notes("sample")[3][0] == "copy of a training 3"


def test_likely_but_bad_calibrates_among_the_likely_real_images():
    rng = np.random.default_rng(1)
    real_ll, real_realism = rng.normal(-150, 10, 999), rng.uniform(0.5, 3.0, 999)
    good_ll, noise_ll = rng.normal(-150, 10, 900), rng.normal(-120, 5, 100)  # the bad ones score higher
    good_realism, noise_realism = rng.uniform(0.5, 3.0, 900), rng.uniform(0.0, 0.4, 100)
    log_px, realism = np.concatenate([good_ll, noise_ll]), np.concatenate([good_realism, noise_realism])
    found = likely_but_bad(log_px, realism, real_ll, real_realism, 0.05)
    # 5 % of all real images below the threshold, all of them likely: the 50th smallest gated realism
    likely = real_ll >= np.median(real_ll)
    assert found.threshold.value == np.sort(real_realism[likely])[49] and found.threshold.false_flag_rate == 0.05
    noise = set(range(900, 1000))
    hits = noise & set(found.ids.tolist())
    assert len(hits) / len(noise) > 0.9 and len(found.ids) - len(hits) < 0.08 * 900  # good ones: about 5 %
    assert "realism" in found.reasons[0] and "held-out real" in found.reasons[0]
    assert np.all(np.diff(log_px[found.ids]) <= 0)
    assert not np.isin(found.ids, np.flatnonzero(log_px < np.median(real_ll))).any()  # unlikely: never this test


def test_memorized_compares_with_held_out_real_images_distance_to_the_training_set():
    rng = np.random.default_rng(2)
    real_nn = rng.uniform(1.0, 2.0, 999)
    sample_nn = np.concatenate([rng.uniform(2.0, 3.0, 95), np.zeros(3), [0.5, 0.9]])
    found = memorized(sample_nn, real_nn, 0.05, nn_id=np.arange(100) + 7)
    assert sorted(found.ids.tolist()) == [95, 96, 97, 98, 99]
    assert found.threshold.value == np.sort(real_nn)[49]
    assert found.reasons[0].startswith("training image #102")
