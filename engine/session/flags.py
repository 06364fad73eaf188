"""Flag labels, flag edits as undoable commands, and the undo stack. Qt-free.

Every edit is a command holding the exact flag rows of its samples before and after; doing and
undoing replace those rows in one SQLite transaction, so the file always matches what is shown
and undo restores suggested-versus-confirmed states exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np

from ..errors import SessionError
from .store import FlagRow, Session

BUILTIN_LABELS = ("bad", "good", "memorized")
CUSTOM_LABELS = tuple(str(i) for i in range(1, 10))
LABELS = BUILTIN_LABELS + CUSTOM_LABELS
STATES = ("suggested", "confirmed")


def check_label(label: str) -> str:
    if label not in LABELS:
        raise SessionError(f"unknown flag label {label!r}; labels are {', '.join(LABELS)}")
    return label


@dataclass
class FlagCommand:
    """One user action on the flags of some samples (one source), as before/after row sets."""

    text: str
    source: str
    ids: list[int]
    before: list[FlagRow]
    after: list[FlagRow]

    def apply(self, session: Session, undo: bool = False) -> None:
        """Set the rows this command changed to their state after it (before it, to undo), in one immediate
        transaction; rows it did not change (another window's or process's flags on the same samples) stay."""
        old, new = (self.after, self.before) if undo else (self.before, self.after)
        was, becomes = _by_key(old), _by_key(new)
        changed = [key for key in was.keys() | becomes.keys() if was.get(key) != becomes.get(key)]

        def change(current: list[FlagRow]) -> list[FlagRow]:
            rows = _by_key(current)
            for key in changed:
                if key in becomes:
                    rows[key] = becomes[key]
                else:
                    rows.pop(key, None)
            return sorted(rows.values())

        session.edit_flags(self.source, self.ids, change)


def _by_key(rows: Iterable[FlagRow]) -> dict[tuple[int, str], FlagRow]:
    return {(row[0], row[1]): row for row in rows}


@dataclass
class NoteCommand:
    text: str
    source: str
    idx: int
    before: str
    after: str

    @property
    def ids(self) -> list[int]:
        return [self.idx]

    def apply(self, session: Session, undo: bool = False) -> None:
        session.set_note(self.source, self.idx, self.before if undo else self.after)


Command = FlagCommand | NoteCommand
Listener = Callable[[str, np.ndarray], None]  # (source, ids whose flags or notes changed)


@dataclass
class FlagEditor:
    """Makes flag commands against a session and runs them through an undo stack.

    Listeners hear (source, ids) after every do, undo and redo, once the change is on disk.
    """

    session: Session
    done: list[Command] = field(default_factory=list)
    undone: list[Command] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)

    # -- actions -------------------------------------------------------------------------------------

    def add(self, source: str, ids: Iterable[int], label: str, state: str = "confirmed", reason: str = "",
            reasons: Mapping[int, str] | None = None) -> None:
        """Give ``ids`` the ``label`` (a confirmed flag by default; 'suggested' for the engine's proposals),
        with a ``reason``, or one per sample in ``reasons``."""
        reasons = reasons or {}
        check_label(label)
        if state not in STATES:
            raise SessionError(f"unknown flag state {state!r}")
        now = time.time()

        def edit(rows: dict[tuple[int, str], FlagRow], idx: int) -> None:
            old = rows.get((idx, label))
            if state == "suggested" and old is not None and old[2] == "confirmed":
                return  # a suggestion never downgrades what the person confirmed
            created = old[4] if old else now
            why = reasons.get(idx, reason) or (old[3] if old else "")
            rows[(idx, label)] = (idx, label, state, why, created, now)

        self._push(f"{'suggest' if state == 'suggested' else 'flag'} {label}", source, ids, edit)

    def remove(self, source: str, ids: Iterable[int], label: str) -> None:
        check_label(label)
        self._push(f"unflag {label}", source, ids, lambda rows, idx: rows.pop((idx, label), None))

    def clear(self, source: str, ids: Iterable[int]) -> None:
        """Remove every label of ``ids``."""

        def edit(rows: dict[tuple[int, str], FlagRow], idx: int) -> None:
            for key in [key for key in rows if key[0] == idx]:
                del rows[key]

        self._push("clear flags", source, ids, edit)

    def confirm(self, source: str, ids: Iterable[int], label: str) -> None:
        """Turn suggested ``label`` flags of ``ids`` into confirmed ones (ids without the suggestion are untouched)."""
        check_label(label)
        now = time.time()

        def edit(rows: dict[tuple[int, str], FlagRow], idx: int) -> None:
            old = rows.get((idx, label))
            if old is not None and old[2] == "suggested":
                rows[(idx, label)] = (idx, label, "confirmed", old[3], old[4], now)

        self._push(f"confirm {label}", source, ids, edit)

    def replace_suggestions(self, source: str, reasons: Mapping[str, Mapping[int, str]]) -> None:
        """One undoable step: each label's suggestions become exactly ``reasons[label]`` ({id: reason});
        suggestions of these labels not in it are withdrawn, and what the person confirmed stays."""
        for label in reasons:
            check_label(label)
        current = {row[0] for row in self.session.flag_rows(source) if row[1] in reasons and row[2] == "suggested"}
        now = time.time()

        def edit(rows: dict[tuple[int, str], FlagRow], idx: int) -> None:
            for label, wanted in reasons.items():
                old = rows.get((idx, label))
                if idx in wanted and (old is None or old[2] == "suggested"):
                    rows[(idx, label)] = (idx, label, "suggested", wanted[idx], old[4] if old else now, now)
                elif idx not in wanted and old is not None and old[2] == "suggested":
                    del rows[(idx, label)]

        ids = current.union(*(wanted.keys() for wanted in reasons.values()))
        self._push(f"suggest {', '.join(reasons)}", source, ids, edit)

    def set_note(self, source: str, idx: int, text: str) -> None:
        before = self.session.notes(source).get(int(idx), ("", 0.0))[0]
        if before != text:
            self._run(NoteCommand("note", source, int(idx), before, text))

    # -- undo stack ------------------------------------------------------------------------------------

    def can_undo(self) -> bool:
        return bool(self.done)

    def can_redo(self) -> bool:
        return bool(self.undone)

    def undo_text(self) -> str:
        return self.done[-1].text if self.done else ""

    def redo_text(self) -> str:
        return self.undone[-1].text if self.undone else ""

    def undo(self) -> None:
        if self.done:
            command = self.done.pop()
            command.apply(self.session, undo=True)
            self.undone.append(command)
            self._notify(command)

    def redo(self) -> None:
        if self.undone:
            command = self.undone.pop()
            command.apply(self.session)
            self.done.append(command)
            self._notify(command)

    # -- internals -------------------------------------------------------------------------------------

    def _push(
        self,
        text: str,
        source: str,
        ids: Iterable[int],
        edit: Callable[[dict[tuple[int, str], FlagRow], int], object],
    ) -> None:
        ids = sorted({int(i) for i in ids})
        if not ids:
            return

        def change(before: list[FlagRow]) -> list[FlagRow]:
            rows = _by_key(before)
            for idx in ids:
                edit(rows, idx)
            return sorted(rows.values())

        before, after = self.session.edit_flags(source, ids, change)  # read and write in one transaction
        if after != before:
            self._record(FlagCommand(text, source, ids, before, after))

    def _run(self, command: Command) -> None:
        command.apply(self.session)
        self._record(command)

    def _record(self, command: Command) -> None:
        """A command already on disk joins the undo stack and is announced."""
        self.done.append(command)
        self.undone.clear()
        self._notify(command)

    def _notify(self, command: Command) -> None:
        ids = np.asarray(command.ids, dtype=np.int64)
        for listener in self.listeners:
            listener(command.source, ids)


def labels_by_sample(rows: Iterable[FlagRow]) -> dict[int, dict[str, str]]:
    """{idx: {label: state}} from flag rows, for views that draw badges."""
    out: dict[int, dict[str, str]] = {}
    for idx, label, state, *_ in rows:
        out.setdefault(idx, {})[label] = state
    return out
