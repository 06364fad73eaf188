"""The ``genloupe`` command: no arguments opens the window on the bundled demo; subcommands run headless."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from genloupe.app.progress_bar import end_line
from genloupe.engine.errors import GenLoupeError

# Subcommand name -> module in genloupe.app.commands defining add_parser(subparsers) and run(args) -> int.
COMMANDS = ("data", "train", "likelihood", "info", "export", "evaluate", "suggest", "open", "report", "features", "compare",
            "new-adapter")


class OneLineParser(argparse.ArgumentParser):
    """A command line that cannot be parsed is one line and exit status 2, like every other failure."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="genloupe",
        description="See where a generative model's likelihood and the quality of its samples part ways. "
        "Run with no arguments to open the window on the bundled demo.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"genloupe.app.commands.{name.replace('-', '_')}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # the window: it paints before the subcommands' modules (and torch) are imported
        from genloupe.app.main_window import run_app

        return run_app()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from genloupe.app.main_window import run_app

        return run_app()
    try:
        with warnings.catch_warnings():
            quiet_library_warnings()
            return int(args.run(args) or 0)
    except GenLoupeError as error:
        end_line()
        print(f"genloupe {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output path that cannot be written, a disk that is full
        end_line()
        print(f"genloupe {args.command}: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        end_line()
        print(f"genloupe {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        end_line()
        print(f"genloupe {args.command}: error: out of memory", file=sys.stderr)
        return 2
    except Exception as error:  # a bug, or a library failing in a way no check foresaw: one line and a log
        end_line()
        log = write_crash_log(args.command, argv)
        text = " ".join(str(error).split())[:200] or type(error).__name__
        print(f"genloupe {args.command}: internal error: {type(error).__name__}: {text} (traceback in {log})",
              file=sys.stderr)
        return 2


LIBRARY_LOGGERS = ("torch", "onnxruntime", "PIL")


def quiet_library_warnings() -> None:
    """Libraries' warnings (torch's UserWarnings, and the warnings torch logs) stay off stderr; GenLoupe's
    own still show."""
    warnings.simplefilter("ignore")
    warnings.filterwarnings("default", module=r"genloupe\.")
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def write_crash_log(command: str, argv: list[str]) -> Path:
    """The current exception's traceback in a file under the temp folder; its path goes in the one line."""
    folder = Path(tempfile.gettempdir()) / "genloupe-logs"
    path = folder / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(f"genloupe {' '.join(argv)}\n{traceback.format_exc()}", encoding="utf-8")
    except OSError:
        return Path("(no log: the temp folder is not writable)")
    return path


if __name__ == "__main__":
    sys.exit(main())
