"""The worker pool: one process per notebook, at most ``jobs`` at once, timeouts, kill trees.

Each notebook runs in a worker process (``worker.py``) with the kernel ``workbench``, cwd = the
notebooks folder (as in JupyterLab), papermill injecting the profile's parameters. The worker
renders the executed notebook to HTML itself, right after it finishes, so rendering overlaps
with the notebooks still running. Each kernel gets ``OMP_NUM_THREADS = MKL_NUM_THREADS =
WORKBENCH_THREADS = max(1, cores // jobs)``, so parallel notebooks do not oversubscribe the
cores, and ``PLOTLY_RENDERER=plotly_mimetype`` (see :mod:`workbench.report.notebook_html`).

A notebook running longer than ``timeout`` seconds is killed with its kernel and reported as
``timeout`` with what it had executed so far.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..deps import ENV as DEPS_ENV
from .assets import PLOTLY_JS_SRC
from .plan import Job, NotebookResult
from .record import ENV_DIR

KERNEL = "workbench"
#: seconds a killed worker gets to shut its kernel down before SIGKILL
_GRACE_S = 5.0
#: the pool's overall deadline is ``timeout + _DEADLINE_SLACK_S``; papermill's per-cell limit
#: is ``timeout``, so a single hung cell gets papermill's own clean failure first.
_DEADLINE_SLACK_S = 10.0


class KernelMissingError(LookupError):
    """The Jupyter kernel the notebooks run on is not installed."""


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
    last_finish: float | None = None  # monotonic time the last notebook of the pool finished
    bank: str | None = None  # the model bank's latest progress message

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


EventCallback = Callable[[str, Progress, NotebookResult | None], None]


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


def kernel_env(spec: dict[str, Any], profile: str, threads: int) -> dict[str, str]:
    """The environment of a worker and its kernel: record folder, profile, thread limits."""
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
            **({DEPS_ENV: spec["deps_file"]} if spec.get("deps_file") else {}),
            "PYTHONWARNINGS": env.get("PYTHONWARNINGS", "ignore::DeprecationWarning"),
        }
    )
    return env



def record_finish(job: Job, progress: Progress, emit: EventCallback) -> None:
    """Count a finished job (failed, executed or cached) and emit its ``finish`` event."""
    del progress.running[job.result.slug]
    if job.result.status != "ok":
        progress.failed += 1
    elif job.execute:
        progress.done += 1
    else:
        progress.cached += 1
    progress.last_finish = time.monotonic()
    emit("finish", progress, job.result)

def execute_all(
    todo: list[Job],
    staging: Path,
    profile: str,
    jobs: int,
    threads: int,
    timeout: float | None,
    progress: Progress,
    on_event: EventCallback | None,
) -> None:
    """Run ``todo`` in order, at most ``jobs`` workers at once, until all have finished.

    Args:
        todo: the jobs, in the order they should start (see :func:`.plan.longest_first`).
        staging: the report folder being built (outputs, ``logs/``).
        threads: threads per kernel.
        timeout: per-notebook wall-clock limit (s) or ``None``.
        progress: counts updated in place and handed to ``on_event``.
        on_event: ``callback(event, progress, result)`` with events ``start``, ``finish`` and
            ``tick`` (about every 0.25 s).

    Every worker still running when this returns or raises (Ctrl-C) is killed with its kernel.
    """
    emit = on_event or (lambda *a: None)
    pending: deque[Job] = deque(todo)
    running: list[Job] = []
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
                    kill_tree(job.proc)
                _finish(job, staging, timed_out=over, timeout=timeout)
                running.remove(job)
                record_finish(job, progress, emit)
            if time.monotonic() - last_tick >= 0.25:
                last_tick = time.monotonic()
                emit("tick", progress, None)
            time.sleep(0.05)
    finally:
        for job in running:
            kill_tree(job.proc)


def _start(job: Job, staging: Path, profile: str, threads: int, timeout: float | None) -> None:
    spec = {**job.spec, "execute": job.execute, "cell_timeout": timeout}
    Path(spec["record_dir"]).mkdir(parents=True, exist_ok=True)
    if spec.get("deps_file"):
        Path(spec["deps_file"]).unlink(missing_ok=True)
    job.job_file = staging / f".{job.result.slug}.job.json"
    job.job_file.write_text(json.dumps(spec))
    log = open(staging / "logs" / f"{job.result.slug}.log", "wb")  # noqa: SIM115 (closed in _finish)
    job.started = time.monotonic()
    job.proc = subprocess.Popen(
        [sys.executable, "-P", str(Path(__file__).with_name("worker.py")), str(job.job_file)],
        env=kernel_env(spec, profile, threads),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches the runner only; it stops workers in order
    )
    job.proc._wb_log = log


def _finish(job: Job, staging: Path, *, timed_out: bool, timeout: float | None) -> None:
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
        r.finished_at = now()
    r.notebook = r.notebook if Path(spec["output"]).exists() else None
    r.html = r.html if Path(spec["html"]).exists() else None
    for f in (result_file, job.job_file):
        f.unlink(missing_ok=True)


def kill_tree(proc: subprocess.Popen) -> None:
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
def sigterm_as_interrupt() -> Iterator[None]:
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


def now() -> str:
    """The local time as ISO 8601 with offset, to the second (for manifests)."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")
