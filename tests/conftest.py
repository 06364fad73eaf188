"""Test-wide setup: Qt runs headless (set before any QApplication exists); torch uses one thread.

One intra-op thread keeps the small test networks fast and timing-stable on a loaded 2-core
machine (two threads made them 7-10x slower under contention; the numbers are identical).
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402  (after the environment is set)

torch.set_num_threads(1)
