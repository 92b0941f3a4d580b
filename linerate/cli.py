"""The `linerate` command line: one sub-command per concern.

Each concern's ``command.py`` defines ``register(sub)`` which adds its parser and
sets ``func`` (a callable taking the parsed namespace and returning an exit code).

Exit codes: 0 success, 1 a runtime error (one line on stderr saying what to
check), 2 a usage error (argparse), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from linerate import __version__
from linerate.errors import LinerateError, UsageError

#: Modules that provide sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "linerate.host.command",
    "linerate.vboard.command",
    "linerate.survey.command",
    "linerate.flash.command",
    "linerate.console.command",
    "linerate.kernel.command",
    "linerate.layer.command",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linerate",
        description="Line-rate stateless HTTP test appliance: build, flash, test, serve.",
    )
    parser.add_argument("--version", action="version", version=f"linerate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"linerate {args.command}: usage error: {exc}", file=sys.stderr)
        return 2
    except LinerateError as exc:
        print(f"linerate {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
