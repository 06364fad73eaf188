"""NumPy's and SciPy's BLAS threads sleep as soon as a product ends.

OpenBLAS's worker threads busy-wait for 2^28 cycles (about 0.1 s) after every call, in case another call
follows. The metrics alternate BLAS products with torch's element-wise work (top-k, reductions, gathers),
so on a machine with few cores those spinning threads hold the cores torch's work needs. OpenBLAS reads
the setting once, when it loads, so it is set before NumPy or SciPy is imported: importing
``genloupe.engine`` does it, and the app and the CLI import it before anything else. A value the user set
wins. torch's OpenMP threads spin too, but a passive OpenMP pool slows torch's own work (a training step
measured 30 % slower), so it is left as it is.
"""

from __future__ import annotations

import os

BLAS_IDLE_SETTINGS = {"OPENBLAS_THREAD_TIMEOUT": "4"}  # 2^4 cycles: sleep at once (OpenBLAS's minimum)


def let_blas_threads_sleep() -> None:
    """Put GenLoupe's settings in this process's environment, where the user has not set them."""
    for name, value in BLAS_IDLE_SETTINGS.items():
        os.environ.setdefault(name, value)
