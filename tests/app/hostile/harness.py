"""Run many CLI cases from one process, each in a forked child measured on its own.

``python -m tests.app.hostile.harness CASES.json RESULTS.json``: CASES.json holds a list of
{"name", "argv"}; every case runs ``genloupe.app.cli.main(argv)`` in a child forked from this process
(which imported the CLI and torch once), with stdout and stderr captured to files. The parent reaps
each child with ``wait4`` and records its exit status, its stderr, its wall time and its peak resident
memory (the child's own ``ru_maxrss``, untouched by any other case), and writes them to RESULTS.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def run_case(argv: list[str], folder: Path) -> dict:
    out, err = folder / "stdout", folder / "stderr"
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: a real CLI run on real files, its exit status is main's
        status = 70
        try:
            with open(out, "w") as stdout, open(err, "w") as stderr:
                os.dup2(stdout.fileno(), 1)
                os.dup2(stderr.fileno(), 2)
                sys.stdout, sys.stderr = os.fdopen(1, "w", closefd=False), os.fdopen(2, "w", closefd=False)
                from genloupe.app.cli import main

                try:
                    status = main(argv)
                except SystemExit as leaving:  # argparse leaves this way
                    status = leaving.code if isinstance(leaving.code, int) else 1
                sys.stdout.flush()
                sys.stderr.flush()
        finally:
            os._exit(status)
    _, code, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    return {"status": os.waitstatus_to_exitcode(code), "stderr": err.read_text(), "seconds": seconds,
            "peak_mib": usage.ru_maxrss / 1024}


def main() -> int:
    import torch  # noqa: F401  imported once here, so every forked case starts warm

    import genloupe.app.report  # noqa: F401
    import genloupe.engine.checkpoints  # noqa: F401
    from genloupe.app.cli import build_parser

    build_parser()  # imports every command module
    with torch.device("meta"):  # torch's meta-device kernels load on first use: once here, not in every case
        torch.zeros(2, 2) @ torch.zeros(2, 2)

    cases = json.loads(Path(sys.argv[1]).read_text())
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for case in cases:
            folder = Path(scratch) / case["name"]
            folder.mkdir()
            results[case["name"]] = run_case(case["argv"], folder)
    Path(sys.argv[2]).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
