"""Is a point inside a k-NN ball of the other set? Decided on float32 tiles, settled exactly near the surface.

A pair is inside when its squared distance compares with the ball's squared radius by ``comparison``:
``"<="`` (closed balls, as in Kynkäänniemi et al. 2019 and their code) or ``"<"`` (open balls, as prdc
does; with duplicated points an open ball of radius 0 holds nothing, which is how prdc's metrics fall to 0).
Pairs whose float32 distance is farther from the surface than the tile's rounding bound are decided
directly; the few within it are re-measured exactly in float64 and compared with the exact radius.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import MetricError
from .knn import UNIT_ROUNDOFF

COMPARISONS = ("<=", "<")

# exact squared distances for pairs given by (row, column) positions inside the current tile
PairDistances = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_comparison(comparison: str) -> None:
    if comparison not in COMPARISONS:
        raise MetricError(f"comparison must be '<=' (closed balls) or '<' (open balls), got {comparison!r}")


class BallTest:
    """Membership in the balls of radius² ``radii2`` (exact, float64) centred on a tile's rows or columns."""

    def __init__(self, radii2: torch.Tensor, comparison: str, centres_on: str) -> None:
        self.exact = radii2
        self.approx = radii2.to(torch.float32)
        self.centres_on = centres_on
        self.inside = torch.le if comparison == "<=" else torch.lt
        # rounding of the radii to float32 and of the subtraction
        self.slack = 4 * UNIT_ROUNDOFF * float(radii2.max())

    def excess(self, d: torch.Tensor, rs: slice, cs: slice, out: torch.Tensor) -> torch.Tensor:
        """d² − r² of each pair of the tile, into ``out``."""
        radii = self.approx[None, cs] if self.centres_on == "cols" else self.approx[rs, None]
        return torch.sub(d, radii, out=out)

    def any_inside(
        self, excess: torch.Tensor, dim: int, delta: float, exact: PairDistances, rs: slice, cs: slice
    ) -> torch.Tensor:
        """For each line of the tile (rows if ``dim=1``, columns if ``dim=0``): is any pair on it inside?"""
        delta += self.slack
        lowest = excess.amin(dim)
        inside = lowest < -delta
        lines = ((lowest <= delta) & ~inside).nonzero().squeeze(1)
        if lines.numel() == 0:
            return inside
        rows, cols = self._near_pairs(excess, lines, dim, delta)
        settled = self._settle(rows, cols, exact, rs, cs)
        inside[(rows if dim == 1 else cols)[settled]] = True
        return inside

    def count_inside(
        self,
        excess: torch.Tensor,
        delta: float,
        exact: PairDistances,
        rs: slice,
        cs: slice,
        buffer: torch.Tensor,
    ) -> torch.Tensor:
        """For each row of the tile: how many pairs on it are inside (``buffer``: float32 scratch, overwritten)."""
        delta += self.slack
        torch.le(excess, delta, out=buffer)
        maybe = buffer.sum(1)
        torch.lt(excess, -delta, out=buffer)
        sure = buffer.sum(1)
        counts = sure.to(torch.int64)
        lines = (maybe > sure).nonzero().squeeze(1)
        if lines.numel():
            rows, cols = self._near_pairs(excess, lines, 1, delta)
            settled = self._settle(rows, cols, exact, rs, cs)
            counts.index_add_(0, rows[settled], torch.ones_like(rows[settled]))
        return counts

    @staticmethod
    def _near_pairs(
        excess: torch.Tensor, lines: torch.Tensor, dim: int, delta: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tile positions on ``lines`` whose float32 decision is within the rounding bound."""
        near = excess.index_select(1 - dim, lines).abs_() <= delta
        first, second = near.nonzero(as_tuple=True)
        return (lines[first], second) if dim == 1 else (first, lines[second])

    def _settle(
        self, rows: torch.Tensor, cols: torch.Tensor, exact: PairDistances, rs: slice, cs: slice
    ) -> torch.Tensor:
        radii = self.exact[cols + cs.start] if self.centres_on == "cols" else self.exact[rows + rs.start]
        return self.inside(exact(rows, cols), radii)
