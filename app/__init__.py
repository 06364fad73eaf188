"""GenLoupe app: window, controller, jobs bridge, settings, CLI, export."""

import genloupe.engine  # noqa: F401  first, before Qt or NumPy: its BLAS thread settings (engine/threads.py)
