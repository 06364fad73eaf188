"""GenLoupe's model zoo: a registry of trainable families that share one checkpoint format.

A family is an ``nn.Module`` subclass of :class:`ZooModel`, built from a JSON-serializable config
(so a checkpoint is config + state dict and never needs pickled code), registered under its name.
A family may have several architectures: the default ``mlp`` (networks over the flattened image)
and ``conv`` (convolutional networks for images at real sizes), picked by the config key ``arch``.
A conv model's config always carries ``"arch": "conv"``; a config without the key is the default
architecture, so checkpoints written before architectures existed load as they were.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import ModelError
from .base import ModelInfo

DEFAULT_ARCH = "mlp"
FAMILIES: dict[str, type["ZooModel"]] = {}  # each family's default architecture
ARCHITECTURES: dict[tuple[str, str], type["ZooModel"]] = {}  # (family, arch): class


def register(cls: type["ZooModel"]) -> type["ZooModel"]:
    """Class decorator: make a family known to ``build_model``, ``genloupe train`` and the loaders."""
    ARCHITECTURES[cls.family, cls.arch] = cls
    if cls.arch == DEFAULT_ARCH:
        FAMILIES[cls.family] = cls
    return cls


def model_class(family: str, arch: Any = None) -> type["ZooModel"]:
    """The class of ``family`` in architecture ``arch`` (None: the default); one-line errors otherwise."""
    _ensure_families_loaded()
    if family not in FAMILIES:
        raise ModelError(f"unknown model family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    arch = DEFAULT_ARCH if arch is None else arch
    known = sorted(name for owner, name in ARCHITECTURES if owner == family)
    if not isinstance(arch, str) or (family, arch) not in ARCHITECTURES:
        raise ModelError(f"{family} has no architecture {arch!r}; architectures: {', '.join(known)}")
    return ARCHITECTURES[family, arch]


def build_model(family: str, config: dict[str, Any]) -> "ZooModel":
    """A fresh (untrained) model of ``family`` from its config (``arch`` picks the architecture)."""
    cls = model_class(family, config.get("arch"))
    return cls(**{key: value for key, value in config.items() if key != "arch"})


def family_names() -> list[str]:
    _ensure_families_loaded()
    return sorted(FAMILIES)


def _ensure_families_loaded() -> None:
    """Import the family modules so that their @register decorators run."""
    from . import families  # noqa: F401  (import for its side effect)


class ZooModel(nn.Module):
    """Base of zoo families. Subclasses set ``family``, store their constructor kwargs in ``config``
    and implement the protocol of :mod:`.base` (``info``, ``sample``, ``log_prob``)."""

    family: ClassVar[str] = ""
    arch: ClassVar[str] = DEFAULT_ARCH
    config: dict[str, Any]

    @property
    def info(self) -> ModelInfo:  # pragma: no cover - every family overrides
        raise NotImplementedError

    def heads(self) -> list[str]:
        """Names of the models this checkpoint exposes (the hybrid has 'vae' and 'gan')."""
        return [""]

    def head(self, name: str) -> Any:
        """The protocol model for head ``name`` ('' is the default head: the model itself)."""
        if name not in ("", *self.heads()):
            raise ModelError(f"{self.family} has no head {name!r}; heads: {', '.join(self.heads())}")
        return self

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


