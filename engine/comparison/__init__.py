"""Several models against one reference: a comparison is a session of sessions.

Each model's evaluation stays an ordinary session file (its per-sample views, flags and report); the
comparison file holds their addresses, the settings every member shares (reference, split, seed,
sample count, features) and each member's metrics, so adding a model costs that model alone (the
reference's features come from the feature cache after the first member).
"""

from .evaluate import MemberSpec, evaluate_member, open_reference
from .rankings import QUALITY_METRICS, Ranking, kendall_tau, rank_members
from .store import COMPARISON_SUFFIX, Comparison, ComparisonSettings, Member, is_comparison
from .sweep import NOISE_WEIGHTS, likelihood_bound, noise_sweep_specs
from .trajectory import Trajectory, epoch_from_name, trajectory

__all__ = [
    "COMPARISON_SUFFIX", "Comparison", "ComparisonSettings", "Member", "MemberSpec", "NOISE_WEIGHTS",
    "QUALITY_METRICS", "Ranking", "Trajectory", "epoch_from_name", "evaluate_member", "is_comparison",
    "kendall_tau", "likelihood_bound", "noise_sweep_specs", "open_reference", "rank_members", "trajectory",
]
