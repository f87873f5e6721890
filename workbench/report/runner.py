"""Execute every technique notebook with papermill and publish ``reports/<profile>/``.

``run_reports`` is what ``workbench report`` (and so ``make reports``) calls:

1. For each technique, ``notebooks/<slug>.ipynb`` gets an execution key
   (:mod:`workbench.report.cache`). If the published set holds a successful run with the same
   key, its files are copied; otherwise the notebook is executed.
2. Notebooks execute in parallel, one worker process each (``worker.py``), with
   the kernel ``workbench``, cwd = the notebooks folder (as in JupyterLab), papermill injecting
   ``technique.parameters(profile)`` after the ``parameters`` cell. Each kernel gets
   ``OMP_NUM_THREADS = MKL_NUM_THREADS = WORKBENCH_THREADS = max(1, cores // jobs)``, so parallel
   notebooks do not oversubscribe the cores, and ``PLOTLY_RENDERER=plotly_mimetype`` (see
   :mod:`workbench.report.notebook_html`).
3. Everything is built in ``reports/.staging-<profile>-<id>/``; only a complete build replaces
   ``reports/<profile>/`` (two renames). An interrupted run (Ctrl-C, SIGTERM, kill) leaves the
   previously published reports untouched; leftovers are removed by the next run.

A failing notebook keeps papermill's error banner in its executed copy and HTML, the others go
on, and the summary's ``ok`` is false. A notebook running longer than ``timeout`` seconds is
killed with its kernel and reported as ``timeout`` with what it had executed so far.

Published layout of ``reports/<profile>/``: ``index.html``, ``index.md``, ``manifest.json``,
``<slug>.ipynb``, ``<slug>.html``, ``records/<slug>/`` (the notebook's :func:`record` sidecars),
``assets/plotly.min.js``, and ``literature.html`` / ``claims.csv`` when available.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..techniques import PROFILES, TECHNIQUES, Technique
from . import cache
from .record import ENV_DIR

REPO_DIR = cache.PACKAGE_DIR.parent
NOTEBOOKS_DIR = REPO_DIR / "notebooks"
REPORTS_DIR = REPO_DIR / "reports"
DATASETS_DIR = REPO_DIR / "datasets"
KERNEL = "workbench"
PLOTLY_JS_SRC = "assets/plotly.min.js"
#: seconds a killed worker gets to shut its kernel down before SIGKILL
_GRACE_S = 5.0
#: the runner's overall deadline is ``timeout + _DEADLINE_SLACK_S``; papermill's per-cell limit
#: is ``timeout``, so a single hung cell gets papermill's own clean failure first.
_DEADLINE_SLACK_S = 10.0


class KernelMissingError(LookupError):
    """The Jupyter kernel the notebooks run on is not installed."""


@dataclass
class NotebookResult:
    """Outcome of one technique notebook in a report run.

    Attributes:
        slug: technique slug (= notebook stem).
        title: technique title.
        status: ``ok``, ``failed``, ``timeout`` or ``missing`` (no notebook file).
        cached: true when the published result was reused (not executed in this run).
        seconds: execution wall time (s) of the run that produced the result.
        error: one line saying what went wrong, else ``None``.
        notebook: executed ``.ipynb`` relative to the report folder, if any.
        html: its HTML relative to the report folder, if any.
        finished_at: ISO time the producing run finished.
        exec_key: the execution key (:func:`workbench.report.cache.execution_key`).
        render_key: the key of the HTML conversion.
        parameters: the parameters papermill injected.
    """

    slug: str
    title: str
    status: str
    cached: bool = False
    seconds: float = 0.0
    error: str | None = None
    notebook: str | None = None
    html: str | None = None
    finished_at: str | None = None
    exec_key: str | None = None
    render_key: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunSummary:
    """What :func:`run_reports` did. ``ok`` is false if any notebook did not succeed."""

    profile: str
    out_dir: Path
    index_html: Path
    results: list[NotebookResult]
    seconds: float
    jobs: int
    threads: int

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.results)


@dataclass
class Progress:
    """Live counts handed to the ``on_event`` callback."""

    total: int
    waiting: int = 0
    running: dict[str, float] = field(default_factory=dict)  # slug -> start time (monotonic)
    done: int = 0
    failed: int = 0
    cached: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


EventCallback = Callable[[str, Progress, "NotebookResult | None"], None]


@dataclass
class _Job:
    result: NotebookResult
    spec: dict[str, Any]
    execute: bool
    proc: subprocess.Popen | None = None
    started: float = 0.0
    job_file: Path | None = None


def default_jobs() -> int:
    """Number of usable cores (the default for ``--jobs``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_kernel(kernel: str = KERNEL) -> None:
    """Raise :class:`KernelMissingError` with the fix if ``kernel`` is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise KernelMissingError(
            f"Jupyter kernel {kernel!r} is not installed; run `make setup` (or "
            f"`python -m ipykernel install --sys-prefix --name {kernel}` in the project venv)"
        ) from None


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
) -> RunSummary:
    """Execute the technique notebooks and publish ``reports_dir/<profile>/`` atomically.

    Args:
        techniques: techniques to report on; default every registered one.
        profile: one of ``smoke``, ``default``, ``full``.
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
        timeout: per-notebook wall-clock limit (s); ``None`` for none.
        kernel: Jupyter kernel name.
        extras: :class:`workbench.report.index.IndexExtras` for the zoo claims, machine card
            and literature page; ``"default"`` looks them up in the package, ``None`` skips them.
        on_event: ``callback(event, progress, result)`` with events ``start``, ``finish``
            (``result`` set) and ``tick`` (about every 0.25 s while notebooks run).

    Returns:
        The :class:`RunSummary`; ``summary.ok`` is false if a notebook failed, timed out or
        is missing.

    Raises:
        ValueError: unknown profile or ``only`` slug, ``jobs`` < 1.
        KernelMissingError: a notebook must execute and ``kernel`` is not installed.
        KeyboardInterrupt: interrupted (staging removed, published reports untouched).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    techniques = (
        list(techniques) if techniques is not None else [TECHNIQUES.get(s) for s in TECHNIQUES]
    )
    slugs = [t.slug for t in techniques]
    unknown = sorted(set(only or ()) - set(slugs))
    if unknown:
        raise ValueError(f"unknown technique {', '.join(unknown)}; valid: {', '.join(slugs)}")
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    # defaults looked up at call time, so tests can point the module constants elsewhere
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR).resolve()
    reports_dir = Path(reports_dir or REPORTS_DIR).resolve()
    datasets_dir = Path(datasets_dir or DATASETS_DIR)
    package_dir = Path(package_dir or cache.PACKAGE_DIR)
    started = time.monotonic()
    reports_dir.mkdir(parents=True, exist_ok=True)
    published = reports_dir / profile

    with _sigterm_as_interrupt(), _profile_lock(reports_dir, profile):
        _recover(reports_dir, profile)
        previous = _load_manifest(published)
        staging = reports_dir / f".staging-{profile}-{os.getpid()}-{secrets.token_hex(3)}"
        staging.mkdir()
        try:
            package_fp = cache.package_fingerprint(package_dir)
            data_fp = cache.data_fingerprint(datasets_dir)
            report_fp = cache.report_fingerprint()
            results, todo = [], []
            for t in techniques:
                r, job = _plan(
                    t,
                    profile,
                    notebooks_dir,
                    staging,
                    published,
                    previous,
                    run=(not only or t.slug in only),
                    force=force,
                    kernel=kernel,
                    package_fp=package_fp,
                    data_fp=data_fp,
                    report_fp=report_fp,
                )
                results.append(r)
                if job is not None:
                    todo.append(job)
            if any(j.execute for j in todo):
                check_kernel(kernel)
            n_exec = sum(j.execute for j in todo)
            threads = max(1, default_jobs() // max(1, min(jobs, n_exec or 1)))
            _copy_plotly_js(staging)
            progress = Progress(
                total=len(results),
                cached=sum(r.cached for r in results) - sum(not j.execute for j in todo),
                failed=sum(r.status != "ok" for r in results),
            )
            _execute_all(
                todo, staging, profile, jobs, threads, timeout, notebooks_dir, progress, on_event
            )

            from .index import build_index

            meta = {
                "profile": profile,
                "created_at": _now(),
                "jobs": jobs,
                "threads_per_notebook": threads,
                "kernel": kernel,
                "package_fingerprint": package_fp,
                "data_fingerprint": data_fp,
            }
            index_html = build_index(
                staging,
                results,
                meta=meta,
                techniques=techniques,
                extras=extras,
                cache_dir=reports_dir / ".cache",
            )
            meta["seconds"] = round(time.monotonic() - started, 2)
            manifest = {**meta, "notebooks": {r.slug: asdict(r) for r in results}}
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
            _publish(staging, published)
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
    )


