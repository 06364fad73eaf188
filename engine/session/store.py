"""The session file: one SQLite database (stdlib sqlite3, WAL) that is the single source of truth.

It holds the run's provenance, the per-sample table (numpy columns per source), the images as
8-bit arrays, metrics with their conventions, flags and notes. Flags and notes are written through:
a call returns only after its transaction committed, so killing the program loses nothing.

Columns and images are stored as one BLOB per (source, name): a 50k-row table saves in milliseconds.
Flags and notes are rows, keyed by (source, index), because they change one at a time.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..errors import SessionError
from . import stored

APPLICATION_ID = 0x474C5550  # "GLUP": marks a SQLite file as a GenLoupe session
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE columns (source TEXT, name TEXT, dtype TEXT NOT NULL, length INTEGER NOT NULL, data BLOB NOT NULL,
                      PRIMARY KEY (source, name));
CREATE TABLE images (source TEXT PRIMARY KEY, shape TEXT NOT NULL, dtype TEXT NOT NULL, levels INTEGER NOT NULL,
                     data BLOB NOT NULL);
CREATE TABLE arrays (name TEXT PRIMARY KEY, shape TEXT NOT NULL, dtype TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE flags (source TEXT, idx INTEGER, label TEXT, state TEXT NOT NULL CHECK (state IN ('suggested', 'confirmed')),
                    reason TEXT NOT NULL DEFAULT '', created REAL NOT NULL, updated REAL NOT NULL,
                    PRIMARY KEY (source, idx, label));
CREATE TABLE notes (source TEXT, idx INTEGER, text TEXT NOT NULL, updated REAL NOT NULL, PRIMARY KEY (source, idx));
"""

BUSY_SECONDS = 30.0  # how long a write waits for another process's transaction to end

FlagRow = tuple[int, str, str, str, float, float]  # idx, label, state, reason, created, updated


