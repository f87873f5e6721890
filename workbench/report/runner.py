"""Execute every technique notebook with papermill and publish ``reports/<profile>/``.

``run_reports`` is what ``workbench report`` (and so ``make reports``) calls. It strings the
three jobs of a run together, each in its own module:

1. planning (:mod:`.plan`): per notebook, reuse the published result, re-render it, or execute
   it; executions ordered longest first by the previous run's durations;
2. the model bank: the missing bank entries of every notebook to execute are built first, in
   parallel (``workbench.bank.ensure``; skipped when the bank is not installed);
3. the index sections that do not depend on results (machine card, zoo claims, literature
   page) are prepared while nothing else runs (:func:`.index.prepare_extras`);
4. the executor (:mod:`.executors`): this machine's worker pool (:mod:`.pool`, the default)
   or Ray tasks on a cluster; notebooks execute in parallel and each worker renders its
   notebook to HTML as soon as it finishes;
5. publishing (:mod:`.publish`): index, manifest, then one atomic swap of the staging folder.

After the last notebook only the index and the swap remain; the manifest records how long that
took (``after_last_notebook_s``).

A failing notebook keeps papermill's error banner in its executed copy and HTML, the others go
on, and the summary's ``ok`` is false.

Published layout of ``reports/<profile>/``: ``index.html``, ``index.md``, ``manifest.json``,
``<slug>.ipynb``, ``<slug>.html``, ``records/<slug>/`` (the notebook's :func:`record` sidecars),
``assets/plotly.min.js``, and ``literature.html`` / ``claims.csv`` when available.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import paths
from . import cache
from .assets import copy_plotly_js
from .executors import Executor, get_executor
from .plan import Job, Keys, NotebookResult, bank_entries, longest_first, plan_notebook
from .pool import (
    KERNEL,
    EventCallback,
    KernelMissingError,
    Progress,
    check_kernel,
    default_jobs,
    now,
    sigterm_as_interrupt,
)
from .publish import load_manifest, new_staging, profile_lock, publish, recover, write_manifest
from .techniques import PROFILES, TECHNIQUES, Technique

__all__ = [
    "KERNEL", "KernelMissingError", "NotebookResult", "Progress", "RunSummary", "check_kernel",
    "default_jobs", "run_reports", "validate_options",
]  # fmt: skip


@dataclass
class RunSummary:
    """What :func:`run_reports` did. ``ok`` is false if any notebook did not succeed.

    Attributes:
        after_last_notebook_s: wall time (s) from the last notebook's end to the publication
            (index, manifest, swap); ``None`` when no notebook ran.
        bank_s: wall time (s) spent building missing model-bank entries before the notebooks.
        extras_s: wall time (s) spent on the zoo claims table, machine card and literature page.
    """

    profile: str
    out_dir: Path
    index_html: Path
    results: list[NotebookResult]
    seconds: float
    jobs: int
    threads: int
    after_last_notebook_s: float | None = None
    bank_s: float = 0.0
    extras_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.results)


def validate_options(
    profile: str,
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    only: Sequence[str] | None = None,
    slugs: Sequence[str] = (),
) -> None:
    """Refuse bad options in one line naming the valid ones (``ValueError``).

    Args:
        profile: must be one of :data:`~workbench.report.techniques.PROFILES`.
        jobs: ``None`` or an integer >= 1.
        timeout: ``None`` or a finite number of seconds > 0.
        only: slugs that must all be in ``slugs``.
        slugs: the valid technique slugs.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    if timeout is not None and not (
        isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0
    ):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    unknown = sorted(set(only or ()) - set(slugs))
    if unknown:
        raise ValueError(f"unknown technique {', '.join(unknown)}; valid: {', '.join(slugs)}")


