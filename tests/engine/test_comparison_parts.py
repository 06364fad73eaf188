"""The comparison's parts without models: Kendall's τ against scipy and closed forms, rankings and discordant
pairs, epochs from names, trajectories, and the comparison file with its bad inputs."""

from __future__ import annotations

import itertools
import math
import sqlite3

import numpy as np
import pytest
from scipy.stats import kendalltau

from genloupe.engine.comparison import (
    Comparison, ComparisonSettings, Member, epoch_from_name, is_comparison, kendall_tau, likelihood_bound,
    rank_members, trajectory,
)
from genloupe.engine.comparison.rankings import discordant_pairs
from genloupe.engine.comparison.trajectory import checkpoint_files
from genloupe.engine.errors import SessionError
from genloupe.engine.session import Session

DIGITS = {"name": "digits[test]", "checksum": "abc", "n": 179, "levels": 17}


def member(name: str, tmp_path, epoch: int | None = None, reference: dict = DIGITS, **values: float) -> Member:
    metrics = {key: {"value": value, "ci": [value - 0.1, value + 0.1]} for key, value in values.items()}
    return Member(name=name, address=f"/models/{name}.pt", session=tmp_path / f"{name}.genloupe",
                  summary={"metrics": metrics, "reference": reference, "model": {"data_shape": [1, 8, 8]}}, epoch=epoch)


# -- Kendall's tau -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_tau_is_scipys_tau_b_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    a = rng.normal(size=n) if seed % 2 else rng.integers(0, 3, n).astype(float)  # odd seeds: no ties
    b = rng.normal(size=n) if seed % 3 else rng.integers(0, 3, n).astype(float)
    assert kendall_tau(a, b) == pytest.approx(kendalltau(a, b).statistic, abs=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_tau_closed_forms(n):
    a = np.arange(n, dtype=float)
    assert kendall_tau(a, a) == 1.0
    assert kendall_tau(a, -a) == -1.0
    swapped = a.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # one adjacent swap: one discordant pair out of n(n-1)/2
    assert kendall_tau(a, swapped) == pytest.approx(1 - 4 / (n * (n - 1)))
    assert discordant_pairs(a, swapped) == [(1, 0)]


def test_without_ties_the_discordant_pairs_are_the_share_tau_implies():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=9), rng.normal(size=9)
    pairs = 9 * 8 // 2
    assert len(discordant_pairs(a, b)) == round((1 - kendall_tau(a, b)) / 2 * pairs)
    brute = [(i, j) for i, j in itertools.permutations(range(9), 2) if a[i] > a[j] and b[i] < b[j]]
    assert sorted(discordant_pairs(a, b)) == sorted(brute)


