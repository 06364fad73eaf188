"""Every sample's flags as one bit word in memory, kept equal to the session file by each flag command.

The views ask for flags on every key press (badges, filters, the scatter's flagged points, counts);
reading every flag row from SQLite each time grew with the session. The bits are read once when a
session opens and then updated from each command's own rows (from ``before`` to ``after`` when done or
redone, back when undone), changing exactly the rows the command changed in the file.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from genloupe.engine.session import LABELS
from genloupe.engine.session.store import FlagRow
from genloupe.widgets.flag_keys import SUGGESTED_PREFIX

# Bit k: confirmed LABELS[k]; bit 16 + k: suggested LABELS[k] (drawn as '?label').
SUGGESTED_SHIFT = 16
NAMES = list(LABELS) + [""] * (SUGGESTED_SHIFT - len(LABELS)) + [SUGGESTED_PREFIX + label for label in LABELS]
CONFIRMED_MASK = (1 << len(LABELS)) - 1
SUGGESTED_MASK = CONFIRMED_MASK << SUGGESTED_SHIFT


def bit(label: str, state: str) -> int:
    return 1 << (LABELS.index(label) + (SUGGESTED_SHIFT if state == "suggested" else 0))


class FlagBits:
    """uint32 flag words of n samples (see NAMES for the meaning of each bit)."""

    def __init__(self, n: int, rows: Iterable[FlagRow] = ()) -> None:
        self.words = np.zeros(n, dtype=np.uint32)
        self._add(rows)

    def _add(self, rows: Iterable[FlagRow]) -> None:
        for idx, label, state, *_ in rows:
            self.words[idx] |= bit(label, state)

    def change(self, old: Iterable[FlagRow], new: Iterable[FlagRow]) -> None:
        """Apply what a command changed, as FlagCommand.apply does on disk: each (sample, label) whose state
        differs between its ``old`` and ``new`` rows takes the new state (or none); other flags stay."""
        was = {(idx, label): state for idx, label, state, *_ in old}
        becomes = {(idx, label): state for idx, label, state, *_ in new}
        for key in was.keys() | becomes.keys():
            if was.get(key) != becomes.get(key):
                idx, label = key
                self.words[idx] &= ~np.uint32(bit(label, "confirmed") | bit(label, "suggested"))
                if key in becomes:
                    self.words[idx] |= bit(label, becomes[key])

    def labels(self, idx: int) -> set[str]:
        """Labels as the grid draws them: confirmed 'bad', suggested '?bad'."""
        word = int(self.words[idx])
        return {name for k, name in enumerate(NAMES) if name and word >> k & 1}

    def flagged(self) -> np.ndarray:
        """Samples with any label, confirmed or suggested."""
        return self.words != 0

    def with_label(self, label: str) -> np.ndarray:
        """Ids holding ``label`` confirmed."""
        return np.flatnonzero(self.words & bit(label, "confirmed"))

    def suggested(self) -> np.ndarray:
        return np.flatnonzero(self.words & SUGGESTED_MASK)

    def unflagged(self) -> np.ndarray:
        return np.flatnonzero(self.words == 0)

    def counts(self) -> dict[str, int]:
        """{label or '?label': samples holding it}, for the flag summary every view shows."""
        counts = {}
        for k, name in enumerate(NAMES):
            if name:
                count = int(np.count_nonzero(self.words & (1 << k)))
                if count:
                    counts[name] = count
        return counts
