"""Typed errors with one-line messages a user can act on.

The CLI prints ``str(error)`` and exits with status 2; the GUI shows it in a dialog and keeps running.
"""


class GenLoupeError(Exception):
    """Base of every error GenLoupe reports to a user (one line, actionable)."""


class DataError(GenLoupeError):
    """A data source is missing, malformed or inconsistent."""


class ModelError(GenLoupeError):
    """A model misbehaves: wrong shapes, NaN or infinite values, bad configuration."""


class CheckpointError(GenLoupeError):
    """A checkpoint cannot be opened: unknown format, corrupt, or unsafe."""


class UnsafeFileError(CheckpointError):
    """A file would execute code to load and was not trusted."""


class MetricError(GenLoupeError):
    """Metric inputs are unusable (too few samples, mismatched dimensions)."""


class SessionError(GenLoupeError):
    """A session file is corrupt, foreign, or read-only."""


class Cancelled(GenLoupeError):
    """A task was cancelled by its caller."""