class Session:
    """An open session file. Not thread-safe: use it from one thread (the GUI thread in the app)."""

    def __init__(self, path: Path, connection: sqlite3.Connection, read_only: bool) -> None:
        self.path = path
        self._db = connection
        self.read_only = read_only

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, run: dict[str, Any]) -> "Session":
        """A new session file at ``path`` (replacing any file there) holding the run's provenance."""
        path = Path(path)
        remove_database_files(path)
        db = connect(path, read_only=False)
        with db:
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("INSERT INTO meta VALUES ('run', ?)", (json.dumps(run),))
            db.execute("INSERT INTO meta VALUES ('metrics', '{}')")
        return cls(path, db, read_only=False)

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> "Session":
        """Open an existing session; a missing, foreign, corrupt or newer file is a SessionError."""
        path = Path(path)
        if not path.is_file():
            raise SessionError(f"{path}: no such session file")
        with open(path, "rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                raise SessionError(f"{path}: not a GenLoupe session (not a SQLite database)")
        db = connect(path, read_only=read_only)
        try:
            _check_identity(db, path)
            stored.check_schema(db, str(path))
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":  # damage is reported as a row, not raised
                raise sqlite3.DatabaseError(check.splitlines()[-1])
            db.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
        except sqlite3.DatabaseError as error:
            db.close()
            raise SessionError(f"{path}: corrupt session file ({error})") from None
        except SessionError:
            db.close()
            raise
        return cls(path, db, read_only=read_only)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_as(self, path: str | Path) -> "Session":
        """Copy the whole session to ``path`` (SQLite's backup API) and return the copy, open for writing."""
        path = Path(path)
        if path.resolve() == self.path.resolve():
            return self
        remove_database_files(path)
        target = sqlite3.connect(path)
        self._db.backup(target)
        target.close()
        return Session.open(path)

    # -- run, metrics ------------------------------------------------------------------------------

    @property
    def run(self) -> dict[str, Any]:
        return stored.record(self._meta("run"), "run", str(self.path))

    def update_run(self, **fields: Any) -> None:
        self._set_meta("run", json.dumps({**self.run, **fields}))

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Metrics with their conventions, sample sizes and intervals (JSON-serializable)."""
        self._set_meta("metrics", json.dumps(metrics))

    def read_metrics(self) -> dict[str, Any]:
        return stored.metrics(stored.record(self._meta("metrics"), "metrics", str(self.path)), str(self.path))

    # -- per-sample table and images -----------------------------------------------------------------

    def write_columns(self, source: str, columns: dict[str, np.ndarray]) -> None:
        """Replace the named per-sample columns of ``source`` (1-D arrays of one length)."""
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise SessionError(f"columns of {source!r} have different lengths: {sorted(lengths)}")
        rows = []
        for name, values in columns.items():
            array = np.ascontiguousarray(values)
            if array.ndim != 1 or array.dtype.kind not in "biuf":
                raise SessionError(f"column {name!r} of {source!r} must be a 1-D numeric array")
            rows.append((source, name, array.dtype.str, len(array), array.tobytes()))
        self._write("INSERT OR REPLACE INTO columns VALUES (?, ?, ?, ?, ?)", rows, many=True)

    def read_columns(self, source: str) -> dict[str, np.ndarray]:
        rows = self._db.execute("SELECT name, dtype, length, data FROM columns WHERE source = ?", (source,))
        where = f"{self.path}: source {source!r}"
        columns = dict(stored.column(*row, where) for row in rows)
        if len({len(values) for values in columns.values()}) > 1:
            raise SessionError(f"{where}: its columns have different lengths")
        return columns

    def sources(self) -> list[str]:
        rows = self._db.execute("SELECT source FROM images UNION SELECT source FROM columns ORDER BY source")
        return [row[0] for row in rows]

    def write_images(self, source: str, images: np.ndarray, levels: int) -> None:
        """Images of ``source`` as integer levels (N, C, H, W); 8-bit when levels <= 256."""
        dtype = np.uint8 if levels <= 256 else np.uint16
        array = np.ascontiguousarray(images, dtype=dtype)
        self._write(
            "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?)",
            (source, json.dumps(list(array.shape)), array.dtype.str, levels, array.tobytes()),
        )

    def has_images(self, source: str) -> bool:
        return self._db.execute("SELECT 1 FROM images WHERE source = ?", (source,)).fetchone() is not None

    def read_images(self, source: str) -> tuple[np.ndarray, int]:
        row = self._db.execute("SELECT shape, dtype, levels, data FROM images WHERE source = ?", (source,)).fetchone()
        if row is None:
            raise SessionError(f"{self.path}: the session holds no images of {source!r}")
        return stored.images(row, f"{self.path}: images of {source!r}")

    def write_array(self, name: str, array: np.ndarray) -> None:
        """Any other numeric array (e.g. per-pixel bits of the samples), stored as is."""
        array = np.ascontiguousarray(array)
        self._write("INSERT OR REPLACE INTO arrays VALUES (?, ?, ?, ?)",
                    (name, json.dumps(list(array.shape)), array.dtype.str, array.tobytes()))

    def read_array(self, name: str) -> np.ndarray | None:
        row = self._db.execute("SELECT shape, dtype, data FROM arrays WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        shape, dtype, data = row
        what = f"{self.path}: array {name!r}"
        return stored.array(data, stored.dtype(dtype, what), stored.shape(shape, what), what)

    # -- flags and notes (write-through) ----------------------------------------------------------

    def flag_rows(self, source: str, ids: Iterable[int] | None = None) -> list[FlagRow]:
        """Flag rows (idx, label, state, reason, created, updated) of ``source``, of ``ids`` if given."""
        if ids is None:
            query = self._db.execute(
                "SELECT idx, label, state, reason, created, updated FROM flags WHERE source = ? ORDER BY idx, label", (source,)
            )
            return [stored.flag_row(row, str(self.path)) for row in query]
        ids = sorted({int(i) for i in ids})
        rows: list[FlagRow] = []
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            rows += self._db.execute(
                f"SELECT idx, label, state, reason, created, updated FROM flags WHERE source = ? AND idx IN ({marks}) "
                "ORDER BY idx, label",
                (source, *chunk),
            ).fetchall()
        return [stored.flag_row(row, str(self.path)) for row in rows]

    def replace_flags(self, source: str, ids: Iterable[int], rows: Iterable[FlagRow]) -> None:
        """In one transaction: the flags of ``ids`` become exactly ``rows`` (the primitive of undo)."""
        self._check_writable()
        with self._db:
            self._put_flags(source, sorted({int(i) for i in ids}), list(rows))

    def edit_flags(self, source: str, ids: Iterable[int],
                   change: Callable[[list[FlagRow]], list[FlagRow]]) -> tuple[list[FlagRow], list[FlagRow]]:
        """Read the flags of ``ids``, ``change`` them and write the result, all in one immediate transaction.

        Another process's commit cannot slip between the read and the write (it waits for the lock), so an
        edit never deletes a flag it did not see. Returns (before, after); nothing is written when equal.
        """
        self._check_writable()
        ids = sorted({int(i) for i in ids})
        self._db.execute("BEGIN IMMEDIATE")
        try:
            before = self.flag_rows(source, ids)
            after = change(before)
            if after != before:
                self._put_flags(source, ids, after)
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise
        return before, after

    def _put_flags(self, source: str, ids: list[int], rows: list[FlagRow]) -> None:
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            self._db.execute(f"DELETE FROM flags WHERE source = ? AND idx IN ({marks})", (source, *chunk))
        self._db.executemany("INSERT INTO flags VALUES (?, ?, ?, ?, ?, ?, ?)", [(source, *row) for row in rows])

    def flag_counts(self, source: str) -> dict[tuple[str, str], int]:
        """{(label, state): count} for the counts shown in every view."""
        rows = self._db.execute("SELECT label, state, COUNT(*) FROM flags WHERE source = ? GROUP BY label, state", (source,))
        return {(label, state): count for label, state, count in rows}

    def notes(self, source: str) -> dict[int, tuple[str, float]]:
        rows = self._db.execute("SELECT idx, text, updated FROM notes WHERE source = ?", (source,))
        return {idx: (text, updated) for idx, text, updated in (stored.note_row(row, str(self.path)) for row in rows)}

    def set_note(self, source: str, idx: int, text: str) -> None:
        """Set (or with empty text, remove) the note of one sample; committed before returning."""
        if text:
            self._write("INSERT OR REPLACE INTO notes VALUES (?, ?, ?, ?)", (source, int(idx), text, time.time()))
        else:
            self._write("DELETE FROM notes WHERE source = ? AND idx = ?", (source, int(idx)))

    # -- internals -----------------------------------------------------------------------------------

    def _meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise SessionError(f"{self.path}: the session lacks its {key!r} record")
        return row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _check_writable(self) -> None:
        if self.read_only:
            raise SessionError(f"{self.path} is open read-only; save it under a new name to make changes")

    def _write(self, sql: str, params: Any, many: bool = False) -> None:
        self._check_writable()
        with self._db:
            (self._db.executemany if many else self._db.execute)(sql, params)


def _check_identity(db: sqlite3.Connection, path: Path) -> None:
    if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        raise SessionError(f"{path}: not a GenLoupe session (a SQLite file of another application)")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        raise SessionError(f"{path}: session schema version {version}; this GenLoupe reads version {SCHEMA_VERSION}")


def connect(path: Path, read_only: bool, what: str = "session file") -> sqlite3.Connection:
    """WAL with synchronous=FULL: a commit is on disk when it returns (SIGKILL and power loss safe).

    Shared by every SQLite file GenLoupe writes (sessions, comparisons); ``what`` names it in errors."""
    try:
        if read_only:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        else:
            db = sqlite3.connect(path, timeout=BUSY_SECONDS)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
    except sqlite3.OperationalError as error:  # a missing folder, no permission
        raise SessionError(f"{path}: cannot open or create the {what} ({error})") from None
    except sqlite3.DatabaseError as error:
        raise SessionError(f"{path}: corrupt {what} ({error})") from None
    return db


def remove_database_files(path: Path) -> None:
    """Delete a database and its WAL/shared-memory companions (a stale WAL would be replayed onto a new file)."""
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)


def _chunks(values: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
