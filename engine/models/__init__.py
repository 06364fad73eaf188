"""The model protocol and GenLoupe's model zoo."""

from .base import GenerativeModel, LikelihoodKind, ModelInfo, supports_per_dim

__all__ = ["GenerativeModel", "LikelihoodKind", "ModelInfo", "supports_per_dim"]