def run_reports(
    techniques: Sequence[Technique] | None = None,
    *,
    profile: str = "default",
    only: Sequence[str] | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    reports_dir: str | os.PathLike | None = None,
    datasets_dir: str | os.PathLike | None = None,
    package_dir: str | os.PathLike | None = None,
    jobs: int | None = None,
    force: bool = False,
    timeout: float | None = None,
    kernel: str = KERNEL,
    extras: Any = "default",
    on_event: EventCallback | None = None,
    build_bank: Callable[..., Any] | None | str = "default",
    executor: Executor | str = "local",
    machine: dict[str, Any] | None = None,
) -> RunSummary:
    """Execute the technique notebooks and publish ``reports_dir/<profile>/`` atomically.

    Args:
        techniques: techniques to report on; default every registered one.
        profile: one of :data:`~workbench.report.techniques.PROFILES`.
        only: run just these slugs; the other techniques keep their published results
            (shown as cached) when there are any.
        notebooks_dir: where ``<slug>.ipynb`` live, also the kernels' working directory
            (default: the repository's ``notebooks/``).
        reports_dir: parent of the published ``<profile>/`` folder (default ``reports/``).
        datasets_dir: folder whose content is part of the cache key (default ``datasets/``).
        package_dir: package whose source is part of the cache key (default ``workbench/``;
            tests point it elsewhere).
        jobs: notebooks executed at once (default: number of cores).
        force: execute even when the cache says the result is current.
        timeout: per-notebook wall-clock limit (s, finite, > 0); ``None`` for none.
        kernel: Jupyter kernel name.
        extras: :class:`workbench.report.index.IndexExtras` for the zoo claims, machine card
            and literature page; ``"default"`` looks them up in the package, ``None`` skips them.
        on_event: ``callback(event, progress, result)`` with events ``start``, ``finish``
            (``result`` set) and ``tick`` (about every 0.25 s while notebooks run), and
            ``bank`` (``result`` is ``None``; ``progress.bank`` holds the bank's own message).
        build_bank: ``callable(entries, jobs=..., progress=...)`` that builds missing model-bank
            entries; ``"default"`` is the executor's (``workbench.bank.ensure`` for the local
            one, when that module exists), ``None`` skips the step.
        executor: where bank builds and notebooks run: ``"local"`` (this machine's process
            pool), ``"ray"`` (a local Ray instance or ``$RAY_ADDRESS``) or an executor object
            (:mod:`.executors`; a :class:`~.executors.RayExecutor` for a cluster address).
            One the runner creates from a name it also closes.
        machine: the machine's state at start (:func:`workbench.report.idle.machine_state`,
            as ``workbench report`` probes it); stored in the manifest and, when busy, shown as
            a warning on the index. ``None``: not probed.

    Returns:
        The :class:`RunSummary`; ``summary.ok`` is false if a notebook failed, timed out or
        is missing.

    Raises:
        ValueError: unknown profile or ``only`` slug, ``jobs`` < 1, ``timeout`` <= 0 or not
            finite, or another run of the same profile holds the reports folder.
        KernelMissingError: a notebook must execute and ``kernel`` is not installed.
        KeyboardInterrupt: interrupted (staging removed, published reports untouched).
    """
    techniques = (
        list(techniques) if techniques is not None else [TECHNIQUES.get(s) for s in TECHNIQUES]
    )
    slugs = [t.slug for t in techniques]
    validate_options(profile, jobs=jobs, timeout=timeout, only=only, slugs=slugs)
    owned = isinstance(executor, str)
    executor = get_executor(executor) if owned else executor
    # defaults looked up at call time, so tests can point the module constants elsewhere
    notebooks_dir = Path(notebooks_dir or paths.NOTEBOOKS_DIR).resolve()
    reports_dir = Path(reports_dir or paths.REPORTS_DIR).resolve()
    datasets_dir = Path(datasets_dir or paths.DATASETS_DIR)
    package_dir = Path(package_dir or paths.PACKAGE_DIR)
    started = time.monotonic()
    reports_dir.mkdir(parents=True, exist_ok=True)
    published = reports_dir / profile

    with sigterm_as_interrupt(), profile_lock(reports_dir, profile), _closing(executor, owned):
        recover(reports_dir, profile)
        previous = load_manifest(published)
        staging = new_staging(reports_dir, profile)
        try:
            keys = Keys(
                package=cache.package_fingerprint(package_dir),
                data=cache.data_fingerprint(datasets_dir),
                report=cache.report_fingerprint(),
                files=cache.file_hashes(package_dir, datasets_dir),
                package_dir=package_dir,
            )
            results, todo = [], []
            for t in techniques:
                r, job = plan_notebook(
                    t, profile, notebooks_dir, staging, published, previous,
                    run=(not only or t.slug in only), force=force, kernel=kernel, keys=keys,
                )  # fmt: skip
                results.append(r)
                if job is not None:
                    todo.append(job)
            todo = longest_first(todo)
            n_exec = sum(j.execute for j in todo)
            if n_exec:
                check_kernel(kernel)
            # a remote executor is contacted only when there is work for it
            cores = executor.cores() if todo else default_jobs()
            jobs = cores if jobs is None else jobs
            threads = max(1, cores // max(1, min(jobs, n_exec or 1)))
            copy_plotly_js(staging / "assets")
            progress = Progress(
                total=len(results),
                cached=sum(r.cached for r in results) - sum(not j.execute for j in todo),
                failed=sum(r.status != "ok" for r in results),
            )
            t0 = time.monotonic()
            if build_bank == "default" and todo:
                build_bank = executor.bank_builder() or "default"
            _build_bank(todo, build_bank, jobs, progress, on_event)
            bank_s = time.monotonic() - t0

            from .index import build_index, prepare_extras

            t0 = time.monotonic()
            prepared = prepare_extras(staging, extras, cache_dir=reports_dir / ".cache")
            extras_s = time.monotonic() - t0
            executor.execute_all(todo, staging, profile, jobs, threads, timeout, progress, on_event)
            _note_deps(todo, profile, kernel, keys)

            meta = {
                "profile": profile,
                "created_at": now(),
                "jobs": jobs,
                "threads_per_notebook": threads,
                "kernel": kernel,
                "executor": executor.name,
                "package_fingerprint": keys.package,
                "data_fingerprint": keys.data,
                "bank_s": round(bank_s, 2),
                "extras_s": round(extras_s, 2),
                "contention": machine,  # issue 19: was the machine busy at start?
            }
            index_html = build_index(
                staging, results, meta=meta, techniques=techniques, prepared=prepared
            )
            meta["seconds"] = round(time.monotonic() - started, 2)
            last = progress.last_finish
            # the manifest's figure stops before the swap (a rename, microseconds)
            meta["after_last_notebook_s"] = (
                round(time.monotonic() - last, 2) if last is not None else None
            )
            write_manifest(staging, {**meta, "notebooks": {r.slug: asdict(r) for r in results}})
            publish(staging, published)
            after_s = round(time.monotonic() - last, 2) if last is not None else None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return RunSummary(
        profile=profile,
        out_dir=published,
        index_html=published / index_html.name,
        results=results,
        seconds=time.monotonic() - started,
        jobs=jobs,
        threads=threads,
        after_last_notebook_s=after_s,
        bank_s=bank_s,
        extras_s=extras_s,
    )


def _note_deps(todo: list[Job], profile: str, kernel: str, keys: Keys) -> None:
    """Attach to each executed notebook what its run used (:mod:`workbench.deps`) and the key of
    those files, so that the next run re-executes it only when one of them changes."""
    from .. import deps

    for job in todo:
        r, dep_file = job.result, job.spec.get("deps_file")
        if not (job.execute and r.status == "ok" and dep_file):
            continue
        used = deps.read(dep_file)
        Path(dep_file).unlink(missing_ok=True)
        key = used and cache.deps_key(Path(job.spec["input"]), job.spec["parameters"], profile=profile,
                                      kernel=kernel, deps=used, hashes=keys.files, package_dir=keys.package_dir)
        if key:
            r.deps, r.deps_key = used, key
            r.render_key = cache.render_key(key, keys.report)


@contextlib.contextmanager
def _closing(executor: Executor, owned: bool) -> Iterator[None]:
    """Close ``executor`` at the end when the runner created it."""
    try:
        yield
    finally:
        if owned:
            executor.close()


def _build_bank(
    todo: list[Job],
    build_bank: Callable[..., Any] | None | str,
    jobs: int,
    progress: Progress,
    on_event: EventCallback | None,
) -> None:
    """Build the missing model-bank entries of the notebooks about to execute, all at once.

    Notebooks then load their trained models instead of training them, and two notebooks that
    need the same model do not train it twice (nor race for it).
    """
    entries = bank_entries(todo)
    if not entries or build_bank is None:
        return
    if build_bank == "default":
        try:  # the bank is another module's job; a package without it runs notebooks as before
            from workbench.bank import ensure as build_bank
        except ImportError:
            return

    def report(*args: Any, **kwargs: Any) -> None:
        progress.bank = " ".join(str(a) for a in args) or str(kwargs)
        if on_event:
            on_event("bank", progress, None)

    try:
        build_bank(entries, jobs=jobs, progress=report)
    except Exception as e:  # noqa: BLE001 - one failing entry must not stop the report
        # the notebooks that need the entry ask the bank again and fail visibly in their own
        # output (or succeed); the others run as usual
        report(f"model bank build failed ({type(e).__name__}: {e}); notebooks will train what they need")
