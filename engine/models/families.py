"""Import every zoo family module so that its @register decorator runs (see zoo._ensure_families_loaded)."""

from . import autoregressive, flow, gaussian, mixture, pixelcnn, vaegan, vaegan_conv  # noqa: F401  (imported for registration)
