"""Sample-quality metrics on (N, d) feature arrays (numpy or torch, any device).

FID/FD (frechet.py), KID (kid.py), IS (inception_score.py), improved precision/recall with realism and
density/coverage (prdc.py), nearest real neighbours (nearest.py); k-NN work is exact and tiled within a
memory budget (knn.py); intervals say what they cover (intervals.py).
"""

from .frechet import (
    FeatureStatistics,
    FrechetDistance,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_statistics,
)
from .inception_score import InceptionScore, inception_score
from .intervals import Interval
from .kid import KernelDistance, kid
from .knn import DEFAULT_MEMORY_BUDGET
from .nearest import NearestReal, nearest_real
from .prdc import (
    DensityCoverage,
    ManifoldMetrics,
    PrecisionRecall,
    density_coverage,
    manifold_metrics,
    precision_recall,
)

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "DensityCoverage",
    "FeatureStatistics",
    "FrechetDistance",
    "InceptionScore",
    "Interval",
    "KernelDistance",
    "ManifoldMetrics",
    "NearestReal",
    "PrecisionRecall",
    "density_coverage",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "inception_score",
    "kid",
    "manifold_metrics",
    "nearest_real",
    "precision_recall",
]
