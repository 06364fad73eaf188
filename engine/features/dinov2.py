"""`dinov2`: DINOv2 ViT-L/14's class token (1024-d), in plain torch, from the official weights file.

Stein et al. (2023, "Exposing flaws of generative model evaluation metrics", dgm-eval) found that
distances in this feature space agree with human judgements of realism far better than Inception's
(FD_DINOv2). The network is facebookresearch/dinov2's ``DinoVisionTransformer`` as ``torch.hub``'s
``dinov2_vitl14`` builds it (patch 14, LayerScale, no registers, positional embedding for 37x37
patches interpolated bicubically to the input grid with the hub's 0.1 offset), with the same
parameter names, so ``dinov2_vitl14_pretrain.pth`` loads strictly. The architecture (width, depth,
patch) is read from the file's shapes, with 64-dimensional heads as in every DINOv2 ViT, so the
ViT-S/B/14 files load too (384-d, 768-d). The weights are found as weights.py says; nothing downloads.

Preprocessing is dgm-eval's (``DINOv2Encoder.transform`` on images read as 8-bit RGB): grey repeated
to RGB; 8-bit values (x/(L-1) rounded to 255ths, as a PNG stores them); Pillow's bicubic resize to
224x224 (pil_resize.py, bit for bit); /255; ImageNet mean and std. Features are the final
LayerNorm's class token (``model(x)`` of the hub model, ``x_norm_clstoken``). No logits: the
Inception Score needs inception-fid.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import zipfile

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import CheckpointError
from .cache import file_sha256
from .extractor import FeatureExtractor, first_line, grey_or_rgb
from .pil_resize import resize_bicubic_uint8
from .weights import WeightsFile, find_weights, where_to_put

NAME = "dinov2"
FEATURE_DIM = 1024  # ViT-L/14, the official file dgm-eval uses
WEIGHTS_FILE = "dinov2_vitl14_pretrain.pth"
WEIGHTS = WeightsFile(
    flag="--dinov2-weights", env="GENLOUPE_DINOV2_WEIGHTS", hub_patterns=(WEIGHTS_FILE,),
    how_to_get=f"{WEIGHTS_FILE} from facebookresearch/dinov2's release (what torch.hub.load caches)",
)
INPUT_SIZE = 224
HEAD_DIM = 64
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POS_OFFSET = 0.1  # the hub models' interpolate_offset
PREPROCESSING = (
    "dgm-eval: [0,1] display values to 8 bits, grey repeated to RGB, Pillow bicubic resize to 224x224, "
    "/255, ImageNet mean/std; class token after the final LayerNorm"
)


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, tokens, dim = x.shape
        q, k, v = torch.unbind(self.qkv(x).reshape(n, tokens, 3, self.heads, dim // self.heads), 2)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.proj(out.transpose(1, 2).reshape(n, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, hidden)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int, patch: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DINOv2(nn.Module):
    """Input (N, 1 or 3, H, W) display values in [0, 1]; output the class token (N, dim)."""

    def __init__(self, dim: int = FEATURE_DIM, depth: int = 24, patch: int = 14, grid: int = 37,
                 hidden: int = 4 * FEATURE_DIM) -> None:
        super().__init__()
        self.patch = patch
        self.patch_embed = PatchEmbed(dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # training only; kept so the file loads strictly
        self.blocks = nn.ModuleList(Block(dim, dim // HEAD_DIM, hidden) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(-1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(-1, 1, 1), persistent=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """dgm-eval's transform: 8-bit RGB, Pillow bicubic to 224x224, ToTensor, Normalize (all float32 steps alike)."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        eight_bit = torch.round(x.double() * 255)
        resized = resize_bicubic_uint8(eight_bit, (INPUT_SIZE, INPUT_SIZE)).float().div(255)
        return resized.sub(self.mean).div(self.std)

    def position_embedding(self, rows: int, cols: int) -> torch.Tensor:
        """The hub's ``interpolate_pos_encoding``: bicubic, by scale factor (grid + 0.1) / 37."""
        pos = self.pos_embed.float()
        grid = int(math.sqrt(pos.shape[1] - 1))
        if rows == cols == grid:
            return self.pos_embed
        patches = pos[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
        scale = (float(rows + POS_OFFSET) / grid, float(cols + POS_OFFSET) / grid)
        patches = F.interpolate(patches, mode="bicubic", antialias=False, scale_factor=scale)
        patches = patches.permute(0, 2, 3, 1).reshape(1, rows * cols, -1)
        return torch.cat((pos[:, :1], patches), dim=1).to(self.pos_embed.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.preprocess(x)
        tokens = self.patch_embed(x)
        tokens = torch.cat((self.cls_token.expand(len(tokens), -1, -1), tokens), dim=1)
        tokens = tokens + self.position_embedding(x.shape[2] // self.patch, x.shape[3] // self.patch)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]


def weights_path(weights: str | os.PathLike | None) -> str:
    """The weights file: ``weights``, ``$GENLOUPE_DINOV2_WEIGHTS`` or torch hub's cache; one-line error if none."""
    found = find_weights(WEIGHTS, weights)
    if found is None:
        raise CheckpointError(f"dinov2 needs the weights file {WEIGHTS_FILE} (never downloaded): {where_to_put(WEIGHTS)}")
    if not os.path.isfile(found.path):
        raise CheckpointError(f"{found.path}: DINOv2 weights file not found; put {WEIGHTS_FILE} there, "
                              f"or point --dinov2-weights / {WEIGHTS.env} at it")
    return found.path


def _read_state(path: str) -> dict[str, torch.Tensor]:
    try:
        try:  # mapped, not read: the ViT-L file is 1.2 GB
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            state = torch.load(path, map_location="cpu", weights_only=True)  # a file in torch's legacy format
    except (pickle.UnpicklingError, RuntimeError, zipfile.BadZipFile, EOFError, ValueError) as error:
        raise CheckpointError(f"{path}: not a loadable weights file ({first_line(error)})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a state dict of tensors, found {type(state).__name__}")
    return state


def build_for(path: str, state: dict[str, torch.Tensor]) -> DINOv2:
    """The network whose shapes the state dict has (one-line error for anything but a DINOv2 ViT)."""
    needed = ("cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.0.mlp.fc1.weight")
    if not all(key in state for key in needed):
        missing = [key for key in needed if key not in state]
        raise CheckpointError(f"{path}: not DINOv2 ViT weights (no {missing[0]}); expected {WEIGHTS_FILE}")
    if any(key == "register_tokens" or ".w12." in key for key in state):
        raise CheckpointError(f"{path}: DINOv2 with registers or SwiGLU (ViT-g) is not supported; use {WEIGHTS_FILE}")
    dim = state["cls_token"].shape[-1]
    depth = 1 + max(int(m.group(1)) for key in state if (m := re.match(r"blocks\.(\d+)\.", key)))
    grid = int(math.isqrt(state["pos_embed"].shape[1] - 1))
    if dim % HEAD_DIM or grid * grid + 1 != state["pos_embed"].shape[1]:
        raise CheckpointError(f"{path}: not DINOv2 ViT weights (width {dim}, {state['pos_embed'].shape[1]} positions)")
    return DINOv2(dim=dim, depth=depth, patch=state["patch_embed.proj.weight"].shape[-1], grid=grid,
                  hidden=state["blocks.0.mlp.fc1.weight"].shape[0])


def load(weights: str | os.PathLike | None = None) -> FeatureExtractor:
    """DINOv2 from ``weights``, ``$GENLOUPE_DINOV2_WEIGHTS`` or torch hub's checkpoints folder."""
    path = weights_path(weights)
    state = _read_state(path)
    module = build_for(path, state)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = next((line.strip() for line in str(error).splitlines()[1:] if line.strip()), first_line(error))
        raise CheckpointError(f"{path}: not DINOv2 ViT weights ({detail})") from None
    dim = module.cls_token.shape[-1]
    return FeatureExtractor(
        name=NAME,
        module=module.eval(),
        weights_hash=file_sha256(path),
        preprocessing=f"{PREPROCESSING}; ViT width {dim}, depth {len(module.blocks)}, patch {module.patch}",
        default_batch_size=32,
        check_shape=grey_or_rgb(NAME),
    )
