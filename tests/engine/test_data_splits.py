"""Splits are a seeded function of the data: reproducible, seed-dependent, disjoint and covering."""

from __future__ import annotations

import numpy as np
import pytest

from genloupe.engine.data import describe_dataset, open_data
from genloupe.engine.errors import DataError


@pytest.fixture(scope="module")
def digits():
    return open_data()


def test_same_seed_same_split_even_after_reopening(digits):
    again = open_data().split_indices(seed=3)
    for name, index in digits.split_indices(seed=3).items():
        np.testing.assert_array_equal(index, again[name])


def test_different_seeds_give_different_splits(digits):
    first, second = digits.split_indices(seed=0), digits.split_indices(seed=1)
    assert not np.array_equal(first["train"], second["train"])
    assert not np.array_equal(first["test"], second["test"])


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_splits_are_disjoint_and_cover_the_data(digits, seed):
    splits = digits.split_indices(seed)
    parts = [splits[name] for name in ("train", "val", "test")]
    joined = np.concatenate(parts)
    assert len(joined) == len(np.unique(joined)) == len(digits)
    np.testing.assert_array_equal(np.sort(joined), splits["all"])
    assert [len(part) for part in parts] == [1438, 180, 179]


def test_split_datasets_keep_images_labels_and_format(digits):
    train = digits.split("train", seed=5)
    index = digits.split_indices(5)["train"]
    np.testing.assert_array_equal(train.images, digits.images[index])
    np.testing.assert_array_equal(train.labels, digits.labels[index])
    assert (train.format, train.levels, train.name) == ("digits", 17, "digits[train]")
    assert digits.split("all") is digits
    with pytest.raises(DataError, match="unknown split 'holdout'"):
        digits.split("holdout")


def test_description_reports_split_sizes_for_the_seed(digits):
    summary = describe_dataset(digits, seed=9)
    assert summary["splits"] == {"train": 1438, "val": 180, "test": 179}
    assert (summary["count"], summary["shape"], summary["levels"], summary["classes"]) == (1797, [1, 8, 8], 17, 10)
    assert summary["range"] == [0, 16] and summary["checksum"] == digits.checksum()
