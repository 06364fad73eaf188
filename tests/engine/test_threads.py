"""BLAS worker threads sleep after a product in any process that imports GenLoupe first (engine/threads.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

IDLE_CPU = """
import sys, time
import {first}
assert "numpy" not in sys.modules, "NumPy loaded before GenLoupe could set its BLAS threads"
import numpy as np
a = np.ones((1500, 1500))
a @ a  # wakes OpenBLAS's worker threads
start = time.process_time()
time.sleep(0.05)
print(time.process_time() - start)  # CPU time the process burns while idle
"""


def _idle_cpu_seconds(first: str, **environment: str) -> float:
    ignored = {"OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}
    env = {key: value for key, value in os.environ.items() if key not in ignored}
    env.update(environment, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", IDLE_CPU.format(first=first)], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return float(done.stdout.strip())


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS runs one thread on one core: nothing spins")
@pytest.mark.parametrize("first", ["genloupe.engine", "genloupe.app.cli"])
def test_blas_threads_sleep_after_a_product_unless_the_user_says_otherwise(first: str) -> None:
    assert _idle_cpu_seconds(first) < 0.01
    # the user's own setting wins: OpenBLAS's default, 2^28 cycles, keeps a worker spinning through the sleep
    assert _idle_cpu_seconds(first, OPENBLAS_THREAD_TIMEOUT="28") > 0.02
