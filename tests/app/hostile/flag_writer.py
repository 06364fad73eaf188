"""One of several processes flagging the same samples of one session at once.

``python -m tests.app.hostile.flag_writer SESSION LABELS ACTIONS SEED`` makes ACTIONS random edits
(flag, suggest, confirm, unflag) on samples 0..IDS-1 with its own labels (comma-separated) through a
real :class:`FlagEditor`, and prints, as JSON, the state its labels must have when every writer is done:
each process owns its labels, so any of its acknowledged edits missing from the file was lost.
"""

from __future__ import annotations

import json
import random
import sys

from genloupe.engine.session import FlagEditor, Session

IDS = 12  # few samples, so that the writers collide on the same rows all the time


def main() -> int:
    path, labels, actions, seed = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    expected: dict[str, str] = {}  # "idx:label" -> state, as this writer's acknowledged edits leave it
    with Session.open(path) as session:
        editor = FlagEditor(session)
        for _ in range(actions):
            ids = rng.sample(range(IDS), rng.randint(1, 3))
            label = rng.choice(labels)
            action = rng.choice(("flag", "suggest", "confirm", "unflag"))
            if action == "flag":
                editor.add("sample", ids, label)
            elif action == "suggest":
                editor.add("sample", ids, label, state="suggested")
            elif action == "confirm":
                editor.confirm("sample", ids, label)
            else:
                editor.remove("sample", ids, label)
            for idx in ids:  # what the call's return promises is now on disk
                key = f"{idx}:{label}"
                if action == "flag":
                    expected[key] = "confirmed"
                elif action == "suggest":
                    expected.setdefault(key, "suggested")
                elif action == "confirm" and expected.get(key) == "suggested":
                    expected[key] = "confirmed"
                elif action == "unflag":
                    expected.pop(key, None)
    print(json.dumps(expected))
    return 0


if __name__ == "__main__":
    sys.exit(main())
