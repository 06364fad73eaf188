"""The Session: the per-sample table, selection, flags and notes, stored in one SQLite file."""

from .flags import LABELS, FlagEditor, labels_by_sample
from .selection import Selection
from .store import Session
from .suggestions import Suggestions, likely_but_bad, memorized

__all__ = ["LABELS", "FlagEditor", "Selection", "Session", "Suggestions", "labels_by_sample", "likely_but_bad", "memorized"]
