"""``workbench models [PATTERN] [--task T] [--tag FAMILY]``: list registered models."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("models", help="list registered models (optionally matching a pattern)")
    p.add_argument("pattern", nargs="?", help="shell pattern or substring, e.g. 'mobilenet*'")
    p.add_argument("--task", choices=["classification", "super_resolution"], help="only this task")
    p.add_argument("--tag", help="only models using this technique family, e.g. channel_attention")
    p.add_argument("--long", action="store_true", help="also show default input size, tags, reference and paper")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..models import list_models, model_entry

    try:
        names = list_models(args.pattern, task=args.task, tag=args.tag)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not names:
        print(f"no model matches {args.pattern!r}")
        return 1
    for n in names:
        if args.long:
            e = model_entry(n)
            size = "x".join(map(str, e.default_input_size))
            print(f"{n:28s} {size:12s} {','.join(e.tags):48s} {e.reference or '-':32s} {e.paper}")
        else:
            print(n)
    return 0
