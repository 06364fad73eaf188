"""Generators of hostile and careless inputs, one per case, grouped by what they attack.

Every file is written at test time into a folder the caller gives; bombs are small on disk (zeros
deflate 1000:1, sparse files, headers that declare what is not there). Each case is a CLI command
line with the exit status and the one-line message it must give; the harness runs them.
"""

from __future__ import annotations

import io
import json
import pickle
import sqlite3
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from genloupe.engine.checkpoints.zoo import checkpoint_header
from genloupe.engine.models.zoo import build_model
from genloupe.engine.session import Session

DEMO = Path(__file__).resolve().parents[3] / "assets" / "demo"
CLASSES = ("memory", "time", "one-line", "numbers", "links-and-csv")
# Caps the corpus runs under: the production caps lowered (they can only be lowered) so that every bomb
# that must be inflated to its cap to be refused costs little time and memory.
TEST_LIMITS = ("decompressed_bytes=67108864,array_bytes=67108864,folder_pixels=16777216,child_seconds=2,"
               "child_memory=402653184")


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # one of CLASSES
    argv: list[str]
    expect: str  # a fragment of the one-line message ('' for a case that must succeed)
    status: int = 2


# --- building blocks -------------------------------------------------------------------------


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def deflated_zeros(archive: zipfile.ZipFile, name: str, size: int, head: bytes = b"") -> None:
    """A member of ``size`` bytes (``head`` then zeros), deflated as it is written: 1000:1 on disk."""
    with archive.open(_zip_info(name), "w", force_zip64=True) as member:
        member.write(head)
        block = bytes(1 << 20)
        left = size - len(head)
        while left > 0:
            member.write(block[: min(left, len(block))])
            left -= len(block)




def npy_header(shape: tuple[int, ...], dtype: str = "<u1") -> bytes:
    """A version 1.0 .npy header declaring ``shape`` of ``dtype`` (whatever follows it)."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": dtype, "fortran_order": False, "shape": shape})
    return stream.getvalue()


def gzip_zeros(path: Path, head: bytes, size: int) -> None:
    """A gzip file of ``head`` then zeros up to ``size`` bytes, compressed as it is written."""
    import gzip

    with gzip.open(path, "wb", compresslevel=9) as stream:
        stream.write(head)
        block = bytes(1 << 20)
        left = size - len(head)
        while left > 0:
            stream.write(block[: min(left, len(block))])
            left -= len(block)


def png_header_bomb(path: Path, width: int, height: int) -> None:
    """A grey PNG whose pixels (all zero) inflate to width x height bytes: tiny on disk."""
    raw = zlib.compressobj(9)
    row = bytes(width + 1)
    body = b"".join(raw.compress(row) for _ in range(height)) + raw.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def zoo_pt(path: Path, family: str, config: dict, state: dict, **header_changes) -> Path:
    with torch.device("meta"):
        model = build_model(family, config)
    header = {**checkpoint_header(model), **header_changes}
    torch.save({**header, "state_dict": state}, path)
    return path


def meta_json(**changes) -> dict:
    return {"format": "genloupe-export", "version": 1, "name": "hostile", "family": "gaussian",
            "data_shape": [1, 8, 8], "levels": 17, "discrete": False, "likelihood": "none",
            "transform": {"kind": "affine", "range": [0, 1]},
            "sample_noise": [{"distribution": "normal", "shape": [1, 8, 8], "batch_dim": 0}], **changes}


def pt2_bundle(folder: Path, module: nn.Module) -> Path:
    folder.mkdir(parents=True)
    torch.export.save(torch.export.export(module.eval(), (torch.zeros(2, 1, 8, 8),)), folder / "sample.pt2")
    (folder / "meta.json").write_text(json.dumps(meta_json()))
    return folder


class AllocatesGigabytes(nn.Module):
    def forward(self, eps: torch.Tensor) -> torch.Tensor:
        return eps + torch.ones(768 << 20)[:1].reshape(1, 1, 1, 1)  # 3 GiB, as the issue's .pt2


class LoopsForever(nn.Module):
    def forward(self, eps: torch.Tensor) -> torch.Tensor:
        from torch._higher_order_ops.while_loop import while_loop

        _, out = while_loop(lambda i, x: i < 10**18, lambda i, x: (i + 1, x + 0.0),
                            (torch.zeros((), dtype=torch.int64), eps))
        return out


def onnx_model(path: Path, nodes: list, initializers: list, output_shape: list) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, "hostile", [helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("images", TensorProto.UINT8, output_shape)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    meta = meta_json(transform={"kind": "affine", "range": [0, 255]},
                     sample_noise=[{"distribution": "normal", "shape": [4], "batch_dim": 0}])
    helper.set_model_props(model, {"genloupe_meta": json.dumps(meta)})
    path.write_bytes(model.SerializeToString())
    return path


def onnx_huge_output(path: Path) -> Path:
    """Declares uint8 (N, 1, 8, 8) and returns (2, 1, 16384, 16384): 512 MiB from a few hundred bytes."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceSum", ["noise"], ["s"], keepdims=0),
             helper.make_node("Mul", ["s", "zero"], ["z"]),
             helper.make_node("Cast", ["z"], ["c"], to=TensorProto.UINT8),
             helper.make_node("Expand", ["c", "shape"], ["images"])]
    inits = [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array([2, 1, 16384, 16384], np.int64), "shape")]
    return onnx_model(path, nodes, inits, ["N", 1, 8, 8])


