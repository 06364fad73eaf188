"""Labels that never contradict each other: likelihood kinds, realism against any-ball membership, the scoring
model of a likelihood-free head, and what a per-pixel map sums to."""

import io

import numpy as np
import pytest

from genloupe.app.commands.info import describe, format_summary
from genloupe.app.demo import demo_model_path
from genloupe.app.report.model import gather_report, provenance_rows
from genloupe.app.summary_text import print_summary
from genloupe.app.wording import INSIDE, REALISM, bits_caption
from genloupe.engine.checkpoints import open_model
from genloupe.engine.data import open_data
from genloupe.engine.evaluation import EvaluationSettings, evaluate
from genloupe.engine.likelihood import evaluate_likelihood
from genloupe.engine.results import summary, write_session


@pytest.fixture(scope="module")
def digits():
    return open_data("digits")


def test_a_flow_is_an_exact_density_and_a_bound_on_log_p_in_info_and_in_every_convention(digits):
    flow = open_model(demo_model_path("flow (RealNVP)"))
    info_line = next(line for line in format_summary(describe(flow.info.to_dict())).splitlines()
                     if line.startswith("likelihood"))
    convention = evaluate_likelihood(flow, digits.images[:8], 17, device="cpu").convention
    for text in (info_line, convention.describe(), convention.short()):
        assert "density exact" in text and "log P(x) bound" in text.replace("lower bound", "bound")
    assert "likelihood exact" not in info_line.replace("  ", " ")
    assert info_line.split("likelihood", 1)[1].strip().split(";")[0] in convention.describe()  # the same words
    discrete = open_model(demo_model_path("autoregressive"))
    assert "log P(x) exact" in format_summary(describe(discrete.info.to_dict()))


def test_a_likelihood_free_head_names_the_model_that_scored_it_everywhere(digits, tmp_path):
    gan, vae = open_model(demo_model_path("GAN head (hybrid)")), open_model(demo_model_path("VAE head (hybrid)"))
    result = evaluate(gan, digits.split("test"), EvaluationSettings(n_samples=40, device="cpu", metrics=("ll",)),
                      scoring_model=vae)
    for key in ("mean_bpd_sample", "mean_bpd_reference"):
        assert result.metrics[key]["convention"].startswith(f"scored under {vae.info.name}: ")
    out = io.StringIO()
    print_summary(summary(result, model_path="gan"), out, scored_with=vae.info.name)
    assert out.getvalue().count(f"scored under {vae.info.name}") == 2
    with write_session(result, tmp_path / "g.genloupe", {"checkpoint": "vaegan.pt#gan", "scored_with": "vaegan.pt#vae"}) as session:
        report = gather_report(session)
    assert ("likelihood scored under", "vaegan.pt#vae") in report.provenance
    assert all("scored under" in row.convention for row in report.metrics if row.key.startswith("mean_bpd"))


def test_provenance_is_written_for_people(digits, tmp_path):
    result = evaluate(open_model(demo_model_path("diagonal Gaussian")), digits.split("test"),
                      EvaluationSettings(n_samples=30, device="cpu", metrics=("ll",)))
    with write_session(result, tmp_path / "d.genloupe", {"checkpoint": "gaussian.pt"}) as session:
        session.update_run(suggestions={"false_flag_rate": 0.05, "likely_quantile": 0.5, "thresholds": {}})
        rows = dict(provenance_rows(session.run))
    text = " ".join(rows.values())
    assert "{" not in text and "'" not in text.replace("'likely'", "")
    for raw in ("value_infinity", "data_shape", "k_deq", "false_flag_rate", "per_dim"):
        assert raw not in text
    assert rows["time taken"].split(", ")[0].split()[-1] in ("ms", "s", "min")
    assert "5% of held-out real images" in rows["suggestions"]


def test_realism_and_manifold_membership_are_named_apart_and_per_pixel_captions_say_their_estimator():
    assert "realism" in REALISM and "typical" in REALISM and "any size" in INSIDE and "manifold" not in INSIDE
    bits = np.full((1, 8, 8), 2.0)
    assert bits_caption(bits, 2.0, {"dequantization": "none"}) == "bits per pixel · mean 2.000 = bits/dim"
    continuous = bits_caption(bits, 1.97, {"dequantization": "uniform"})
    assert "plain dequantization bound" in continuous and "1.970" in continuous and "importance-weighted" in continuous


def test_kid_states_its_scale_and_method_and_shows_one_uncertainty_in_window_cli_and_report():
    from genloupe.app.metric_rows import metric_rows
    from genloupe.app.report.html import metric_table
    from genloupe.app.report.model import metric_row
    from genloupe.app.summary_text import uncertainty

    entry = {"value": 514.1, "std": 59.86, "method": "± std over 100 overlapping subsets of 179", "n_real": 179, "n_fake": 300,
             "convention": "digits-cnn features (d=64); unbiased MMD², cubic polynomial kernel"}
    window = next(row for row in metric_rows({"kid": entry}))
    assert window["name"] == "KID (MMD², unscaled)" and window["interval"] == pytest.approx((514.1 - 59.86, 514.1 + 59.86))
    assert window["note"].startswith("± std over 100") and "cubic polynomial kernel" in window["convention"]
    assert uncertainty(window) == "± 59.86 (std over 100 overlapping subsets of 179)"
    rows, notes = metric_table([metric_row("kid", entry)])
    assert rows[0]["name"].startswith("KID (MMD², unscaled)") and rows[0]["value"] == "514.1 ± 59.86"
    assert notes == [entry["method"], entry["convention"]]
