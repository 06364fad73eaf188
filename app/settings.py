"""Persistent settings (window layout, recent files, trusted adapters) in one place a test can redirect.

``GENLOUPE_CONFIG_DIR`` moves everything (settings file, autosaved sessions, feature cache) so that
tests never touch the user's real configuration.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 10


def config_dir() -> Path:
    base = os.environ.get("GENLOUPE_CONFIG_DIR")
    path = Path(base) if base else Path.home() / ".config" / "genloupe"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sessions_dir() -> Path:
    path = config_dir() / "sessions"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Settings:
    """Typed access to the QSettings ini file in ``config_dir()``."""

    def __init__(self) -> None:
        self._qs = QSettings(str(config_dir() / "genloupe.ini"), QSettings.Format.IniFormat)

    def recent_files(self) -> list[str]:
        value = self._qs.value("recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def add_recent(self, path: str) -> None:
        files = [path] + [f for f in self.recent_files() if f != path]
        self._qs.setValue("recent_files", files[:MAX_RECENT])

    def trusted_hashes(self) -> set[str]:
        value = self._qs.value("trusted_adapters", [])
        return {value} if isinstance(value, str) else set(value or [])

    def trust(self, content_hash: str) -> None:
        self._qs.setValue("trusted_adapters", sorted(self.trusted_hashes() | {content_hash}))

    def features_for(self, reference: str) -> str:
        """The features last chosen for this reference data; 'auto' (follow the data) if none was."""
        return str(self._qs.value(f"features/{_reference_key(reference)}", "auto"))

    def remember_features(self, reference: str, spec: str) -> None:
        self._qs.setValue(f"features/{_reference_key(reference)}", spec)

    def value(self, key: str, default=None):
        return self._qs.value(key, default)

    def set_value(self, key: str, value) -> None:
        self._qs.setValue(key, value)

    def sync(self) -> None:
        self._qs.sync()


def _reference_key(reference: str) -> str:
    """A settings key for a data source (paths hold slashes, which QSettings reads as groups)."""
    return hashlib.sha256(reference.encode()).hexdigest()[:16]
