"""Feature extractors (images -> (N, d) features and optional class logits) and their disk cache."""

from .extract import Features, extract_features
from .extractor import FeatureExtractor
from .registry import DEFAULT, get_extractor, list_extractors

__all__ = ["DEFAULT", "FeatureExtractor", "Features", "extract_features", "get_extractor", "list_extractors"]
