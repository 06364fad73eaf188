"""The bundled demo: the embedded digits and the demo checkpoints shipped in assets/demo/."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# Display name -> checkpoint address (PATH#head picks a head of the hybrid). The first is opened by default.
DEMO_MODELS = {
    "flow (RealNVP)": "flow.pt",
    "autoregressive": "autoregressive.pt",
    "Gaussian mixture": "mixture.pt",
    "diagonal Gaussian": "gaussian.pt",
    "VAE head (hybrid)": "vaegan.pt#vae",
    "GAN head (hybrid)": "vaegan.pt#gan",
}
DEMO_REFERENCE = "digits"


def demo_dir() -> Path:
    return Path(str(files("genloupe.assets") / "demo"))


def demo_model_path(name: str) -> str:
    """Absolute address of a demo model, keeping any ``#head`` suffix."""
    file_name, _, head = DEMO_MODELS[name].partition("#")
    path = str(demo_dir() / file_name)
    return f"{path}#{head}" if head else path


def scoring_companion(address: str) -> str | None:
    """The model that scores a likelihood-free head: the hybrid's GAN head is scored under its VAE head."""
    path, _, head = address.partition("#")
    return f"{path}#vae" if head == "gan" else None
