"""Data sources: the embedded digits, image folders, arrays, IDX, CIFAR-10 batches."""

from .dataset import SPLITS, Dataset
from .sources import open_data
from .split_file import DeclaredSplit, genloupe_split, read_split, split_provenance
from .summary import describe_dataset

__all__ = ["SPLITS", "Dataset", "DeclaredSplit", "describe_dataset", "genloupe_split", "open_data", "read_split", "split_provenance"]
