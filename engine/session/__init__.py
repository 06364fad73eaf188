"""The Session: the per-sample table, selection, flags and notes, stored in one SQLite file."""

from .flags import LABELS, FlagEditor, labels_by_sample
from .selection import Selection
from .store import Session
from .suggestions import SuggestOptions, Suggestions, likely_but_bad, memorized, suggest_all

__all__ = ["LABELS", "FlagEditor", "Selection", "Session", "SuggestOptions", "Suggestions", "labels_by_sample",
           "likely_but_bad", "memorized", "suggest_all"]
