"""The comparison file: one SQLite database (stdlib sqlite3, WAL) referencing one session file per model.

It holds the settings all members share (reference source and split, sample count, seed, features,
metrics), the reference's identity (name, checksum, size: a member evaluated on other data is
refused) and one row per member: its address, noise weight, epoch, the path of its session file
(relative to the comparison's folder, so the two move together) and its metrics as JSON. Every
write commits before it returns, like the session store.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import io as bounded
from ..errors import SessionError
from ..metric_names import ALL_METRICS
from ..session import stored
from ..session.store import connect, remove_database_files

if TYPE_CHECKING:
    from ..evaluation import EvaluationSettings

APPLICATION_ID = 0x474C434D  # "GLCM": marks a SQLite file as a GenLoupe comparison
SCHEMA_VERSION = 1
COMPARISON_SUFFIX = ".glcompare"
WHAT = "comparison file"  # how errors name it
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE members (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, address TEXT NOT NULL,
                      noise_weight REAL NOT NULL DEFAULT 0, epoch INTEGER, epoch_source TEXT NOT NULL DEFAULT '',
                      session TEXT NOT NULL, summary TEXT NOT NULL, added REAL NOT NULL);
"""


@dataclass(frozen=True)
class ComparisonSettings:
    """What every member of a comparison shares: the same reference, seeds, sample count and features."""

    reference: str = "digits"
    split: str = "test"
    n_samples: int = 1000
    features: str = "auto"  # follows the data (engine.compatibility), resolved alike for every member
    metrics: tuple[str, ...] = ALL_METRICS
    seed: int = 0
    k_deq: int = 8
    device: str = "auto"

    def evaluation_settings(self, feature_options: dict[str, Any] | None = None) -> EvaluationSettings:
        from ..evaluation import EvaluationSettings  # torch: imported when a member is evaluated, not when a file is read

        return EvaluationSettings(n_samples=self.n_samples, metrics=self.metrics, features=self.features,
                                  feature_options=feature_options or {}, device=self.device, seed=self.seed,
                                  k_deq=self.k_deq)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "metrics": list(self.metrics)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "comparison") -> "ComparisonSettings":
        """Settings as stored; a field of the wrong type or out of range is a SessionError (the file is untrusted)."""
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        for key, kind in (("reference", str), ("split", str), ("features", str), ("device", str), ("n_samples", int),
                          ("seed", int), ("k_deq", int)):
            if key in known and (not isinstance(known[key], kind) or isinstance(known[key], bool)):
                raise SessionError(f"{where}: setting {key} is {bounded.describe(known[key])}, not {kind.__name__}")
        metrics = known.get("metrics", list(ALL_METRICS))
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics) or not set(metrics) <= set(ALL_METRICS):
            raise SessionError(f"{where}: setting metrics is {bounded.describe(metrics)}, not a list out of {ALL_METRICS}")
        if known.get("n_samples", 2) < 2 or known.get("k_deq", 1) < 1:
            raise SessionError(f"{where}: settings ask for {known.get('n_samples')} samples and K={known.get('k_deq')}")
        return cls(**{**known, "metrics": tuple(metrics)})


@dataclass(frozen=True)
class Member:
    """One model of a comparison: where it came from, its session file and its metrics."""

    name: str
    address: str
    session: Path  # absolute path of the member's session file
    summary: dict[str, Any]  # 'model' (info), 'metrics' (key -> entry with value, ci, sizes), 'reference', ...
    noise_weight: float = 0.0
    epoch: int | None = None
    epoch_source: str = ""  # 'checkpoint' (the epoch it was saved at) or 'file name' (a step in its name)
    id: int | None = None
    added: float = field(default_factory=time.time)

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        return self.summary.get("metrics", {})

    def value(self, key: str) -> float | None:
        entry = self.metrics.get(key)
        return None if entry is None or entry.get("value") is None else float(entry["value"])


