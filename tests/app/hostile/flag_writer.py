"""One of several processes flagging the same samples of one session at once.

``python -m tests.app.hostile.flag_writer SESSION LABELS ACTIONS SEED`` makes ACTIONS random edits
(flag, suggest, confirm, unflag, undo, redo) on samples 0..IDS-1 with its own labels (comma-separated)
through a real :class:`FlagEditor`, and prints, as JSON, the state its labels must have when every
writer is done. Each process owns its labels, so the file must show exactly what this process's own
acknowledged edits leave; anything else was lost (or resurrected) by another writer's transaction.
"""

from __future__ import annotations

import json
import random
import sys

from genloupe.engine.session import FlagEditor, Session

IDS = 12  # few samples, so that the writers collide on the same rows all the time
EDITS = ("flag", "suggest", "confirm", "unflag")
State = dict[str, str | None]  # "idx:label" -> state (None: no flag)


def expected_after(action: str, before: State) -> State:
    """What one edit leaves on its keys, by FlagEditor's rules."""
    rules = {
        "flag": lambda state: "confirmed",
        "suggest": lambda state: state if state == "confirmed" else "suggested",  # never downgrades
        "confirm": lambda state: "confirmed" if state == "suggested" else state,
        "unflag": lambda state: None,
    }
    return {key: rules[action](state) for key, state in before.items()}


def recorded(action: str, before: State) -> bool:
    """Whether FlagEditor makes an undoable command of the edit (rows change, timestamps included)."""
    states = before.values()
    return {"flag": True, "suggest": any(s != "confirmed" for s in states),
            "confirm": any(s == "suggested" for s in states), "unflag": any(s is not None for s in states)}[action]


def main() -> int:
    path, labels, actions, seed = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    expected: State = {}
    done: list[tuple[State, State]] = []
    undone: list[tuple[State, State]] = []
    with Session.open(path) as session:
        editor = FlagEditor(session)
        for _ in range(actions):
            action = rng.choice(EDITS + ("undo", "redo"))
            if action in ("undo", "redo"):
                stack, other = (done, undone) if action == "undo" else (undone, done)
                (editor.undo if action == "undo" else editor.redo)()
                if stack:
                    before, after = stack.pop()
                    expected.update(before if action == "undo" else after)
                    other.append((before, after))
                continue
            ids, label = rng.sample(range(IDS), rng.randint(1, 3)), rng.choice(labels)
            getattr(editor, {"flag": "add", "suggest": "add", "confirm": "confirm", "unflag": "remove"}[action])(
                "sample", ids, label, *(["suggested"] if action == "suggest" else []))
            before = {f"{idx}:{label}": expected.get(f"{idx}:{label}") for idx in ids}
            after = expected_after(action, before)
            if recorded(action, before):
                done.append((before, after))
                undone.clear()
            expected.update(after)
    print(json.dumps({key: state for key, state in expected.items() if state is not None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
