"""Data sources: the embedded digits, image folders, arrays, IDX, CIFAR-10 batches."""

from .dataset import SPLITS, Dataset
from .sources import open_data
from .summary import describe_dataset

__all__ = ["SPLITS", "Dataset", "describe_dataset", "open_data"]
