"""``workbench bank list|build|clear|recipes``: the shared model bank."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("bank", help="trained models shared by notebooks: list, build, clear, recipes")
    bsub = p.add_subparsers(dest="bank_command", metavar="ACTION")
    ls = bsub.add_parser("list", help="entries: model, recipe, seed, accuracy, seconds, size, path")
    ls.set_defaults(func=_list)
    b = bsub.add_parser("build", help="train one entry (a no-op when it is already built)")
    b.add_argument("model", help="registry model name, e.g. reference_cnn")
    b.add_argument("--recipe", default="fmnist_short", help="recipe name (see `workbench bank recipes`)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="create_model keyword (JSON value), e.g. --set small_input=true; repeatable")
    b.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    b.add_argument("--threads", type=int, help="torch threads while training")
    b.set_defaults(func=_build)
    c = bsub.add_parser("clear", help="delete entries (all, or one model's)")
    c.add_argument("model", nargs="?", help="only this model's entries")
    c.set_defaults(func=_clear)
    r = bsub.add_parser("recipes", help="the named recipes, every field with its reason")
    r.set_defaults(func=_recipes)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _kwargs(pairs: list[str]) -> dict:
    out = {}
    for s in pairs:
        k, sep, v = s.partition("=")
        if not sep or not k:
            raise ValueError(f"--set expects KEY=VALUE, got {s!r}")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def _list(args) -> int:
    from ..bank import list_entries

    df = list_entries()
    if df.empty:
        print("the model bank is empty (build entries with `workbench bank build MODEL --recipe R`)")
        return 0
    df = df.assign(size=[f"{s / 1e6:.2f} MB" for s in df["size"]])
    cols = ["model", "recipe", "seed", "accuracy", "seconds", "size", "precision", "kwargs", "path"]
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


def _build(args) -> int:
    from ..bank import trained
    from ..paths import CacheWriteError

    try:
        r = trained(args.model, args.recipe, seed=args.seed, device=args.device, threads=args.threads,
                    **_kwargs(args.set))  # fmt: skip
    except (CacheWriteError, FloatingPointError) as e:
        print(f"workbench bank build: error: {e}", file=sys.stderr)
        return 2
    how = "already built" if r.cache_hit else f"trained in {r.history.total_seconds:.1f} s"
    print(f"{args.model} / {args.recipe} / seed {args.seed}: {r.history.final_acc:.2f} % ({how}) -> {r.path}")
    return 0


def _clear(args) -> int:
    from ..bank import clear

    print(f"removed {clear(args.model)} bank entries")
    return 0


def _recipes(args) -> int:
    from ..bank import RECIPES

    print("\n\n".join(RECIPES.get(n).describe() for n in RECIPES))
    return 0