# ---------------------------------------------------------------------------------------------
# planning: cached copy or job
# ---------------------------------------------------------------------------------------------
def _plan(
    t: Technique,
    profile: str,
    notebooks_dir: Path,
    staging: Path,
    published: Path,
    previous: dict[str, Any],
    *,
    run: bool,
    force: bool,
    kernel: str,
    package_fp: str,
    data_fp: str,
    report_fp: str,
) -> tuple[NotebookResult, _Job | None]:
    src = notebooks_dir / f"{t.slug}.ipynb"
    prev = previous.get("notebooks", {}).get(t.slug)
    params = t.parameters(profile)
    if not run:  # --only: carry the published result over as it is
        if prev and _copy_result(prev, published, staging):
            return NotebookResult(**{**prev, "cached": True}), None
        return NotebookResult(
            t.slug, t.title, "missing", error="not run (--only) and no earlier result"
        ), None
    if not src.exists():
        return NotebookResult(
            t.slug, t.title, "missing", error=f"notebook {src.name} not found in {notebooks_dir}"
        ), None
    exec_key = cache.execution_key(
        src, params, profile=profile, kernel=kernel, package_fp=package_fp, data_fp=data_fp
    )
    render_key = cache.render_key(exec_key, report_fp)
    result = NotebookResult(
        t.slug,
        t.title,
        "ok",
        notebook=f"{t.slug}.ipynb",
        html=f"{t.slug}.html",
        exec_key=exec_key,
        render_key=render_key,
        parameters=params,
    )
    spec = {
        "input": str(src),
        "output": str(staging / f"{t.slug}.ipynb"),
        "html": str(staging / f"{t.slug}.html"),
        "result": str(staging / f".{t.slug}.result.json"),
        "record_dir": str(staging / "records" / t.slug),
        "parameters": params,
        "kernel": kernel,
        "cwd": str(notebooks_dir),
        "plotly_js_src": PLOTLY_JS_SRC,
    }
    reusable = (
        not force
        and prev
        and prev.get("status") == "ok"
        and prev.get("exec_key") == exec_key
        and _copy_result(prev, published, staging)
    )
    if not reusable:
        return result, _Job(result, spec, execute=True)
    result.cached, result.seconds, result.finished_at = (
        True,
        prev.get("seconds", 0.0),
        prev.get("finished_at"),
    )
    if prev.get("render_key") != render_key:  # same results, new HTML conversion
        return result, _Job(result, spec, execute=False)
    return result, None


