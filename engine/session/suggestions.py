"""The engine's proposals for the person to review, each calibrated on held-out real images.

Every test gives each image a score and flags the images scoring below a threshold taken from the
held-out real images' scores (see engine/calibration.py), so it states the share of real images it would
flag. Held-out images are scored exactly as samples are: against the training images, under the same
scoring model.

- ``likely_but_bad``: the model finds the sample at least as likely as a typical held-out real image
  (log P(x) at or above their median), yet its realism against the training images is lower than that of
  real images as likely — what likelihood ranks high and quality rejects;
- ``unlikely``: log P(x) lower than real images get — noise a model mixes in, images of another kind;
- ``unrealistic``: realism lower than real images', whatever the likelihood (the test a likelihood-free
  model still has);
- ``memorized``: closer to its nearest training image than held-out real images are to theirs — a copy.

The first three propose the flag 'bad' and share its false-flag rate (each gets an equal part, so the
label as a whole flags at most the stated share of real images); ``memorized`` proposes 'memorized'.
Suggestions are only proposals: 'suggested' flags that the person confirms or removes by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from ..calibration import DEFAULT_FALSE_FLAG_RATE, Threshold, calibrated_below, check_rate, given_below
from ..errors import MetricError

if TYPE_CHECKING:
    from .flags import FlagEditor

TESTS = {"bad": ("likely_but_bad", "unlikely", "unrealistic"), "memorized": ("memorized",)}
LIKELY_QUANTILE = 0.5  # "likely": log P(x) at or above this quantile of the held-out real images'
REALISM = "realism against the training images (k-NN balls of at most median radius)"


@dataclass(frozen=True)
class SuggestOptions:
    """The false-flag rate of each label, unless a test's threshold is given outright."""

    false_flag_rate: float = DEFAULT_FALSE_FLAG_RATE
    likely_quantile: float = LIKELY_QUANTILE
    thresholds: Mapping[str, float] = field(default_factory=dict)  # test name -> a given threshold


@dataclass(frozen=True)
class Test:
    """One test's verdict: the ids it flags (most suspicious first), their scores and one-line reasons."""

    name: str
    ids: np.ndarray
    scores: np.ndarray
    reasons: list[str]
    threshold: Threshold
    score_name: str


@dataclass(frozen=True)
class Suggestions:
    """One proposed label: the union of its tests, with the share of real images the label flags."""

    label: str
    ids: np.ndarray  # sample indices, in the order of the tests that flagged them
    reasons: list[str]  # one line per id: the first test that flagged it
    scores: np.ndarray  # that test's score of each id
    tests: list[Test]

    @property
    def false_flag_rate(self) -> float:
        """Expected share of real images flagged with this label: at most the sum over its tests."""
        return float(min(1.0, sum(test.threshold.false_flag_rate for test in self.tests)))

    def to_dict(self) -> dict[str, Any]:
        """The JSON entry: ids, thresholds, false-flag rate, and for each id its score and reason."""
        return {
            "ids": self.ids.tolist(), "scores": self.scores.tolist(), "reasons": self.reasons,
            "false_flag_rate": self.false_flag_rate,
            "n_real": max((test.threshold.n_real for test in self.tests), default=0),
            "threshold": {test.name: {**test.threshold.to_dict(), "score": test.score_name, "n_flagged": len(test.ids)}
                          for test in self.tests},
        }


def suggest_all(sample: Mapping[str, np.ndarray], real: Mapping[str, np.ndarray],
                options: SuggestOptions = SuggestOptions()) -> list[Suggestions]:
    """Each label whose tests' scores exist for both the samples and the held-out real images."""
    check_rate(options.false_flag_rate)
    if not 0.0 < options.likely_quantile < 1.0:
        raise MetricError(f"the 'likely' quantile must lie strictly between 0 and 1, got {options.likely_quantile:g}")
    available = {name for name, needs in _NEEDS.items() if all(c in sample and c in real for c in needs)}
    found = []
    for label, names in TESTS.items():
        names = [name for name in names if name in available]
        if names:
            share = options.false_flag_rate / len(names)
            found.append(combine(label, [_RUN[name](sample, real, share, options) for name in names]))
    return found


def combine(label: str, tests: list[Test]) -> Suggestions:
    """A label's suggestions: every id any test flags, with the reason and score of the first such test."""
    seen: dict[int, tuple[str, float]] = {}
    for test in tests:
        for idx, score, reason in zip(test.ids.tolist(), test.scores.tolist(), test.reasons):
            seen.setdefault(idx, (reason, score))
    ids = np.fromiter(seen, np.int64, len(seen))
    return Suggestions(label, ids, [seen[i][0] for i in seen], np.array([seen[i][1] for i in seen]), tests)


def likely_but_bad(log_px: np.ndarray, realism: np.ndarray, real_log_px: np.ndarray, real_realism: np.ndarray,
                   rate: float, options: SuggestOptions = SuggestOptions()) -> Test:
    """Likely (log P(x) ≥ the held-out real quantile) and less realistic than the likely real images allow.

    Real images that are not likely can never be flagged (score +inf), so the threshold is set among the
    likely ones and the test flags the stated share of all real images.
    """
    likely_cut = float(np.quantile(real_log_px, options.likely_quantile))
    threshold = _threshold("likely_but_bad", np.where(real_log_px >= likely_cut, real_realism, np.inf), rate, options)
    chosen = np.flatnonzero((log_px >= likely_cut) & (realism < threshold.value))
    chosen = chosen[np.argsort(-log_px[chosen], kind="stable")]
    above = [100 * np.mean(real_log_px <= log_px[i]) for i in chosen]
    reasons = [f"log P(x) above {share:.0f}% of held-out real images, yet realism {realism[i]:.2f} < {threshold.value:.2f}"
               for i, share in zip(chosen, above)]
    return Test("likely_but_bad", chosen, realism[chosen], reasons, threshold, REALISM)


