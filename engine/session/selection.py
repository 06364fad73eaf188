"""The one selection every view renders: a set of sample ids and how it was made. Qt-free."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Observer = Callable[["Selection"], None]


@dataclass
class Selection:
    """Selected ids of one source ('sample' or 'reference'), with a description ('bits/dim 2.0..2.5')."""

    source: str = "sample"
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    description: str = ""
    observers: list[Observer] = field(default_factory=list, repr=False)

    def set(self, ids: np.ndarray, description: str = "", source: str | None = None) -> None:
        """Replace the selection and tell every observer (views push nothing back: no loops)."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        source = source or self.source
        if source == self.source and np.array_equal(ids, self.ids) and description == self.description:
            return
        self.source, self.ids, self.description = source, ids, description
        for observer in self.observers:
            observer(self)

    def clear(self) -> None:
        self.set(np.zeros(0, dtype=np.int64), "")

    def __len__(self) -> int:
        return len(self.ids)
