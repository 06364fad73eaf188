"""Every data source, read from real files written in tmp_path, and every bad input it must refuse."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genloupe.engine.data import open_data
from genloupe.engine.errors import DataError

RNG = np.random.default_rng(7)


def write_idx(path: Path, array: np.ndarray, magic: int, *, extra: bytes = b"", cut: int = 0) -> Path:
    """An IDX file as MNIST ships it (gzipped when the name ends in .gz), optionally damaged."""
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    raw = header + array.astype(np.uint8).tobytes() + extra
    raw = raw[: len(raw) - cut]
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def write_cifar(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    records = np.concatenate([labels[:, None].astype(np.uint8), images.reshape(len(images), -1)], axis=1)
    path.write_bytes(records.astype(np.uint8).tobytes())
    return path


def write_png(path: Path, pixels: np.ndarray, mode: str | None = None) -> Path:
    """An image file; Pillow picks PNG or JPEG by the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels.astype(np.uint8))
    (image.convert(mode) if mode else image).save(path)
    return path


def grey(n: int, h: int = 6, w: int = 5) -> np.ndarray:
    return RNG.integers(0, 256, size=(n, h, w), dtype=np.uint8)


def cifar_images(n: int) -> np.ndarray:
    return RNG.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)


# --- the embedded default ---


def test_digits_is_the_default():
    data = open_data()
    assert (len(data), data.shape, data.levels, data.format) == (1797, (1, 8, 8), 17, "digits")
    assert data.images.dtype == np.uint8 and data.images.max() == 16
    assert sorted(np.unique(data.labels)) == list(range(10))
    assert open_data("digits").checksum() == data.checksum()


# --- image folders ---


def test_grey_png_folder_round_trips_pixels_in_name_order(tmp_path):
    pixels = grey(4)
    for name, index in (("c.png", 2), ("a.png", 0), ("d.png", 3), ("b.png", 1)):
        write_png(tmp_path / name, pixels[index])
    (tmp_path / "notes.txt").write_text("not an image")
    data = open_data(tmp_path)
    assert (data.format, data.levels, data.shape, data.labels) == ("image-folder", 256, (1, 6, 5), None)
    assert list(data.ids) == ["a.png", "b.png", "c.png", "d.png"]
    np.testing.assert_array_equal(data.images[:, 0], pixels)


def test_rgb_png_folder_is_channels_first(tmp_path):
    pixels = RNG.integers(0, 256, size=(3, 4, 7, 3), dtype=np.uint8)
    for index, image in enumerate(pixels):
        write_png(tmp_path / f"{index}.png", image)
    data = open_data(tmp_path)
    assert data.shape == (3, 4, 7)
    np.testing.assert_array_equal(data.images, pixels.transpose(0, 3, 1, 2))


def test_jpeg_folder_and_subfolder_labels(tmp_path):
    for cls, count in (("zebra", 2), ("ant", 3)):
        for index in range(count):
            write_png(tmp_path / cls / f"{index}.jpg", grey(1, 8, 8)[0])
    (tmp_path / "empty").mkdir()
    data = open_data(tmp_path)
    assert data.shape == (1, 8, 8) and data.levels == 256
    assert list(data.ids) == ["ant/0.jpg", "ant/1.jpg", "ant/2.jpg", "zebra/0.jpg", "zebra/1.jpg"]
    assert list(data.labels) == [0, 0, 0, 1, 1]


# --- arrays ---


def test_npy_layouts_give_the_same_images(tmp_path):
    nchw = RNG.integers(0, 256, size=(5, 3, 6, 4), dtype=np.uint8)
    np.save(tmp_path / "nchw.npy", nchw)
    np.save(tmp_path / "nhwc.npy", nchw.transpose(0, 2, 3, 1))
    np.save(tmp_path / "nhw.npy", nchw[:, 0].astype(np.int64))
    first, second = open_data(tmp_path / "nchw.npy"), open_data(tmp_path / "nhwc.npy")
    assert first.format == "npy" and first.shape == (3, 6, 4) and first.checksum() == second.checksum()
    grey_set = open_data(tmp_path / "nhw.npy")
    assert grey_set.shape == (1, 6, 4) and grey_set.images.dtype == np.uint8
    np.testing.assert_array_equal(grey_set.images[:, 0], nchw[:, 0])


