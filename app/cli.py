"""The ``genloupe`` command: no arguments opens the window on the bundled demo; subcommands run headless."""

from __future__ import annotations

import argparse
import importlib
import sys

from genloupe.engine.errors import GenLoupeError

# Subcommand name -> module in genloupe.app.commands defining add_parser(subparsers) and run(args) -> int.
COMMANDS = ("data", "train", "likelihood", "info", "export", "evaluate", "open", "report", "features",
            "new-adapter")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from genloupe.app.main_window import run_app

        return run_app()
    try:
        return int(args.run(args) or 0)
    except GenLoupeError as error:
        print(f"genloupe {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output path that cannot be written, a disk that is full
        print(f"genloupe {args.command}: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genloupe {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