def unlikely(log_px: np.ndarray, real_log_px: np.ndarray, rate: float, options: SuggestOptions = SuggestOptions()) -> Test:
    """log P(x) below the share ``rate`` of held-out real images: the model's own samples it finds implausible."""
    threshold = _threshold("unlikely", real_log_px, rate, options)
    chosen = np.flatnonzero(log_px < threshold.value)
    chosen = chosen[np.argsort(log_px[chosen], kind="stable")]
    reasons = [f"log P(x) {log_px[i]:.1f} nats < {threshold.value:.1f}, below held-out real images" for i in chosen]
    return Test("unlikely", chosen, log_px[chosen], reasons, threshold, "log P(x) in nats, under the scoring model")


def unrealistic(realism: np.ndarray, real_realism: np.ndarray, rate: float, options: SuggestOptions = SuggestOptions()) -> Test:
    """Realism below the share ``rate`` of held-out real images, whatever the likelihood."""
    threshold = _threshold("unrealistic", real_realism, rate, options)
    chosen = np.flatnonzero(realism < threshold.value)
    chosen = chosen[np.argsort(realism[chosen], kind="stable")]
    reasons = [f"realism {realism[i]:.2f} < {threshold.value:.2f}, below held-out real images" for i in chosen]
    return Test("unrealistic", chosen, realism[chosen], reasons, threshold, REALISM)


def memorized(nn_distance: np.ndarray, real_nn_distance: np.ndarray, rate: float,
              options: SuggestOptions = SuggestOptions(), nn_id: np.ndarray | None = None) -> Test:
    """Closer to the nearest training image than the share ``rate`` of held-out real images are to theirs."""
    threshold = _threshold("memorized", real_nn_distance, rate, options)
    chosen = np.flatnonzero(nn_distance < threshold.value)
    chosen = chosen[np.argsort(nn_distance[chosen], kind="stable")]
    which = (lambda i: f"training image #{int(nn_id[i])}") if nn_id is not None else (lambda i: "nearest training image")
    reasons = [f"{which(i)} at distance {nn_distance[i]:.3g} < {threshold.value:.3g}, nearer than held-out real images"
               for i in chosen]
    return Test("memorized", chosen, nn_distance[chosen], reasons, threshold, "feature distance to the nearest training image")


def _threshold(test: str, real_scores: np.ndarray, rate: float, options: SuggestOptions) -> Threshold:
    given = options.thresholds.get(test)
    return given_below(real_scores, given) if given is not None else calibrated_below(real_scores, rate)


_NEEDS = {"likely_but_bad": ("log_px", "realism_train"), "unlikely": ("log_px",), "unrealistic": ("realism_train",),
          "memorized": ("train_nn_distance",)}
_RUN = {
    "likely_but_bad": lambda s, r, rate, o: likely_but_bad(s["log_px"], s["realism_train"], r["log_px"], r["realism_train"],
                                                           rate, o),
    "unlikely": lambda s, r, rate, o: unlikely(s["log_px"], r["log_px"], rate, o),
    "unrealistic": lambda s, r, rate, o: unrealistic(s["realism_train"], r["realism_train"], rate, o),
    "memorized": lambda s, r, rate, o: memorized(s["train_nn_distance"], r["train_nn_distance"], rate, o, s.get("train_nn_id")),
}


def write_suggestions(editor: "FlagEditor", found: list[Suggestions], source: str = "sample") -> int:
    """Write each label's ids as 'suggested' flags with their one-line reasons, as one undoable step.

    Suggestions of these labels left from an earlier calibration that no longer passes are withdrawn in the
    same step, so the session's flags always match the thresholds it records; confirmed flags are never touched.
    """
    editor.replace_suggestions(source, {s.label: dict(zip(s.ids.tolist(), s.reasons)) for s in found})
    return sum(len(s.ids) for s in found)


def suggested_labels(found: list[Suggestions]) -> dict[int, str]:
    """{sample id: 'bad;memorized'}: the CSV column ``suggested``."""
    labels: dict[int, list[str]] = {}
    for suggestion in found:
        for idx in suggestion.ids.tolist():
            labels.setdefault(idx, []).append(suggestion.label)
    return {idx: ";".join(names) for idx, names in labels.items()}


def options_record(options: SuggestOptions) -> dict[str, Any]:
    """The options as the session's run records them, so every view recomputes the same thresholds."""
    return {"false_flag_rate": options.false_flag_rate, "likely_quantile": options.likely_quantile,
            "thresholds": dict(options.thresholds)}


def options_from_record(record: Mapping[str, Any] | None) -> SuggestOptions:
    record = record or {}
    return SuggestOptions(false_flag_rate=float(record.get("false_flag_rate", DEFAULT_FALSE_FLAG_RATE)),
                          likely_quantile=float(record.get("likely_quantile", LIKELY_QUANTILE)),
                          thresholds={str(k): float(v) for k, v in (record.get("thresholds") or {}).items()})