@pytest.mark.parametrize(
    ("high", "dtype", "levels", "stored"),
    [(1, np.uint8, 2, np.uint8), (16, np.int64, 17, np.uint8), (200, np.int32, 256, np.uint8), (1000, np.uint16, 65536, np.uint16)],
)
def test_npy_levels_are_inferred_from_the_largest_value(tmp_path, high, dtype, levels, stored):
    array = np.zeros((3, 4, 4), dtype=dtype)
    array[1, 2, 3] = high
    np.save(tmp_path / "a.npy", array)
    data = open_data(tmp_path / "a.npy")
    assert (data.levels, data.images.dtype) == (levels, stored)


def test_declared_levels_win_and_bool_arrays_are_binary(tmp_path):
    np.save(tmp_path / "dark.npy", np.full((2, 3, 3), 16, dtype=np.uint8))
    assert open_data(tmp_path / "dark.npy", levels=256).levels == 256
    np.save(tmp_path / "bits.npy", RNG.random((4, 3, 3)) > 0.5)
    assert open_data(tmp_path / "bits.npy").levels == 2


def test_npz_keys_labels_and_stored_levels(tmp_path):
    images = RNG.integers(0, 17, size=(6, 8, 8, 1))
    np.savez(tmp_path / "a.npz", images=images, labels=np.arange(6), levels=np.int64(64))
    data = open_data(tmp_path / "a.npz")
    assert (data.format, data.shape, data.levels, list(data.labels)) == ("npz", (1, 8, 8), 64, list(range(6)))
    assert open_data(tmp_path / "a.npz", levels=17).levels == 17
    np.savez_compressed(tmp_path / "b.npz", x=images[..., 0], y=np.ones(6, dtype=np.uint8))
    assert open_data(tmp_path / "b.npz").labels.tolist() == [1] * 6
    np.savez(tmp_path / "c.npz", images[..., 0])
    assert open_data(tmp_path / "c.npz").labels is None


# --- MNIST IDX ---


@pytest.mark.parametrize(
    ("images_name", "labels_name"),
    [
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        ("train-images.idx3-ubyte", "train-labels.idx1-ubyte.gz"),
    ],
)
def test_idx_images_find_their_labels(tmp_path, images_name, labels_name):
    pixels, labels = grey(9, 7, 5), RNG.integers(0, 10, size=9)
    write_idx(tmp_path / labels_name, labels, 2049)
    data = open_data(write_idx(tmp_path / images_name, pixels, 2051))
    assert (data.format, data.levels, data.shape) == ("idx", 256, (1, 7, 5))
    np.testing.assert_array_equal(data.images[:, 0], pixels)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.images.flags.writeable


def test_idx_without_labels_and_recognized_by_content(tmp_path):
    data = open_data(write_idx(tmp_path / "mnist-sample", grey(3), 2051))
    assert data.format == "idx" and data.labels is None and len(data) == 3


# --- CIFAR-10 ---


def test_cifar_single_batch(tmp_path):
    images, labels = cifar_images(4), np.array([3, 0, 9, 1])
    data = open_data(write_cifar(tmp_path / "test_batch.bin", images, labels))
    assert (data.format, data.levels, data.shape) == ("cifar10", 256, (3, 32, 32))
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.labels, labels)


def test_cifar_folder_reads_training_batches_in_numeric_order(tmp_path):
    batches = {n: cifar_images(n) for n in (1, 2, 10)}
    for n, images in batches.items():
        write_cifar(tmp_path / f"data_batch_{n}.bin", images, np.full(n, n % 10))
    write_cifar(tmp_path / "test_batch.bin", cifar_images(5), np.zeros(5))
    (tmp_path / "batches.meta.txt").write_text("airplane\n")
    data = open_data(tmp_path)
    assert len(data) == 13 and data.labels.tolist() == [1, 2, 2] + [0] * 10
    np.testing.assert_array_equal(data.images, np.concatenate([batches[1], batches[2], batches[10]]))


