"""``workbench sweep``: one notebook over a grid of papermill parameters, gathered in one page."""

from __future__ import annotations

import argparse

from . import UsageError
from .report import add_executor_options, executor_from_args


def register(subparsers) -> None:
    from ..report.techniques import PROFILES

    p = subparsers.add_parser(
        "sweep",
        help="run a notebook over a grid of parameters (one task per point) and gather the results",
        description="Execute NOTEBOOK at every point of the grid given by the -p options "
        "(values are JSON literals, else strings), on this machine or as Ray tasks, and publish "
        "reports/sweeps/<slug>__<names>/ with sweep.html (table and plots across the swept "
        "parameters), points.csv and models.csv. Exits 1 if any point failed.",
    )
    p.add_argument("notebook", metavar="NOTEBOOK", help="technique slug or path to a .ipynb")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="a swept parameter and its values (repeat for a grid)",
    )
    p.add_argument(
        "--profile",
        default="smoke",
        metavar="{" + ",".join(PROFILES) + "}",
        help="profile the points start from (default: %(default)s)",
    )
    p.add_argument("--jobs", "-j", type=int, default=None, help="points run at once")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="per-point limit (s)")
    p.add_argument("--no-progress", action="store_true", help="print only the final table")
    add_executor_options(p)
    p.add_argument("--notebooks-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--reports-dir", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report.executors import ExecutorUnavailableError
    from ..report.pool import KernelMissingError
    from ..report.progress import ConsoleProgress
    from ..report.sweep import parse_grid, run_sweep

    grid = parse_grid(args.param)
    executor = executor_from_args(args)
    progress = None if args.no_progress else ConsoleProgress()
    try:
        s = run_sweep(
            args.notebook, grid, profile=args.profile, executor=executor, jobs=args.jobs,
            timeout=args.timeout, notebooks_dir=args.notebooks_dir, reports_dir=args.reports_dir,
            on_event=progress,
        )  # fmt: skip
    except (KernelMissingError, ExecutorUnavailableError) as e:
        raise UsageError(str(e)) from None
    finally:
        executor.close()
        if progress:
            progress.close()
    cols = ["point", *grid, "status", "seconds"]
    print(s.table[cols].to_string(index=False))
    for r in s.points:
        if r.error:
            print(f"{r.slug}: {r.error}")
    print(f"{sum(r.status == 'ok' for r in s.points)}/{len(s.points)} points ok -> {s.html}")
    return 0 if s.ok else 1
