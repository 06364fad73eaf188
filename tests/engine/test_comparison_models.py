"""Comparisons of real models: the bundled demo models ranked by likelihood and by quality, with τ recomputed
from their metrics; a model added later costs that model alone; the noise-mixture sweep of Theis et al."""

from __future__ import annotations

import math
from importlib.resources import files

import numpy as np
import pytest
from scipy.stats import kendalltau

from genloupe.engine.comparison import (
    Comparison, ComparisonSettings, MemberSpec, evaluate_member, likelihood_bound, noise_sweep_specs, open_reference,
    rank_members,
)
from genloupe.engine.comparison.rankings import QUALITY_METRICS
from genloupe.engine.errors import CheckpointError
from genloupe.engine.features import cache
from genloupe.engine.session import Session

DEMO = files("genloupe.assets") / "demo"
LIKELIHOOD_MODELS = ("autoregressive.pt", "flow.pt", "gaussian.pt", "mixture.pt", "vaegan.pt#vae")  # listed by address
N = 100
DIMS, LN2 = 64, math.log(2)


def add(comparison: Comparison, address: str, noise_weight: float = 0.0):
    settings = comparison.settings
    reference, train = open_reference(settings)
    spec = MemberSpec(address, noise_weight)
    return comparison.add_member(evaluate_member(spec, settings, reference, train, comparison.new_session_path(spec.name)))


@pytest.fixture(scope="module")
def demo_comparison(tmp_path_factory):
    path = tmp_path_factory.mktemp("compare") / "demo.glcompare"
    comparison = Comparison.create(path, ComparisonSettings(n_samples=N, device="cpu"))
    for name in LIKELIHOOD_MODELS:
        add(comparison, str(DEMO / name))
    yield comparison
    comparison.close()


def test_demo_models_are_ranked_from_their_own_metrics(demo_comparison):
    members = demo_comparison.members()
    assert [m.name for m in members] == list(LIKELIHOOD_MODELS)
    bpd = np.array([m.value("bpd") for m in members])
    assert bpd[2] == max(bpd) and (bpd < math.log2(17)).all()  # the diagonal Gaussian is last, all beat uniform
    rankings = rank_members(members)
    assert set(rankings) == set(QUALITY_METRICS)
    for metric, ranking in rankings.items():
        quality = np.array([m.value(metric) for m in members])
        goodness = quality if QUALITY_METRICS[metric] == "higher" else -quality
        assert list(ranking.by_likelihood) == list(np.argsort(bpd, kind="stable"))
        assert list(ranking.by_quality) == list(np.argsort(-goodness, kind="stable"))
        assert ranking.tau == pytest.approx(kendalltau(-bpd, goodness).statistic, abs=1e-12), metric
        expected = {(i, j) for i in range(5) for j in range(5) if bpd[i] < bpd[j] and goodness[i] < goodness[j]}
        assert set(ranking.discordant) == expected, metric
    # the question GenLoupe asks: on the demo digits the likelihood does not order the models as precision does
    assert rankings["precision"].tau < 0.5 and rankings["precision"].discordant


def test_each_member_is_a_session_with_the_shared_seed_and_reference(demo_comparison):
    reference = demo_comparison.reference
    for member in demo_comparison.members():
        with Session.open(member.session, read_only=True) as session:
            run, metrics = session.run, session.read_metrics()
            assert run["seed"] == 0 and run["n_samples"] == N and run["checkpoint"] == member.address
            assert run["reference"]["checksum"] == reference["checksum"]
            assert metrics["precision"]["value"] == member.value("precision")
            bpd = session.read_columns("reference")["bpd"]
            assert bpd.mean() == pytest.approx(member.value("bpd"))
            low, high = member.metrics["bpd"]["ci"]
            assert low < bpd.mean() < high
            assert "train" in session.sources()  # the train split is scored too: the overfitting gap


def test_adding_a_model_later_extracts_features_of_its_samples_only(demo_comparison):
    folder = cache.default_cache_dir()
    before = set(folder.glob("*.npz"))
    member = add(demo_comparison, str(DEMO / "vaegan.pt") + "#gan")  # no likelihood: in the table, in no ranking
    assert len(set(folder.glob("*.npz")) - before) == 1  # its samples' features; the reference's came from the cache
    assert member.value("bpd") is None and member.value("fid") > 0
    assert len(rank_members(demo_comparison.members())["fid"].members) == 5


def test_a_model_that_cannot_be_opened_is_a_one_line_error_and_changes_nothing(demo_comparison, tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    count = len(demo_comparison.members())
    with pytest.raises(CheckpointError):
        add(demo_comparison, str(broken))
    assert len(demo_comparison.members()) == count


def test_noise_mixture_sweep_loses_at_most_minus_log_one_minus_w_while_precision_falls(tmp_path):
    """Theis et al. (2016) as a comparison. Quality on raw pixels: uniform noise lies in no digit's neighbourhood."""
    comparison = Comparison.create(tmp_path / "sweep.glcompare", ComparisonSettings(n_samples=200, features="pixels",
                                                                                   metrics=("ll", "pr"), device="cpu"))
    for spec in noise_sweep_specs(str(DEMO / "autoregressive.pt")):
        add(comparison, spec.address, spec.noise_weight)
    members = comparison.members()
    assert [m.noise_weight for m in members] == [0.0, 0.5, 0.9, 0.99]
    with Session.open(members[0].session, read_only=True) as session:
        clean = session.read_columns("reference")["log_px"]
    precision = [m.value("precision") for m in members]
    for member in members[1:]:
        with Session.open(member.session, read_only=True) as session:
            mixed = session.read_columns("reference")["log_px"]
        bound = likelihood_bound(member.noise_weight)
        assert (clean - mixed).max() <= bound + 1e-4  # image by image: log q >= log(1 - w) + log p
        lost = (member.value("bpd") - members[0].value("bpd")) * DIMS * LN2
        assert 0 < lost <= bound + 1e-4
    assert (members[-1].value("bpd") - members[0].value("bpd")) < 0.105  # 99% noise: +0.104 bits/dim at most
    assert precision == sorted(precision, reverse=True) and precision[0] > 0.5 and precision[-1] < 0.05
    comparison.close()
