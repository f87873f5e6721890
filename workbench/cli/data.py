"""``workbench data fetch NAME`` and ``workbench data info``: the offline data caches."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("data", help="fetch data sets into the local cache; show what is cached")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    f = dsub.add_parser("fetch", help="download a data set once (a fast no-op when cached)")
    f.add_argument("name", help="data set name: fashion-mnist")
    f.add_argument("--force", action="store_true", help="fetch again even if the cache is valid")
    f.add_argument("--cache-dir", help="cache folder (default $WORKBENCH_DATA or datasets/cache/)")
    f.set_defaults(func=fetch)
    i = dsub.add_parser("info", help="show the cached data sets and the bundled SR photos")
    i.add_argument("--cache-dir", help="cache folder (default $WORKBENCH_DATA or datasets/cache/)")
    i.set_defaults(func=info)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def fetch(args) -> int:
    from ..data import fetch as fetch_dataset

    try:
        res = fetch_dataset(args.name, force=args.force, cache_dir=args.cache_dir, log=print)
    except OSError as e:
        print(f"workbench data fetch: {e}", file=sys.stderr)
        return 1
    if res.fetched:
        print(f"fetched {args.name} from {res.source!r} in {res.seconds:.1f} s -> {res.path}")
    else:
        print(f"{args.name} already cached, {_status(res)} ({res.source}, {res.split}): {res.path}")
    return 0


def _status(c) -> str:
    if c.pinned:
        return "verified against pinned digests"
    return "unpinned (consistent with the digests recorded at fetch time; no reference digests to check)"


def info(args) -> int:
    from ..data import SR_EVAL_IMAGES, SR_TRAIN_IMAGES, cache_info
    from ..paths import data_dir

    c = cache_info(args.cache_dir)
    if c is None:
        print(
            f"fashion-mnist: not cached in {data_dir(args.cache_dir)} (run `workbench data fetch fashion-mnist`)"
        )
    else:
        size_mb = c.path.stat().st_size / 2**20
        print(f"fashion-mnist: {c.counts['train']} train + {c.counts['test']} test, {_status(c)}")
        print(f"  source: {c.source}; split: {c.split}")
        print(f"  file:   {c.path} ({size_mb:.1f} MiB); version {c.version}")
    print(f"sr photos (bundled in scikit-image/scikit-learn): eval {', '.join(SR_EVAL_IMAGES)}")
    print(f"  train: {', '.join(SR_TRAIN_IMAGES)}")
    return 0