def _copy_result(prev: dict[str, Any], published: Path, staging: Path) -> bool:
    """Copy a published notebook's files into staging; false if any is missing."""
    slug = prev["slug"]
    names = [n for n in (prev.get("notebook"), prev.get("html")) if n]
    if not all((published / n).exists() for n in names):
        return False
    for n in names:
        shutil.copy2(published / n, staging / n)
    if (published / "records" / slug).is_dir():
        shutil.copytree(published / "records" / slug, staging / "records" / slug)
    return True


def _copy_plotly_js(staging: Path) -> None:
    """The one plotly.js every page of the folder loads: the installed plotly's own copy."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    (staging / "assets").mkdir(exist_ok=True)
    shutil.copy2(
        Path(spec.origin).parent / "package_data" / "plotly.min.js", staging / PLOTLY_JS_SRC
    )


# ---------------------------------------------------------------------------------------------
# execution
# ---------------------------------------------------------------------------------------------
def _kernel_env(spec: dict[str, Any], profile: str, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            ENV_DIR: spec["record_dir"],
            "WORKBENCH_PROFILE": profile,
            "WORKBENCH_THREADS": str(threads),
            "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
            "OPENBLAS_NUM_THREADS": str(threads),
            "PLOTLY_RENDERER": "plotly_mimetype",
            "MPLBACKEND": "Agg",
            "PYTHONWARNINGS": env.get("PYTHONWARNINGS", "ignore::DeprecationWarning"),
        }
    )
    return env


def _execute_all(
    todo: list[_Job],
    staging: Path,
    profile: str,
    jobs: int,
    threads: int,
    timeout: float | None,
    notebooks_dir: Path,
    progress: Progress,
    on_event: EventCallback | None,
) -> None:
    emit = on_event or (lambda *a: None)
    pending: deque[_Job] = deque(todo)
    running: list[_Job] = []
    progress.waiting = len(pending)
    (staging / "logs").mkdir(exist_ok=True)
    try:
        last_tick = 0.0
        while pending or running:
            while pending and len(running) < jobs:
                job = pending.popleft()
                _start(job, staging, profile, threads, timeout)
                running.append(job)
                progress.waiting -= 1
                progress.running[job.result.slug] = job.started
                emit("start", progress, job.result)
            for job in list(running):
                over = (
                    timeout is not None
                    and time.monotonic() - job.started > timeout + _DEADLINE_SLACK_S
                )
                if job.proc.poll() is None and not over:
                    continue
                if over:
                    _kill_tree(job.proc)
                _finish(job, staging, timed_out=over, timeout=timeout)
                running.remove(job)
                del progress.running[job.result.slug]
                if job.result.status != "ok":
                    progress.failed += 1
                elif job.execute:
                    progress.done += 1
                else:
                    progress.cached += 1
                emit("finish", progress, job.result)
            if time.monotonic() - last_tick >= 0.25:
                last_tick = time.monotonic()
                emit("tick", progress, None)
            time.sleep(0.05)
    finally:
        for job in running:
            _kill_tree(job.proc)


def _start(job: _Job, staging: Path, profile: str, threads: int, timeout: float | None) -> None:
    spec = {**job.spec, "execute": job.execute, "cell_timeout": timeout}
    Path(spec["record_dir"]).mkdir(parents=True, exist_ok=True)
    job.job_file = staging / f".{job.result.slug}.job.json"
    job.job_file.write_text(json.dumps(spec))
    log = open(staging / "logs" / f"{job.result.slug}.log", "wb")  # noqa: SIM115 (closed in _finish)
    job.started = time.monotonic()
    job.proc = subprocess.Popen(
        [sys.executable, "-P", str(Path(__file__).with_name("worker.py")), str(job.job_file)],
        env=_kernel_env(spec, profile, threads),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches the runner only; it stops workers in order
    )
    job.proc._wb_log = log


def _finish(job: _Job, staging: Path, *, timed_out: bool, timeout: float | None) -> None:
    job.proc._wb_log.close()
    r, spec = job.result, job.spec
    result_file = Path(spec["result"])
    if timed_out:
        r.status, r.error = "timeout", f"timed out after {timeout:g} s"
        if Path(spec["output"]).exists():
            from .notebook_html import notebook_to_html
            from .worker import add_error_banner

            add_error_banner(spec["output"], r.error)
            notebook_to_html(spec["output"], spec["html"], plotly_js_src=PLOTLY_JS_SRC)
    elif result_file.exists():
        out = json.loads(result_file.read_text())
        r.status, r.error = out["status"], out["error"]
    else:
        log_tail = (
            (staging / "logs" / f"{r.slug}.log")
            .read_text(errors="replace")
            .strip()
            .splitlines()[-1:]
        )
        r.status, r.error = (
            "failed",
            f"worker exited with code {job.proc.returncode}: {' '.join(log_tail)}",
        )
    if job.execute:
        r.seconds = round(time.monotonic() - job.started, 2)
        r.finished_at = _now()
    r.notebook = r.notebook if Path(spec["output"]).exists() else None
    r.html = r.html if Path(spec["html"]).exists() else None
    for f in (result_file, job.job_file):
        f.unlink(missing_ok=True)


def _kill_tree(proc: subprocess.Popen) -> None:
    """Stop a worker and its kernel (the kernel runs in a session of its own)."""
    import psutil

    if proc.poll() is not None:
        return
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(family, timeout=_GRACE_S)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    proc.wait()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C so the same cleanup runs (main thread only)."""
    try:
        old = signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


# ---------------------------------------------------------------------------------------------
# staging, publication, recovery
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _profile_lock(reports_dir: Path, profile: str) -> Iterator[None]:
    with open(reports_dir / f".lock-{profile}", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"another `workbench report --profile {profile}` is running on {reports_dir}"
            ) from None
        yield


def _recover(reports_dir: Path, profile: str) -> None:
    """Undo what an interrupted run left: staging folders, or a swap cut in half."""
    published = reports_dir / profile
    olds = sorted(reports_dir.glob(f".old-{profile}-*"), key=lambda p: p.stat().st_mtime)
    if not published.exists() and olds:
        olds.pop().rename(published)
    for p in [*olds, *reports_dir.glob(f".staging-{profile}-*")]:
        shutil.rmtree(p, ignore_errors=True)


def _publish(staging: Path, published: Path) -> None:
    old = published.with_name(f".old-{published.name}-{secrets.token_hex(3)}")
    if published.exists():
        published.rename(old)
    staging.rename(published)  # a kill between the renames is undone by _recover
    shutil.rmtree(old, ignore_errors=True)


def _load_manifest(published: Path) -> dict[str, Any]:
    try:
        return json.loads((published / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")
