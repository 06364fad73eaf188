"""ONNX generators (noise in, images out): samples only, through onnxruntime, an optional extra.

meta.json's fields may ride along as the model's metadata property ``genloupe_meta`` (a JSON text).
Without it a generator is read as torch-fidelity's do: every input is standard normal noise with
the batch first, and the one output holds uint8 images (N, C, H, W) on 256 levels. A generator with
float outputs must say their range in ``genloupe_meta``: GenLoupe does not guess.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from .bundle_meta import BundleMeta, Transform
from .noise import NoiseSpec
from .programs import ProgramModel
from .safety import check_image_shape, one_line, parse_json, read_file

META_KEY = "genloupe_meta"


class OnnxRunner:
    """An onnxruntime session as a :class:`~.programs.Program`; it runs on the CPU, outputs follow the inputs."""

    def __init__(self, session, batch: int | None) -> None:
        self.session = session
        self.batch = batch
        self.inputs = [i.name for i in session.get_inputs()]
        self.output = session.get_outputs()[0].name

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        feed = {name: t.detach().cpu().numpy().astype(np.float32) for name, t in zip(self.inputs, inputs)}
        out = self.session.run([self.output], feed)[0]
        return torch.from_numpy(np.asarray(out, dtype=np.float32)).to(inputs[0].device)

    def moved(self, device: torch.device) -> "OnnxRunner":
        return self


def _static(dims: list, what: str) -> list[int]:
    if not all(isinstance(d, int) for d in dims):
        raise CheckpointError(f"{what}: shape {dims} must be fixed apart from the batch")
    return dims


def _meta_from_graph(session, what: str) -> BundleMeta:
    """torch-fidelity's convention: normal noise inputs, one uint8 (N, C, H, W) output."""
    output = session.get_outputs()[0]
    if output.type != "tensor(uint8)":
        raise CheckpointError(f"{what}: outputs {output.type} images but declares no range; add the metadata property "
                              f"{META_KEY} with meta.json's fields (transform, levels, data_shape; see the README)")
    shape = check_image_shape(_static(output.shape[1:], what), what)
    noise = tuple(NoiseSpec("normal", tuple(_static(i.shape[1:], what))) for i in session.get_inputs())
    return BundleMeta(name=Path(what).stem, family="onnx", data_shape=shape, levels=256, discrete=False,
                      likelihood="none", sample_noise=noise, transform=Transform("affine", 0.0, 255.0))


def load_onnx(path: Path) -> ProgramModel:
    try:
        import onnxruntime
    except ImportError:
        raise CheckpointError(f"{path.name} is an ONNX generator; opening it needs onnxruntime: "
                              "pip install genloupe[onnx]") from None
    data = read_file(path, path.name)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:  # from bytes: external data files, which could point anywhere, cannot be resolved
        session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        raise CheckpointError(f"{path.name}: not a loadable ONNX model ({one_line(error)})") from None
    outputs, inputs = session.get_outputs(), session.get_inputs()
    if len(outputs) != 1:
        raise CheckpointError(f"{path.name}: an ONNX generator must have one output (images), it has {len(outputs)}")
    declared = session.get_modelmeta().custom_metadata_map.get(META_KEY)
    if declared is None:
        meta = _meta_from_graph(session, path.name)
    else:
        what = f"{path.name}: {META_KEY}"
        meta = BundleMeta.parse(parse_json(declared.encode(), what), what)
        if meta.likelihood != "none":
            raise CheckpointError(f"{what}: ONNX generators give samples only; declare likelihood 'none'")
    if len(meta.sample_noise) != len(inputs):
        raise CheckpointError(f"{path.name}: {len(inputs)} inputs but {len(meta.sample_noise)} noise entries")
    batch = inputs[0].shape[0]
    return ProgramModel(meta, OnnxRunner(session, batch if isinstance(batch, int) else None), None,
                        parameter_count=None, format_name="ONNX generator")
