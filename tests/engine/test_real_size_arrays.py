"""Real evaluation sets are as big as their files: the array caps scale with the bytes a file stores, bombs stay out.

A 50 000 x 3x64x64 uint8 set is 614 MB, above the 512 MiB a declared shape may imply on its own; it must load.
The caps are lowered here (GENLOUPE_READ_LIMITS) so the same cases run at a few MiB.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest

from genloupe.engine.data import open_data
from genloupe.engine.errors import DataError
from genloupe.engine.io import load_npy, load_npz

MIB = 1 << 20


@pytest.fixture(autouse=True)
def small_caps(monkeypatch):
    monkeypatch.setenv("GENLOUPE_READ_LIMITS", f"array_bytes={MIB},array_ratio=8")


def digit_images(n_bytes: int) -> np.ndarray:
    """Real digits tiled to ``n_bytes`` of uint8 images (they compress about 5-fold, as real images do)."""
    digits = (open_data("digits").images.astype(np.uint16) * 255 // 16).astype(np.uint8)
    n = n_bytes // digits[0].nbytes
    return np.resize(digits, (n, *digits.shape[1:]))


def test_raw_arrays_larger_than_the_cap_load_because_the_file_holds_them(tmp_path):
    images = digit_images(4 * MIB)
    np.savez(tmp_path / "raw.npz", images=images)
    np.save(tmp_path / "raw.npy", images)
    assert np.array_equal(load_npz(tmp_path / "raw.npz", "raw.npz", DataError)["images"], images)
    assert np.array_equal(load_npy(tmp_path / "raw.npy", "raw.npy", DataError), images)


def test_compressed_real_images_load_within_their_ratio(tmp_path):
    images = digit_images(4 * MIB)
    np.savez_compressed(tmp_path / "packed.npz", images=images)
    assert np.array_equal(load_npz(tmp_path / "packed.npz", "packed.npz", DataError)["images"], images)


def test_a_small_file_declaring_a_big_array_is_still_refused(tmp_path):
    bomb = tmp_path / "bomb.npz"  # 4 MiB of zeros packed into a few KiB (under the 100-fold zip check: one stream)
    np.savez_compressed(bomb, images=np.zeros((4 * MIB,), np.uint8))
    assert zipfile.ZipFile(bomb).infolist()[0].compress_size < 64 * 1024
    with pytest.raises(DataError, match=r"implies 4194304 bytes \(at most 1048576 allowed\)|zip bomb"):
        load_npz(bomb, "bomb.npz", DataError)
    header = tmp_path / "short.npy"  # a raw header declaring more than the file holds
    with open(header, "wb") as stream:
        np.lib.format.write_array_header_1_0(stream, {"descr": "|u1", "fortran_order": False, "shape": (4 * MIB,)})
        stream.write(b"\0" * MIB)
    with pytest.raises(DataError, match="implies 4194304 bytes|too short"):
        load_npy(header, "short.npy", DataError)


def test_genloupe_data_reads_a_set_above_the_cap(tmp_path):
    np.savez(tmp_path / "set.npz", images=digit_images(2 * MIB).reshape(-1, 1, 8, 8))
    out = subprocess.run([sys.executable, "-m", "genloupe.app", "data", str(tmp_path / "set.npz")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"images   {2 * MIB // 64} of 1x8x8" in out.stdout


def test_an_image_folder_holds_as_many_pixels_as_its_files_imply(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("GENLOUPE_READ_LIMITS", "folder_pixels=4096,array_ratio=8")
    real = tmp_path / "real"
    real.mkdir()
    for index, image in enumerate(digit_images(200 * 64)):  # 12 800 pixel values, over the lowered cap
        Image.fromarray(image[0]).save(real / f"{index:03d}.png")
    assert open_data(str(real)).images.shape == (200, 1, 8, 8)
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    Image.fromarray(np.zeros((2000, 2000), np.uint8)).save(bomb / "blank.png")  # 4 M pixel values in a few KiB
    with pytest.raises(DataError, match=r"make 4000000 pixel values \(at most \d+ in one folder\)"):
        open_data(str(bomb))
