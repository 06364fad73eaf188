"""Fixed-size sample blocks with their own seeded generators.

Randomness (dequantization noise, IWAE draws, sampling noise) is drawn per block of ``BLOCK``
samples from a generator seeded by (seed, block index), so per-sample values do not depend on the
batch size a task happens to use (batches are whole numbers of blocks) nor on out-of-memory back-off.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from .device import is_out_of_memory
from .progress import Progress

BLOCK = 64


# Independent random streams per task, so that a sample's own draws and the noise that later scores
# it never start from the same generator state.
SAMPLING, DEQUANTIZATION, BOUND = 0, 1, 2


def block_generator(seed: int, block: int, device: torch.device, stream: int = SAMPLING) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed((seed * 1_000_003 + block * 7919 + stream * 104_729 + 17) % (2**63 - 1))
    return generator


def round_to_blocks(batch_size: int) -> int:
    """The number of blocks in a batch of about ``batch_size`` samples (at least one)."""
    return max(1, batch_size // BLOCK)


def batches_of_blocks(n: int, blocks_per_batch: int, start_block: int = 0) -> Iterator[list[tuple[int, int, int]]]:
    """Yield batches as lists of (block index, start, stop) covering samples from start_block on."""
    n_blocks = (n + BLOCK - 1) // BLOCK
    for first in range(start_block, n_blocks, blocks_per_batch):
        yield [
            (b, b * BLOCK, min(n, (b + 1) * BLOCK))
            for b in range(first, min(n_blocks, first + blocks_per_batch))
        ]


def run_blocks(
    n: int,
    batch_size: int,
    compute: Callable[[list[tuple[int, int, int]]], np.ndarray],
    progress: Progress,
    stage: str,
) -> np.ndarray:
    """Apply ``compute`` to batches of whole blocks and concatenate the results along axis 0.

    Reports progress and honours cancellation between batches; on out-of-memory the number of
    blocks per batch halves and the failed batch is retried (results do not change, see above).
    """
    blocks_per_batch = round_to_blocks(batch_size)
    results: list[np.ndarray] = []
    done_blocks = 0
    n_blocks = (n + BLOCK - 1) // BLOCK
    progress.update(0, n, stage)
    while done_blocks < n_blocks:
        progress.check()
        batch = next(batches_of_blocks(n, blocks_per_batch, start_block=done_blocks))
        try:
            results.append(compute(batch))
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not is_out_of_memory(error) or blocks_per_batch == 1:
                raise
            blocks_per_batch //= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        done_blocks += len(batch)
        progress.update(batch[-1][2], n, stage)
    return np.concatenate(results, axis=0) if results else np.zeros((0,))
