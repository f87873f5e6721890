"""``workbench report``: execute every technique notebook and regenerate ``reports/<profile>/``."""

from __future__ import annotations

import argparse

from . import UsageError


def register(subparsers) -> None:
    from ..report.techniques import PROFILES

    p = subparsers.add_parser(
        "report",
        help="execute the technique notebooks (papermill) and regenerate reports/<profile>/",
        description="Execute notebooks/<slug>.ipynb for every registered technique with papermill, "
        "convert them to HTML and rebuild reports/<profile>/index.html. Unchanged notebooks "
        "(same notebook, package source, parameters and data) are reused from the last run. "
        "Exits 1 if any notebook failed; the other reports are still published.",
    )
    p.add_argument(
        "--profile",
        default="default",
        metavar="{" + ",".join(PROFILES) + "}",
        help="parameter profile (default: %(default)s)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="SLUG",
        help="run only these techniques; others keep their last results",
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        help="notebooks run at once (default: number of cores)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="re-run notebooks even if their cached result is current",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="per-notebook wall-clock limit in seconds, > 0 (default: none)",
    )
    p.add_argument("--no-progress", action="store_true", help="print only the final summary")
    add_executor_options(p)
    # --- issue 19: a busy machine shifts latency verdicts; probe at start, optionally wait ---
    p.add_argument(
        "--wait-idle",
        nargs="?",
        type=float,
        const=600.0,
        default=None,
        metavar="SECONDS",
        help="wait until the machine is quiet (GEMM probe above the busy fraction of its idle "
        "peak), at most SECONDS (default 600), then run anyway with a warning",
    )
    p.add_argument("--notebooks-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--reports-dir", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


# -- executor options (issue 17): shared with `workbench sweep` ---------------------------------
def add_executor_options(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--address`` and ``--ship-repo``: where the notebooks run."""
    g = p.add_argument_group("executor (where bank builds and notebooks run)")
    g.add_argument(
        "--executor",
        default="local",
        metavar="{local,ray}",
        help="local: this machine's process pool (default); ray: Ray tasks "
        "(pip install -e '.[ray]')",
    )
    g.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="Ray cluster: auto, ray://HOST:10001, ... (default: $RAY_ADDRESS, else a local "
        "Ray instance)",
    )
    g.add_argument(
        "--ship-repo",
        action="store_true",
        help="upload the repository to the Ray workers (runtime_env working_dir) instead of "
        "relying on a shared file system",
    )


def executor_from_args(args: argparse.Namespace):
    """The executor the options ask for (``ValueError`` naming the valid ones)."""
    from ..report.executors import get_executor

    kwargs = {"ship_repo": True} if args.ship_repo else {}
    return get_executor(args.executor, address=args.address, **kwargs)


def run(args: argparse.Namespace) -> int:
    from ..report import runner
    from ..report.progress import ConsoleProgress

    kwargs = {}
    if args.notebooks_dir:
        kwargs["notebooks_dir"] = args.notebooks_dir
    if args.reports_dir:
        kwargs["reports_dir"] = args.reports_dir
    # refused before anything starts (and before the progress line), in one line
    runner.validate_options(
        args.profile,
        jobs=args.jobs,
        timeout=args.timeout,
        only=args.only,
        slugs=list(runner.TECHNIQUES),
    )
    from ..report.executors import ExecutorUnavailableError

    executor = executor_from_args(args)  # an unknown executor is refused before the machine is probed
    try:
        machine = _check_machine(args.wait_idle)
    except BaseException:  # Ctrl-C while waiting for a quiet machine
        executor.close()
        raise
    progress = None if args.no_progress else ConsoleProgress()
    try:
        summary = runner.run_reports(
            machine=machine,
            profile=args.profile,
            only=args.only,
            jobs=args.jobs,
            force=args.force,
            timeout=args.timeout,
            on_event=progress,
            executor=executor,
            **kwargs,
        )
    except (runner.KernelMissingError, ExecutorUnavailableError) as e:
        raise UsageError(str(e)) from None
    finally:
        executor.close()
        if progress:
            progress.close()
    print(format_summary(summary))
    return 0 if summary.ok else 1


def _check_machine(wait_idle: float | None) -> dict | None:
    """Probe the machine (and wait for a quiet one when asked); warn on stderr when busy."""
    import sys

    from ..report import idle

    if wait_idle is not None and not (wait_idle >= 0 and wait_idle != float("inf")):
        raise UsageError(f"--wait-idle takes a finite number of seconds >= 0, got {wait_idle}")
    try:
        if wait_idle is None:
            state, waited = idle.machine_state(), 0.0
        else:
            state, waited = idle.wait_for_idle(
                wait_idle,
                on_wait=lambda s, t: print(f"waiting for a quiet machine ({t:.0f} s): {s['sentence']}", file=sys.stderr),
            )
    except Exception as e:  # noqa: BLE001 - a failed probe must not stop the report
        print(f"warning: machine probe failed ({type(e).__name__}: {e})", file=sys.stderr)
        return None
    if state["busy"]:
        limit = f" after waiting {waited:.0f} s" if wait_idle is not None else ""
        print(
            f"warning: the machine is busy{limit}: {state['sentence']}; latency ratios and verdicts may differ "
            "from a quiet run (cards say so); --wait-idle [SECONDS] waits for a quiet machine",
            file=sys.stderr,
        )
    return state


def format_summary(summary) -> str:
    """The end-of-run table: slug, status, seconds, cached, plus where the index is."""
    from ..plots import fmt

    rows = [("notebook", "status", "time", "cached")]
    rows += [
        (r.slug, r.status, fmt.seconds(r.seconds), "yes" if r.cached else "")
        for r in summary.results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in summary.results:
        if r.error:
            lines.append(f"{r.slug}: {r.error}")
    n_bad = sum(r.status != "ok" for r in summary.results)
    lines.append(
        f"{len(summary.results) - n_bad}/{len(summary.results)} ok in {fmt.seconds(summary.seconds)} "
        f"({summary.jobs} jobs x {summary.threads} threads) -> {summary.index_html}"
    )
    return "\n".join(lines)