def onnx_endless_loop(path: Path) -> Path:
    """A Loop of 10^18 iterations around an addition."""
    from onnx import TensorProto, helper, numpy_helper

    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["x_in", "one"], ["x_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_in", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_out", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(np.array(1.0, np.float32), "one")],
    )
    nodes = [helper.make_node("Loop", ["trips", "go", "noise"], ["x"], body=body),
             helper.make_node("Tile", ["x", "reps"], ["t"]),
             helper.make_node("Reshape", ["t", "shape"], ["r"]),
             helper.make_node("Cast", ["r"], ["images"], to=TensorProto.UINT8)]
    inits = [numpy_helper.from_array(np.array(10**18, np.int64), "trips"),
             numpy_helper.from_array(np.array(True), "go"),
             numpy_helper.from_array(np.array([1, 16], np.int64), "reps"),
             numpy_helper.from_array(np.array([-1, 1, 8, 8], np.int64), "shape")]
    return onnx_model(path, nodes, inits, ["N", 1, 8, 8])


def session_file(path: Path, n: int = 6, flags: int = 0) -> Path:
    """A small real session: columns, images and optionally ``flags`` confirmed flags."""
    with Session.create(path, {"checkpoint": "m.pt", "model": {"name": "m"}}) as session:
        rng = np.random.default_rng(0)
        session.write_columns("sample", {"log_px": -rng.random(n) * 100, "bpd": rng.random(n) * 4})
        session.write_images("sample", rng.integers(0, 17, (n, 1, 8, 8)), 17)
        session.write_metrics({"fid": {"value": 1.5, "ci": [1.0, 2.0]}})
        if flags:
            session.replace_flags("sample", range(flags),
                                  [(i, "bad", "confirmed", "", 0.0, 0.0) for i in range(flags)])
    return path


def lie(path: Path, sql: str, *params) -> Path:
    db = sqlite3.connect(path)
    with db:
        db.execute(sql, params)
    db.close()
    return path


# --- the corpus ------------------------------------------------------------------------------