def test_a_constant_ranking_has_no_tau():
    assert math.isnan(kendall_tau([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


# -- rankings of members -------------------------------------------------------------------------------------


def test_rankings_turn_lower_is_better_metrics_around(tmp_path):
    members = [member("a", tmp_path, bpd=2.0, fid=50.0, precision=0.6),
               member("b", tmp_path, bpd=3.0, fid=40.0, precision=0.7),
               member("c", tmp_path, bpd=4.0, fid=90.0, precision=0.9),
               member("gan", tmp_path, fid=10.0, precision=0.95)]  # no likelihood: left out of every ranking
    rankings = rank_members(members)
    assert set(rankings) == {"fid", "precision"}
    fid = rankings["fid"]
    assert fid.members == (0, 1, 2)
    assert fid.by_likelihood == (0, 1, 2) and fid.by_quality == (1, 0, 2)
    assert fid.discordant == ((0, 1),)  # the likelihood prefers a, FID prefers b
    assert fid.tau == pytest.approx(kendalltau([-2, -3, -4], [-50, -40, -90]).statistic)
    precision = rankings["precision"]
    assert precision.by_quality == (2, 1, 0) and precision.tau == -1.0 and len(precision.discordant) == 3


# -- epochs and trajectories ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, epoch", [
    ("model-epoch0012.pt", 12), ("ckpt_step3000.safetensors", 3000), ("run-007.pt", 7), ("iter=5.pt", 5),
    ("flow.pt", None), ("vae2-epoch3.pt", 3), ("model.v2.pt", None),
])
def test_epochs_from_file_names(name, epoch):
    assert epoch_from_name(f"/runs/{name}") == epoch


def test_a_folder_of_checkpoints_is_ordered_by_step_not_by_name(tmp_path):
    for name in ("m-epoch10.pt", "m-epoch2.pt", "m-epoch1.pt", "notes.txt", "final.pt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in checkpoint_files(tmp_path)] == ["m-epoch1.pt", "m-epoch2.pt", "m-epoch10.pt", "final.pt"]


def test_trajectory_orders_by_epoch_and_finds_where_likelihood_and_precision_part(tmp_path):
    members = [member("e3", tmp_path, 3, bpd=2.5, precision=0.70), member("e1", tmp_path, 1, bpd=3.0, precision=0.60),
               member("e2", tmp_path, 2, bpd=2.8, precision=0.75), member("other", tmp_path, None, bpd=1.0)]
    path = trajectory(members, ("bpd", "precision", "fid"))
    assert path.epochs.tolist() == [1, 2, 3] and path.members == (1, 2, 0)
    assert path.values["bpd"].tolist() == [3.0, 2.8, 2.5] and "fid" not in path.values
    np.testing.assert_allclose(path.intervals["precision"][1], [0.65, 0.85])
    assert path.parting("precision", "higher") == [3]  # bits/dim fell from 2.8 to 2.5 while precision fell too
    assert path.gap_opens() is None  # no train split scored
    assert trajectory(members[3:], ("bpd",)) is None


def test_memorizing_checkpoints_part_the_other_way_and_open_the_gap(tmp_path):
    """Held-out bits/dim best at epoch 2, then worse while train bits/dim and FID keep improving."""
    rows = [(1, 3.0, 2.9, 90.0), (2, 2.5, 2.3, 60.0), (3, 2.6, 2.0, 50.0), (4, 2.8, 1.7, 40.0)]
    members = [member(f"e{e}", tmp_path, e, bpd=b, train_bpd=t, fid=f) for e, b, t, f in rows]
    path = trajectory(members, ("bpd", "train_bpd", "fid"))
    assert path.parting("fid", "lower") == [3, 4]
    assert path.gap_opens() == 2


def test_the_noise_bound_is_minus_log_one_minus_w():
    assert likelihood_bound(0.99) == pytest.approx(math.log(100))
    assert likelihood_bound(0.5) == pytest.approx(math.log(2))
    assert likelihood_bound(0.0) == 0.0


# -- the comparison file -----------------------------------------------------------------------------------------


def test_members_survive_closing_and_sessions_are_kept_relative(tmp_path):
    settings = ComparisonSettings(n_samples=50, features="pixels", seed=3)
    path = tmp_path / "study" / "c.glcompare"
    path.parent.mkdir()
    with Comparison.create(path, settings) as comparison:
        session = comparison.new_session_path("flow.pt + 0.5 noise")
        assert session.parent == path.parent / "c-models" and session.suffix == ".genloupe"
        flow = member("flow", tmp_path, 4, bpd=2.0)
        added = comparison.add_member(Member(**{**flow.__dict__, "session": session}))
        assert added.id == 1
    moved = tmp_path / "moved"
    (tmp_path / "study").rename(moved)
    with Comparison.open(moved / "c.glcompare", read_only=True) as comparison:
        assert comparison.settings == settings and comparison.reference == DIGITS
        (only,) = comparison.members()
        assert only.name == "flow" and only.epoch == 4 and only.value("bpd") == 2.0
        assert only.session == moved / "c-models" / session.name  # the folder moved with its member sessions
        with pytest.raises(SessionError, match="read-only"):
            comparison.add_member(member("mixture", tmp_path, bpd=2.5))


def test_a_member_scored_on_other_data_is_refused(tmp_path):
    with Comparison.create(tmp_path / "c.glcompare", ComparisonSettings()) as comparison:
        comparison.add_member(member("flow", tmp_path, bpd=2.0))
        other = {**DIGITS, "checksum": "def", "name": "mnist[test]"}
        with pytest.raises(SessionError, match="mnist"):
            comparison.add_member(member("mixture", tmp_path, reference=other, bpd=2.5))
        assert [m.name for m in comparison.members()] == ["flow"]


def test_files_that_are_not_comparisons_are_one_line_session_errors(tmp_path):
    with pytest.raises(SessionError, match="no such"):
        Comparison.open(tmp_path / "missing.glcompare")
    text = tmp_path / "notes.glcompare"
    text.write_text("hello")
    session = Session.create(tmp_path / "model.genloupe", {})
    session.close()
    foreign = tmp_path / "other.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    for path in (text, tmp_path / "model.genloupe", foreign):
        assert not is_comparison(path)
        with pytest.raises(SessionError, match="not a GenLoupe comparison"):
            Comparison.open(path)


def test_a_damaged_comparison_is_a_session_error(tmp_path):
    path = tmp_path / "c.glcompare"
    with Comparison.create(path, ComparisonSettings()) as comparison:
        comparison.add_member(member("flow", tmp_path, bpd=2.0))
    db = sqlite3.connect(path)
    db.execute("UPDATE members SET summary = '{broken'")
    db.commit()
    db.close()
    with pytest.raises(SessionError, match="summary.*not valid JSON"):
        Comparison.open(path)
    data = bytearray(path.read_bytes())
    data[120:4000] = b"\xff" * (4000 - 120)
    path.write_bytes(bytes(data))
    with pytest.raises(SessionError):
        Comparison.open(path)


@pytest.mark.parametrize("sql, message", [
    ("CREATE VIEW spin AS WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT x FROM r", "layout"),
    ("CREATE TRIGGER t AFTER INSERT ON members BEGIN DELETE FROM meta; END", "layout"),
    ("UPDATE meta SET value = '{\"n_samples\": \"lots\"}' WHERE key = 'settings'", "n_samples"),
    ("UPDATE meta SET value = '{\"metrics\": [\"ll\", \"rm -rf\"]}' WHERE key = 'settings'", "metrics"),
    ("UPDATE meta SET value = '[1, 2]' WHERE key = 'settings'", "not an object"),
    ("UPDATE meta SET value = '" + "[" * 5000 + "' WHERE key = 'settings'", "settings"),
    ("UPDATE members SET noise_weight = 7", "noise weight"),
    ("UPDATE members SET epoch = 'soon'", "epoch"),
    ("UPDATE members SET name = x'00ff'", "text"),
    ("UPDATE members SET summary = '{\"metrics\": {\"fid\": {\"value\": \"big\"}}}'", "not a number"),
])
def test_a_crafted_comparison_is_a_one_line_session_error(tmp_path, sql, message):
    path = tmp_path / "c.glcompare"
    with Comparison.create(path, ComparisonSettings()) as comparison:
        comparison.add_member(member("flow", tmp_path, 3, bpd=2.0))
    db = sqlite3.connect(path)
    db.execute(sql)
    db.commit()
    db.close()
    with pytest.raises(SessionError, match=message) as error:
        with Comparison.open(path) as comparison:
            comparison.settings  # noqa: B018
    assert "\n" not in str(error.value)