def test_cifar_folder_with_only_the_test_batch(tmp_path):
    write_cifar(tmp_path / "test_batch.bin", cifar_images(2), np.array([4, 5]))
    assert open_data(tmp_path).labels.tolist() == [4, 5]


# --- bad input: one line that names the file and the problem ---


def bad_inputs(tmp: Path) -> dict[str, tuple[Path, dict, str]]:
    """name -> (path written in tmp, open_data keyword arguments, expected words of the message)."""
    cases: dict[str, tuple[Path, dict, str]] = {"missing": (tmp / "nope", {}, "no such file or folder")}
    (tmp / "empty").mkdir()
    cases["empty folder"] = (tmp / "empty", {}, "no PNG/JPEG images")
    write_png(tmp / "sizes" / "a.png", grey(1, 4, 4)[0])
    write_png(tmp / "sizes" / "b.png", grey(1, 5, 4)[0])
    cases["mixed sizes"] = (tmp / "sizes", {}, r"b\.png: 4x5 pixels, but a\.png is 4x4")
    write_png(tmp / "modes" / "a.png", grey(1)[0])
    write_png(tmp / "modes" / "b.png", grey(1)[0], "RGB")
    cases["mixed modes"] = (tmp / "modes", {}, r"b\.png: mode RGB, but a\.png is L")
    write_png(tmp / "corrupt" / "a.png", grey(1)[0])
    (tmp / "corrupt" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    cases["corrupt image"] = (tmp / "corrupt", {}, r"b\.png: corrupt or unreadable image")
    full = write_png(tmp / "truncated" / "a.png", grey(1, 40, 40)[0]).read_bytes()
    (tmp / "truncated" / "a.png").write_bytes(full[: len(full) // 2])
    cases["truncated image"] = (tmp / "truncated", {}, r"a\.png: corrupt or unreadable image")
    write_png(tmp / "palette" / "a.png", grey(1)[0], "P")
    cases["palette image"] = (tmp / "palette", {}, "mode P is not supported")
    np.save(tmp / "float.npy", RNG.random((3, 4, 4)).astype(np.float32))
    cases["float array"] = (tmp / "float.npy", {}, "float32 values, expected integer levels")
    np.save(tmp / "rank2.npy", np.zeros((3, 16), dtype=np.uint8))
    cases["rank 2"] = (tmp / "rank2.npy", {}, r"rank 2\), expected \(N, H, W\)")
    np.save(tmp / "rank5.npy", np.zeros((1, 1, 3, 4, 4), dtype=np.uint8))
    cases["rank 5"] = (tmp / "rank5.npy", {}, "rank 5")
    np.save(tmp / "nochannel.npy", np.zeros((2, 5, 5, 5), dtype=np.uint8))
    cases["no channel axis"] = (tmp / "nochannel.npy", {}, "no channel axis of size 1, 3 or 4")
    np.save(tmp / "above.npy", np.full((2, 3, 3), 20, dtype=np.uint8))
    cases["outside levels"] = (tmp / "above.npy", {"levels": 17}, "values up to 20 lie outside the declared levels 0..16")
    np.save(tmp / "huge.npy", np.full((2, 3, 3), 70000, dtype=np.int64))
    cases["too many levels"] = (tmp / "huge.npy", {}, "values up to 70000 exceed 65535")
    np.save(tmp / "negative.npy", np.full((2, 3, 3), -3, dtype=np.int16))
    cases["negative"] = (tmp / "negative.npy", {}, r"negative values \(min -3\)")
    (tmp / "garbage.npy").write_bytes(b"not numpy")
    cases["corrupt npy"] = (tmp / "garbage.npy", {}, "not a readable .npy array")
    np.save(tmp / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases["pickled npy"] = (tmp / "objects.npy", {}, "not a readable .npy array")
    np.savez(tmp / "mismatch.npz", images=grey(5), labels=np.arange(4))
    cases["npz lengths"] = (tmp / "mismatch.npz", {}, "4 labels for 5 images")
    np.savez(tmp / "nokey.npz", a=grey(2), b=grey(2))
    cases["npz without images"] = (tmp / "nokey.npz", {}, "no image array: expected a key among images, x, x_train")
    np.savez(tmp / "badlevels.npz", images=grey(2), levels=np.array([1, 2]))
    cases["npz levels"] = (tmp / "badlevels.npz", {}, "'levels' must be one integer")
    write_idx(tmp / "cut-images-idx3-ubyte.gz", grey(4), 2051, cut=7)
    cases["truncated IDX"] = (tmp / "cut-images-idx3-ubyte.gz", {}, "truncated IDX file: 4 images of 6x5 need 120 bytes, found 113")
    (tmp / "stub-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03\x00")
    cases["IDX header"] = (tmp / "stub-images-idx3-ubyte", {}, "shorter than its 16-byte header")
    write_idx(tmp / "long-images-idx3-ubyte", grey(4), 2051, extra=b"\x00" * 3)
    cases["IDX extra bytes"] = (tmp / "long-images-idx3-ubyte", {}, "3 unexpected bytes after 4 images")
    write_idx(tmp / "train-labels-idx1-ubyte", np.arange(4), 2049)
    cases["labels file as images"] = (tmp / "train-labels-idx1-ubyte", {}, "wrong magic number 2049, expected 2051 for IDX images \\(that is an IDX labels file\\)")
    write_idx(tmp / "odd-images-idx3-ubyte", grey(4), 1234)
    cases["wrong magic"] = (tmp / "odd-images-idx3-ubyte", {}, "wrong magic number 1234, expected 2051")
    write_idx(tmp / "few-images-idx3-ubyte", grey(4), 2051)
    write_idx(tmp / "few-labels-idx1-ubyte", np.arange(3), 2049)
    cases["IDX label count"] = (tmp / "few-images-idx3-ubyte", {}, r"few-labels-idx1-ubyte: 3 labels for the 4 images")
    (tmp / "broken-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00" * 100)[:15])
    cases["corrupt gzip"] = (tmp / "broken-images-idx3-ubyte.gz", {}, "corrupt gzip file")
    (tmp / "short.bin").write_bytes(b"\x00" * 3073 * 2 + b"\x01")
    cases["CIFAR size"] = (tmp / "short.bin", {}, "6147 bytes is not a whole number of CIFAR-10 records")
    write_cifar(tmp / "c100.bin", cifar_images(2), np.array([3, 57]))
    cases["CIFAR label"] = (tmp / "c100.bin", {}, "label byte 57 of record 1 is not a CIFAR-10 class")
    (tmp / "notes.txt").write_text("hello")
    cases["unknown format"] = (tmp / "notes.txt", {}, "unknown data format")
    cases["levels too few"] = (tmp / "float.npy", {"levels": 1}, "levels must be between 2 and 65536, got 1")
    return cases


BAD_CASES = (
    "missing", "empty folder", "mixed sizes", "mixed modes", "corrupt image", "truncated image", "palette image",
    "float array", "rank 2", "rank 5", "no channel axis", "outside levels", "too many levels", "negative",
    "corrupt npy", "pickled npy", "npz lengths", "npz without images", "npz levels", "truncated IDX",
    "IDX header", "IDX extra bytes", "labels file as images", "wrong magic", "IDX label count", "corrupt gzip",
    "CIFAR size", "CIFAR label", "unknown format", "levels too few",
)


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return bad_inputs(tmp_path_factory.mktemp("bad"))


def test_every_bad_input_is_exercised(bad):
    assert sorted(bad) == sorted(BAD_CASES)


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_raises_one_line_naming_the_file(bad, case):
    path, kwargs, expected = bad[case]
    with pytest.raises(DataError, match=expected) as caught:
        open_data(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    if case != "levels too few":
        assert path.name in message
