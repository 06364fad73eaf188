"""Test-wide setup: Qt runs headless (set before any QApplication exists), caches and settings live in a
scratch folder, torch uses one thread.

One intra-op thread keeps the small test networks fast and timing-stable on a loaded 2-core
machine (two threads made them 7-10x slower under contention; the numbers are identical).
"""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Caches, settings and autosaved sessions go to a throwaway folder, never the user's own.
_scratch = tempfile.mkdtemp(prefix="genloupe-tests-")
os.environ["GENLOUPE_CACHE_DIR"] = os.path.join(_scratch, "cache")
os.environ["GENLOUPE_CONFIG_DIR"] = os.path.join(_scratch, "config")
# Feature weights a developer has (torch hub's cache, variables) would change the default features.
os.environ["TORCH_HOME"] = os.path.join(_scratch, "torch")
for _variable in ("GENLOUPE_INCEPTION_WEIGHTS", "GENLOUPE_DINOV2_WEIGHTS"):
    os.environ.pop(_variable, None)

import torch  # noqa: E402  (after the environment is set)

torch.set_num_threads(1)
