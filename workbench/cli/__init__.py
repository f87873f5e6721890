"""``workbench`` command line.

Subcommands live one per module in this package; each module defines
``register(subparsers)`` which adds its parser and sets ``func`` (taking the parsed args and
returning an exit code). Modules are discovered automatically.

User errors (unknown model, bad width, ...) exit with code 2 and one clear line, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings


class UsageError(Exception):
    """A mistake in the command line: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Lightweight-network workbench.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not m.name.startswith("_"):
            importlib.import_module(f"{__name__}.{m.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UsageError, KeyError, ValueError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"workbench {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
