"""An image dataset on a grid of L levels, with deterministic splits and a content checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError

SPLITS = ("train", "val", "test", "all")


@dataclass(frozen=True)
class Dataset:
    """N images of shape (C, H, W) held as integers 0..levels-1 (uint8 or uint16).

    Display value is ``images / (levels - 1)``. ``labels`` is optional (class ids, or None).
    """

    name: str
    images: np.ndarray
    levels: int
    labels: np.ndarray | None = None
    source: str = ""
    ids: np.ndarray | None = field(default=None)  # stable per-image ids (file names, indices)
    format: str = ""  # the reader that produced it: digits, image-folder, npy, npz, idx, cifar10

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise DataError(f"{self.name}: images must have shape (N, C, H, W), got {self.images.shape}")
        if self.images.dtype.kind not in "ui":
            raise DataError(f"{self.name}: images must be integer levels, got dtype {self.images.dtype}")
        if self.levels < 2:
            raise DataError(f"{self.name}: levels must be at least 2, got {self.levels}")
        if len(self.images) and (self.images.min() < 0 or self.images.max() >= self.levels):
            raise DataError(
                f"{self.name}: values {int(self.images.min())}..{int(self.images.max())} "
                f"lie outside the declared levels 0..{self.levels - 1}"
            )
        if self.labels is not None and len(self.labels) != len(self.images):
            raise DataError(f"{self.name}: {len(self.labels)} labels for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def dims(self) -> int:
        c, h, w = self.shape
        return c * h * w

    def checksum(self) -> str:
        """SHA-256 over levels, shape and pixel bytes: the same images give the same key."""
        digest = hashlib.sha256()
        digest.update(f"{self.levels}:{self.images.shape}".encode())
        step = max(1, (16 << 20) // max(1, self.images[:1].size * 2))  # 16 MiB of uint16 at a time, not a full copy
        for start in range(0, len(self.images), step):
            digest.update(np.ascontiguousarray(self.images[start : start + step], dtype=np.uint16).tobytes())
        return digest.hexdigest()

    def subset(self, index: np.ndarray, name: str | None = None) -> "Dataset":
        return Dataset(
            name=name or self.name,
            images=self.images[index],
            levels=self.levels,
            labels=None if self.labels is None else self.labels[index],
            source=self.source,
            ids=None if self.ids is None else self.ids[index],
            format=self.format,
        )

    def split_indices(self, seed: int = 0, fractions: tuple[float, float] = (0.8, 0.1)) -> dict[str, np.ndarray]:
        """Deterministic train/val/test index arrays (a seeded permutation; test gets the rest)."""
        n = len(self)
        order = np.random.default_rng(seed).permutation(n)
        n_train = int(round(fractions[0] * n))
        n_val = int(round(fractions[1] * n))
        return {
            "train": np.sort(order[:n_train]),
            "val": np.sort(order[n_train : n_train + n_val]),
            "test": np.sort(order[n_train + n_val :]),
            "all": np.arange(n),
        }

    def split(self, which: str, seed: int = 0, declared: dict[str, np.ndarray] | None = None) -> "Dataset":
        """One split: GenLoupe's seeded one, or ``declared`` index arrays (the model's own, see split_file.py)."""
        if which not in SPLITS:
            raise DataError(f"unknown split {which!r}: use one of {', '.join(SPLITS)}")
        if which == "all":
            return self
        indices = (declared or self.split_indices(seed))[which]
        if not len(indices):
            raise DataError(f"{self.name}: the {which} split is empty (the declared split has no {which!r} images)")
        return self.subset(indices, name=f"{self.name}[{which}]")

    def as_float(self) -> np.ndarray:
        """Display values in [0, 1] as float32."""
        return self.images.astype(np.float32) / (self.levels - 1)
