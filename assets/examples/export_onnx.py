"""ONNX twins of the outside models: noise in, images in [0, 1] out, with GenLoupe's meta attached.

    python assets/examples/export_onnx.py FOLDER   # after train.py: writes made.onnx and vae.onnx

Two things the defaults get wrong: ``torch.onnx.export`` of recent torch uses the dynamo exporter,
which needs ``onnxscript`` (not installed by genloupe[onnx]); ``dynamo=False`` uses the TorchScript
exporter, which needs nothing more. And a generator whose outputs are floats must say what they
mean: meta.json's fields go into the model's metadata property ``genloupe_meta`` (a JSON text).
"""

import json
import sys
from pathlib import Path

import onnx
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from made_adapter import load as load_made  # noqa: E402
from vae_adapter import load as load_vae  # noqa: E402

BATCH = 64


class MadeSampler(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, u):  # (N, 64) uniform -> (N, 1, 8, 8) in [0, 1]
        return self.model.made.sample(u).float().reshape(len(u), 1, 8, 8) / 16


class VaeSampler(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z, u):  # (N, latent) normal, (N, 64) uniform -> (N, 1, 8, 8) in [0, 1]
        return self.model.vae.sample(z, u).float().reshape(len(z), 1, 8, 8) / 16


def meta(name, noise):
    return {"format": "genloupe-export", "version": 1, "name": name, "family": "onnx", "data_shape": [1, 8, 8],
            "levels": 17, "discrete": True, "likelihood": "none", "transform": {"kind": "affine", "range": [0, 1]},
            "sample_noise": [{"distribution": d, "shape": list(s), "batch_dim": 0} for d, s in noise]}


def export(sampler, noise, out, name):
    """Export ``sampler`` (fixed batch) and attach ``genloupe_meta``; ``noise`` lists (distribution, shape)."""
    draw = {"normal": torch.randn, "uniform": torch.rand}
    example = tuple(draw[d](BATCH, *s) for d, s in noise)
    names = [f"noise{i}" for i in range(len(noise))]
    torch.onnx.export(sampler.eval(), example, str(out), input_names=names, output_names=["images"], dynamo=False)
    model = onnx.load(str(out))
    onnx.helper.set_model_props(model, {"genloupe_meta": json.dumps(meta(name, noise))})
    onnx.save(model, str(out))
    return out


def export_both(folder):
    folder = Path(folder)
    made, vae = load_made(folder / "made_adapter.py"), load_vae(folder / "vae_adapter.py")
    return (export(MadeSampler(made), [("uniform", (64,))], folder / "made.onnx", "MADE (ONNX)"),
            export(VaeSampler(vae), [("normal", (vae.vae.latent,)), ("uniform", (64,))], folder / "vae.onnx",
                   "VAE (ONNX)"))


if __name__ == "__main__":
    export_both(sys.argv[1])
