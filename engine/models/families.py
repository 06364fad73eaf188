"""Import every zoo family module so that its @register decorator runs (see zoo._ensure_families_loaded)."""

from . import autoregressive, flow, gaussian, mixture, vaegan  # noqa: F401  (imported for registration)