def is_comparison(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a comparison file (by its SQLite application id, not its name)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            if handle.read(16) != SQLITE_MAGIC:
                return False
    except OSError:
        return False
    try:  # asked through SQLite: a fresh file's header may still be in its write-ahead log
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        finally:
            db.close()
    except sqlite3.Error:
        return False


class Comparison:
    """An open comparison file. Like a Session, use it from one thread."""

    def __init__(self, path: Path, connection: sqlite3.Connection, read_only: bool) -> None:
        self.path = path
        self._db = connection
        self.read_only = read_only

    @classmethod
    def create(cls, path: str | os.PathLike, settings: ComparisonSettings) -> "Comparison":
        """A new, empty comparison at ``path`` (replacing any file there)."""
        path = Path(path)
        remove_database_files(path)
        db = connect(path, read_only=False, what=WHAT)
        with db:
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("INSERT INTO meta VALUES ('settings', ?)", (json.dumps(settings.to_dict()),))
        return cls(path, db, read_only=False)

    @classmethod
    def open(cls, path: str | os.PathLike, *, read_only: bool = False) -> "Comparison":
        """Open an existing comparison; a missing, foreign, corrupt or newer file is a SessionError."""
        path = Path(path)
        if not path.is_file():
            raise SessionError(f"{path}: no such comparison file")
        if not is_comparison(path):
            raise SessionError(f"{path}: not a GenLoupe comparison file")
        db = connect(path, read_only=read_only, what=WHAT)
        try:
            _check_schema(db, path)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                raise SessionError(f"{path}: comparison schema version {version}; this GenLoupe reads {SCHEMA_VERSION}")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            comparison = cls(path, db, read_only)
            comparison.settings  # noqa: B018 (the settings record must be readable)
            comparison.members()
        except sqlite3.DatabaseError as error:
            db.close()
            raise SessionError(f"{path}: corrupt comparison file ({error})") from None
        except (SessionError, ValueError, TypeError) as error:
            db.close()
            raise error if isinstance(error, SessionError) else SessionError(f"{path}: corrupt comparison file ({error})") from None
        return comparison

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Comparison":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared settings and reference --------------------------------------------------------------

    @property
    def settings(self) -> ComparisonSettings:
        where = str(self.path)
        return ComparisonSettings.from_dict(stored.record(self._meta("settings"), "settings", where), where)

    @property
    def reference(self) -> dict[str, Any] | None:
        """The reference's identity (name, checksum, n, levels), set by the first member."""
        value = self._meta("reference", required=False)
        return None if value is None else stored.record(value, "reference", str(self.path))

    # -- members ------------------------------------------------------------------------------------

    def members(self) -> list[Member]:
        rows = self._db.execute(  # checkpoints by epoch, then models by address, a model's noise mixtures by weight
            "SELECT id, name, address, noise_weight, epoch, epoch_source, session, summary, added FROM members "
            "ORDER BY epoch IS NULL, epoch, address, noise_weight, id"
        )
        return [_member(self.path, *row) for row in rows]

    def add_member(self, member: Member) -> Member:
        """Record an evaluated member; its reference must be the comparison's (the first member sets it)."""
        self._check_writable()
        reference = member.summary.get("reference")
        known = self.reference
        if known is None:
            self._set_meta("reference", json.dumps(reference))
        elif reference is None or reference.get("checksum") != known.get("checksum"):
            got = (reference or {}).get("name", "unknown data")
            raise SessionError(f"{member.name} was evaluated on {got}, not on this comparison's reference {known.get('name')}")
        session = os.path.relpath(member.session, self.path.parent)
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO members (name, address, noise_weight, epoch, epoch_source, session, summary, added) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (member.name, member.address, member.noise_weight, member.epoch, member.epoch_source, session,
                 json.dumps(member.summary, default=_plain), member.added),
            )
        return Member(**{**member.__dict__, "id": cursor.lastrowid})

    def remove_member(self, member_id: int) -> None:
        self._check_writable()
        with self._db:
            self._db.execute("DELETE FROM members WHERE id = ?", (member_id,))

    def new_session_path(self, name: str) -> Path:
        """Where a new member's session file goes: a folder beside the comparison, one file per member."""
        folder = self.path.parent / f"{self.path.stem}-models"
        folder.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:60] or "model"
        return folder / f"{slug}-{uuid.uuid4().hex[:6]}.genloupe"

    # -- internals ----------------------------------------------------------------------------------

    def _meta(self, key: str, required: bool = True) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None and required:
            raise SessionError(f"{self.path}: the comparison lacks its {key!r} record")
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _check_writable(self) -> None:
        if self.read_only:
            raise SessionError(f"{self.path} is open read-only")


def _member(path: Path, member_id: Any, name: Any, address: Any, weight: Any, epoch: Any, source: Any, session: Any,
            summary: Any, added: Any) -> Member:
    """One stored member row, checked: text where text belongs, numbers in range, a bounded JSON summary."""
    where = f"{path}: member {bounded.describe(name)}"
    if not all(isinstance(v, str) for v in (name, address, source, session)):
        raise SessionError(f"{where}: its name, address and session must be text")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight < 1.0:
        raise SessionError(f"{where}: noise weight {bounded.describe(weight)} is not a number in [0, 1)")
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int)):
        raise SessionError(f"{where}: epoch {bounded.describe(epoch)} is not a whole number")
    if isinstance(added, bool) or not isinstance(added, (int, float)):
        raise SessionError(f"{where}: its time added {bounded.describe(added)} is not a number")
    summary = stored.record(summary, "summary", where)
    metrics = summary.get("metrics", {})
    if not isinstance(metrics, dict) or not all(isinstance(entry, dict) for entry in metrics.values()):
        raise SessionError(f"{where}: its metrics are not a mapping of metric entries")
    stored.metrics(metrics, where)
    return Member(name=name, address=address, session=path.parent / session, summary=summary, noise_weight=float(weight),
                  epoch=epoch, epoch_source=source, id=member_id, added=float(added))


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    """Exactly the comparison's tables: a view or trigger (code a crafted file could carry) is refused."""
    rows = db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    if sorted(rows) != [("table", "members"), ("table", "meta")]:
        raise SessionError(f"{path}: not a GenLoupe comparison layout ({bounded.describe(sorted(name for _, name in rows))})")


def _plain(value: Any) -> Any:
    """numpy scalars in JSON."""
    return value.item() if hasattr(value, "item") else str(value)
