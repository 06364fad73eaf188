"""Output paths are checked before the work starts, so a typo costs seconds, not a whole evaluation."""

from __future__ import annotations

from pathlib import Path

from genloupe.engine.errors import GenLoupeError


def check_output_paths(*paths: Path | None) -> None:
    """Each given path must lie in an existing folder and must not be a folder itself."""
    for path in paths:
        if path is None:
            continue
        if not path.parent.is_dir():
            raise GenLoupeError(f"{path}: the folder {path.parent} does not exist")
        if path.is_dir():
            raise GenLoupeError(f"{path} is a folder; give a file name")
