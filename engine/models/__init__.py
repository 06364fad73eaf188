"""The model protocol and GenLoupe's model zoo."""

from .base import GenerativeModel, LikelihoodKind, ModelInfo, supports_per_dim
from .zoo import ZooModel, build_model, family_names

__all__ = ["GenerativeModel", "LikelihoodKind", "ModelInfo", "ZooModel", "build_model", "family_names", "supports_per_dim"]