def memory_cases(root: Path) -> list[Case]:
    cases = []
    config = {"data_shape": [1, 128, 128], "levels": 256, "components": 1, "covariance": "full"}
    with torch.device("meta"):
        shapes = {name: t.shape for name, t in build_model("mixture", config).state_dict().items()}
    state = {name: torch.zeros(1).expand(shape) for name, shape in shapes.items()}  # stride 0: 1 GiB from 4 bytes
    cases.append(Case("zoo-stride-0", "memory", ["info", str(zoo_pt(root / "stride0.pt", "mixture", config, state))],
                      "stride 0 or aliased"))
    shared = torch.zeros(16384)
    config = {"data_shape": [1, 128, 128], "levels": 256, "components": 1, "covariance": "diag"}
    state = {"logits": torch.zeros(1), "means": shared.view(1, -1), "log_scale": shared.view(1, -1)}
    cases.append(Case("zoo-aliased", "memory", ["info", str(zoo_pt(root / "alias.pt", "mixture", config, state))],
                      "share one storage"))

    torch.save({"w": torch.zeros(4)}, root / "torchzip.pt")
    with zipfile.ZipFile(root / "torchzip.pt") as source, \
            zipfile.ZipFile(root / "torch-bomb.pt", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for info in source.infolist():
            if info.filename.endswith("data/0"):
                deflated_zeros(bomb, info.filename, 16 << 20)
            else:
                bomb.writestr(info, source.read(info))
    cases.append(Case("torch-zip-ratio", "memory", ["info", str(root / "torch-bomb.pt")], "expands"))

    with zipfile.ZipFile(root / "bundle-bomb.npz", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        deflated_zeros(bomb, "samples.npy", 16 << 20, npy_header((16 << 14, 1, 8, 8)))
    cases.append(Case("sample-npz-ratio", "memory", ["info", str(root / "bundle-bomb.npz")], "expands"))

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as program:
        program.writestr("m/archive_format", "pt2")
        deflated_zeros(program, "m/data/weights/weight_0", 16 << 20)
    with zipfile.ZipFile(root / "nested.zip", "w") as outer:
        outer.writestr("meta.json", json.dumps(meta_json()))
        outer.writestr("sample.pt2", inner.getvalue())
    cases.append(Case("zip-in-zip", "memory", ["info", str(root / "nested.zip")], "expands"))

    with zipfile.ZipFile(root / "data-bomb.npz", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        deflated_zeros(bomb, "images.npy", 16 << 20, npy_header((16 << 14, 1, 8, 8)))
    cases.append(Case("data-npz-ratio", "memory", ["data", str(root / "data-bomb.npz")], "expands"))

    with zipfile.ZipFile(root / "declares.npz", "w") as archive:
        archive.writestr("images.npy", npy_header((1 << 20, 3, 64, 64)) + bytes(64))
    cases.append(Case("data-npz-declared", "memory", ["data", str(root / "declares.npz")], "implies"))

    (root / "mnist").mkdir()
    gzip_zeros(root / "mnist" / "train-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, 600000, 100, 100), 4096)
    cases.append(Case("idx-declared", "memory", ["data", str(root / "mnist" / "train-images-idx3-ubyte.gz")],
                      "implies"))
    (root / "mnist2").mkdir()
    gzip_zeros(root / "mnist2" / "train-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, 100, 28, 28), 32 << 20)
    cases.append(Case("idx-gzip-bomb", "memory", ["data", str(root / "mnist2" / "train-images-idx3-ubyte.gz")],
                      "unexpected bytes"))
    (root / "mnist3").mkdir()
    gzip_zeros(root / "mnist3" / "train-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, 10, 28, 28) + bytes(7840),
               16 + 7840)
    gzip_zeros(root / "mnist3" / "train-labels-idx1-ubyte.gz", struct.pack(">II", 2049, 10), 32 << 20)
    cases.append(Case("idx-labels-bomb", "memory", ["data", str(root / "mnist3" / "train-images-idx3-ubyte.gz")],
                      "unexpected bytes"))

    (root / "pngs").mkdir()
    png_header_bomb(root / "pngs" / "0.png", 9000, 9000)
    for i in range(1, 6):
        (root / "pngs" / f"{i}.png").write_bytes((root / "pngs" / "0.png").read_bytes())
    cases.append(Case("png-folder", "memory", ["data", str(root / "pngs")], "pixel values"))

    (root / "png-mixed").mkdir()
    png_header_bomb(root / "png-mixed" / "0.png", 8, 8)
    png_header_bomb(root / "png-mixed" / "1.png", 4000, 4000)
    cases.append(Case("png-one-huge", "memory", ["data", str(root / "png-mixed")], "share one size"))

    with zipfile.ZipFile(root / "samples-declared.npz", "w") as archive:
        archive.writestr("samples.npy", npy_header((1 << 20, 3, 64, 64), "<f8") + bytes(64))
    cases.append(Case("sample-npz-declared", "memory", ["info", str(root / "samples-declared.npz")], "implies"))

    (root / "csv-rows").mkdir()
    for i in range(3):
        png_header_bomb(root / "csv-rows" / f"{i}.png", 8, 8)
    with open(root / "csv-rows" / "log_prob.csv", "w") as table:
        table.write("file,log_prob\n")
        table.writelines(f"{i}.png,-1.5\n" for i in range(1_000_000))
    (root / "csv-rows" / "log_prob_convention.json").write_text(json.dumps({"unit": "nats"}))
    cases.append(Case("csv-million-rows", "memory", ["info", str(root / "csv-rows")], "rows for 3 images"))

    cases.append(Case("pt2-allocates", "memory", ["info", str(pt2_bundle(root / "pt2-ones", AllocatesGigabytes()))],
                      "MiB when first run"))
    (root / "onnx").mkdir()
    cases.append(Case("onnx-huge-output", "memory", ["info", str(onnx_huge_output(root / "onnx" / "huge.onnx"))],
                      "MiB when first run"))
    return cases


def time_cases(root: Path) -> list[Case]:
    cases = [Case("pt2-while-loop", "time", ["info", str(pt2_bundle(root / "pt2-loop", LoopsForever()))],
                  "still running after"),
             Case("onnx-loop", "time", ["info", str(onnx_endless_loop(root / "onnx" / "loop.onnx"))],
                  "still running after")]
    version: list = [0]
    for _ in range(12):
        version = [version] * 10  # 10^12 references to one list, a few hundred bytes pickled
    config = {"data_shape": [1, 8, 8], "levels": 17}
    zoo_pt(root / "shared-refs.pt", "gaussian", config, {}, version=version)
    cases.append(Case("zoo-shared-references", "time", ["info", str(root / "shared-refs.pt")], "checkpoint version"))

    with open(root / "header.safetensors", "wb") as sparse:  # 99 MB declared, a few bytes on disk
        sparse.write((99 << 20).to_bytes(8, "little") + b"{")
        sparse.seek(8 + (99 << 20))
        sparse.write(b"\0")
    cases.append(Case("safetensors-huge-header", "time", ["info", str(root / "header.safetensors")],
                      "header declares"))
    entries = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(70000)}
    text = json.dumps(entries).encode()
    (root / "many.safetensors").write_bytes(len(text).to_bytes(8, "little") + text)
    cases.append(Case("safetensors-many-tensors", "time", ["info", str(root / "many.safetensors")], "70000 tensors"))

    path = session_file(root / "recursive-view.glup")
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE images; CREATE VIEW images (source, shape, dtype, levels, data) AS "
                     "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) "
                     "SELECT 'sample', '[1]', '|u1', 17, x FROM r;")
    db.close()
    cases.append(Case("session-recursive-view", "time", ["report", str(path), "--out", str(root / "out-view"),
                                                          "--format", "json"], "view images"))
    many = session_file(root / "many-flags.glup", n=60000, flags=60000)
    cases.append(Case("report-60000-flags", "time", ["report", str(many), "--out", str(root / "out-many"),
                                                      "--format", "json,csv"], "", status=0))
    return cases


def one_line_cases(root: Path) -> list[Case]:
    cases = []
    (root / "huge.npy").write_bytes(npy_header((10**6, 10**6)) + bytes(16))
    cases.append(Case("npy-declares-1e12", "one-line", ["data", str(root / "huge.npy")], "implies"))
    with zipfile.ZipFile(root / "huge.npz", "w") as archive:
        archive.writestr("images.npy", npy_header((10**6, 10**6)) + bytes(16))
    cases.append(Case("npz-declares-1e12", "one-line", ["data", str(root / "huge.npz")], "implies"))
    cases.append(Case("evaluate-reference-1e12", "one-line",
                      ["evaluate", str(DEMO / "gaussian.pt"), "--reference", str(root / "huge.npy"), "--n", "8"],
                      "implies"))

    broken = {
        "run-not-json": ("UPDATE meta SET value = 'not json {' WHERE key = 'run'", "not valid JSON"),
        "run-a-list": ("UPDATE meta SET value = '[1, 2]' WHERE key = 'run'", "not an object"),
        "run-deep": ("UPDATE meta SET value = ? WHERE key = 'run'", "nested deeper"),
        "metric-abc": ("UPDATE meta SET value = '{\"fid\": {\"value\": \"abc\"}}' WHERE key = 'metrics'",
                       "not a number"),
        "metric-one-bound": ("UPDATE meta SET value = '{\"fid\": {\"value\": 1, \"ci\": [1]}}' WHERE key = 'metrics'",
                             "[low, high]"),
        "image-shape-lie": ("UPDATE images SET shape = '[600, 1, 8, 8]'", "holds"),
        "image-dtype-lie": ("UPDATE images SET dtype = '<f8'", "uint8 or uint16"),
        "column-length-lie": ("UPDATE columns SET length = 1000000 WHERE name = 'bpd'", "holds"),
        "column-dtype-lie": ("UPDATE columns SET dtype = '|O' WHERE name = 'bpd'", "not a numeric type"),
    }
    for name, (sql, expect) in broken.items():
        path = session_file(root / f"{name}.glup")
        lie(path, sql, *(["{\"a\": " * 100000 + "1" + "}" * 100000] if "?" in sql else []))
        cases.append(Case(f"session-{name}", "one-line", ["report", str(path), "--out", str(root / f"out-{name}"),
                                                          "--format", "json"], expect))

    content = torch.load(DEMO / "gaussian.pt", weights_only=True)  # a valid checkpoint, saved the legacy way
    torch.save(content, root / "protocol4.pt", _use_new_zipfile_serialization=False, pickle_protocol=4)
    cases.append(Case("protocol-4-checkpoint", "one-line", ["info", str(root / "protocol4.pt")], "pickle protocol 4"))
    (root / "p4.pkl").write_bytes(pickle.dumps({"a": [1, 2, 3]}, protocol=4))
    cases.append(Case("protocol-4-plain", "one-line", ["info", str(root / "p4.pkl")], "pickle protocol 4"))
    cases.append(Case("command-line-typo", "one-line", ["data", "--levels", "many"], "invalid int value"))
    cases.append(Case("train-missing-folder", "one-line",
                      ["train", "gaussian", "--out", str(root / "missing" / "dir" / "m.pt")], "does not exist"))
    return cases


def number_cases(root: Path) -> list[Case]:
    cases = []
    samples = np.random.default_rng(0).integers(0, 17, (4, 1, 8, 8)).astype(np.uint8)
    conventions = {
        "range-nan": ({"unit": "nats", "space": "continuous", "range": [float("nan"), 1]}, [-90.0] * 4, "range"),
        "range-infinity": ({"unit": "nats", "space": "continuous", "range": [0, float("inf")]}, [-90.0] * 4, "range"),
        "bits-1e307": ({"unit": "bits/dim"}, [1e307] * 4, "overflow"),
        "positive-discrete": ({"unit": "nats", "space": "discrete"}, [5.0] * 4, "> 0 nats"),
    }
    for name, (convention, values, expect) in conventions.items():
        path = root / f"{name}.npz"
        np.savez(path, samples=samples, levels=np.array(17), log_prob=np.array(values),
                 log_prob_convention=np.array(json.dumps(convention)))
        cases.append(Case(f"bundle-{name}", "numbers", ["info", str(path)], expect))
    return cases


def link_cases(root: Path) -> list[Case]:
    outside = root / "outside"
    outside.mkdir()
    png_header_bomb(outside / "a.png", 8, 8)
    (root / "linked").mkdir()
    for i in range(2):
        (root / "linked" / f"{i}.png").symlink_to(outside / "a.png")
    (root / "linked-bundle").mkdir()
    (root / "linked-bundle" / "meta.json").write_text(json.dumps(meta_json()))
    (root / "linked-bundle" / "sample.pt2").symlink_to(outside / "a.png")
    return [Case("bundle-links-out", "links-and-csv", ["info", str(root / "linked")], "leading out"),
            Case("export-bundle-link", "links-and-csv", ["info", str(root / "linked-bundle")], "is a link")]


BUILDERS: tuple[Callable[[Path], list[Case]], ...] = (memory_cases, time_cases, one_line_cases, number_cases,
                                                      link_cases)


def build(root: Path) -> list[Case]:
    return [case for builder in BUILDERS for case in builder(root)]
