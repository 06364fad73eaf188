"""GenLoupe's engine: data, models, likelihood, features, metrics, session. No Qt here."""

from .threads import let_blas_threads_sleep

let_blas_threads_sleep()  # before NumPy loads, wherever the engine is imported first (see threads.py)
