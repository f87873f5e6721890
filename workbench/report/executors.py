"""Where a report run's bank builds and notebooks execute: this machine, or a Ray cluster.

The runner (:mod:`.runner`) plans, caches and publishes; an *executor* only runs what was
planned. Both executors take the same jobs and fill in the same results, so the cache, the
failure isolation and the atomic publication are the runner's and do not change with the
executor.

* :class:`LocalExecutor` (the default): the process pool of :mod:`.pool` and the model bank's
  own process pool (``workbench.bank.ensure``), exactly as before executors existed.
* :class:`RayExecutor`: every bank build and every notebook becomes a Ray task
  (:mod:`.ray_tasks`) with the resources its technique declares (``Technique.resources``,
  default ``num_cpus`` = the runner's threads per notebook). Tasks write into a temporary
  folder on their node and return their files; the driver writes them into its staging folder.
  Ctrl-C (or SIGTERM) cancels the remote tasks -- first as an interrupt, so each task kills its
  kernel, then by force -- and the runner removes staging, so the published report stays.

Ray is an optional extra (``pip install -e '.[ray]'``); only :class:`RayExecutor` imports it.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .. import paths
from .plan import Job
from .pool import EventCallback, Progress, default_jobs, execute_all, now, record_finish

EXECUTORS = ("local", "ray")
#: seconds interrupted tasks get to stop their kernels before they are cancelled by force
_CANCEL_GRACE_S = 8.0
#: what the shipped repository (``ship_repo=True``) leaves behind: Ray also honours .gitignore
SHIP_EXCLUDES = [".git", ".venv", "reports", "datasets/cache", ".cache", "mutants", "**/__pycache__"]


class ExecutorUnavailableError(RuntimeError):
    """The executor cannot run here (Ray not installed, cluster unreachable)."""


class Executor(Protocol):
    """What the runner needs from an executor."""

    name: str

    def cores(self) -> int:
        """CPU cores the executor can use at once (the default for ``jobs``)."""

    def execute_all(
        self, todo: list[Job], staging: Path, profile: str, jobs: int, threads: int,
        timeout: float | None, progress: Progress, on_event: EventCallback | None,
    ) -> None:  # fmt: skip
        """Run ``todo`` (at most ``jobs`` at once), filling in each ``job.result`` and
        writing its files into ``staging``; see :func:`workbench.report.pool.execute_all`."""

    def bank_builder(self) -> Callable[..., Any] | None:
        """``build(entries, jobs=, progress=)`` for the bank step, or ``None`` for the default."""

    def close(self) -> None:
        """Release what the executor started (a local Ray instance)."""


class LocalExecutor:
    """This machine's process pool (:mod:`.pool`): the default, unchanged behaviour."""

    name = "local"

    def cores(self) -> int:
        return default_jobs()

    def execute_all(self, todo, staging, profile, jobs, threads, timeout, progress, on_event):
        execute_all(todo, staging, profile, jobs, threads, timeout, progress, on_event)

    def bank_builder(self) -> None:
        return None

    def close(self) -> None:
        pass


class RayExecutor:
    """Bank builds and notebooks as Ray tasks.

    Args:
        address: the cluster: ``None`` (``$RAY_ADDRESS``, else a new local instance),
            ``"local"``, ``"auto"`` (a cluster started on this machine with ``ray start``) or
            ``"ray://HOST:10001"`` (Ray Client). Ignored when Ray is already initialised in
            this process (tests, notebooks): that connection is used as it is.
        ship_repo: upload the repository as the job's ``working_dir`` (a few MB; what
            ``.gitignore`` and :data:`SHIP_EXCLUDES` leave out stays behind) and put it first
            on the kernels' ``PYTHONPATH``; false: the nodes see the repository and the venv
            at the same paths (one machine, or a shared file system).
        retries: how often Ray re-runs a task whose worker or node died (default 0: the
            notebook is reported failed, as a crash is on one machine).
        bank_cpus: CPUs (and torch threads) per bank build; default the cluster's CPUs
            shared among the entries to build, at most the largest node's.

    A notebook's task asks for its technique's ``resources``; without them, for the runner's
    threads per notebook (cluster CPUs / notebooks at once), at most the largest node's CPUs.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        ship_repo: bool = False,
        retries: int = 0,
        bank_cpus: int | None = None,
    ) -> None:
        self.address, self.ship_repo, self.retries = address, ship_repo, retries
        self.bank_cpus = bank_cpus
        self._started = False
        self._node_cpus = 1

    # -- connection -------------------------------------------------------------------------
    def connect(self) -> Any:
        """The ``ray`` module, initialised (connecting or starting a local instance once)."""
        try:
            import ray
        except ImportError:
            raise ExecutorUnavailableError(
                "the Ray executor needs Ray: pip install -e '.[ray]'"
            ) from None
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {}
            if not str(self.address or "").startswith("ray://"):
                kwargs.update(include_dashboard=False, log_to_driver=False)
            # a new local instance waits a fixed 30 s for its raylet, which a busy machine can
            # miss: one more try before giving up
            tries = 1 if self.address not in (None, "local") else 2
            for attempt in range(tries):
                try:
                    ray.init(address=self.address, **kwargs)
                    break
                except Exception as e:  # noqa: BLE001 - Ray raises bare Exception on timeouts
                    ray.shutdown()
                    if attempt == tries - 1:
                        where = self.address or "$RAY_ADDRESS or a new local instance"
                        raise ExecutorUnavailableError(
                            f"cannot start or reach Ray ({where}): {_first_line(e)}"
                        ) from None
            self._started = True
        return ray

    def _runtime_env(self) -> dict[str, Any]:
        """Per-task ``runtime_env`` (so it also applies when Ray was initialised elsewhere)."""
        if not self.ship_repo:
            return {}
        return {"runtime_env": {"working_dir": str(paths.REPO_ROOT), "excludes": SHIP_EXCLUDES}}

    def cores(self) -> int:
        ray = self.connect()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def largest_node_cpus(self) -> int:
        """CPUs of the largest live node: a default request above it could never be placed."""
        ray = self.connect()
        cpus = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
        return max(1, int(max(cpus, default=1)))

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    # -- notebooks --------------------------------------------------------------------------
    def _payload(self, job: Job, staging: Path, profile: str, threads: int, timeout) -> dict:
        r, spec = job.result, job.spec
        cached = Path(spec["output"])
        return {
            "slug": r.slug,
            "title": r.title,
            "spec": {k: v for k, v in spec.items() if k not in ("output", "html", "result", "record_dir")},
            "execute": job.execute,
            "notebook_bytes": Path(spec["input"]).read_bytes(),
            "cached_bytes": cached.read_bytes() if not job.execute and cached.exists() else None,
            "profile": profile,
            "threads": threads,
            "timeout": timeout,
            "shipped": self.ship_repo,
        }  # fmt: skip

    def _options(self, job: Job, threads: int) -> tuple[dict[str, Any], int]:
        """Ray task options from the technique's resources, and the kernel's thread count."""
        res = dict(getattr(job.technique, "resources", None) or {})
        # the default (cores / notebooks) is capped at the largest node; a technique's own
        # request is passed as it is, for an autoscaling cluster to provide
        cpus = res.pop("num_cpus", min(threads, self._node_cpus))
        opts = {
            "num_cpus": cpus, "num_gpus": res.pop("num_gpus", 0), "max_retries": self.retries,
            "name": f"workbench-notebook-{job.result.slug}", **self._runtime_env(),
        }  # fmt: skip
        if res:
            opts["resources"] = res
        return opts, max(1, int(cpus))

    def execute_all(self, todo, staging, profile, jobs, threads, timeout, progress, on_event):
        """Submit ``todo`` as Ray tasks (at most ``jobs`` in flight), gather as they finish.

        ``start`` is emitted when a task is submitted: Ray may queue it until a node has the
        resources. A task that raises, times out or loses its worker fails alone.
        """
        ray = self.connect()
        from .ray_tasks import run_notebook

        self._node_cpus = self.largest_node_cpus()
        task = ray.remote(run_notebook)
        emit = on_event or (lambda *a: None)
        pending: deque[Job] = deque(todo)
        running: dict[Any, Job] = {}
        progress.waiting = len(pending)
        (staging / "logs").mkdir(exist_ok=True)
        try:
            last_tick = 0.0
            while pending or running:
                while pending and len(running) < jobs:
                    job = pending.popleft()
                    opts, kernel_threads = self._options(job, threads)
                    job.started = time.monotonic()
                    progress.waiting -= 1
                    progress.running[job.result.slug] = job.started
                    emit("start", progress, job.result)
                    try:
                        payload = self._payload(job, staging, profile, kernel_threads, timeout)
                    except OSError as e:  # the notebook vanished since planning: it alone fails
                        job.result.status, job.result.error = "failed", f"{type(e).__name__}: {e}"
                        record_finish(job, progress, emit)
                        continue
                    running[task.options(**opts).remote(payload)] = job
                ready = []
                if running:
                    ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0.25)
                for ref in ready:
                    job = running.pop(ref)
                    self._collect(ray, ref, job, staging)
                    record_finish(job, progress, emit)
                if time.monotonic() - last_tick >= 0.25:
                    last_tick = time.monotonic()
                    emit("tick", progress, None)
        finally:
            if running:
                _cancel(ray, list(running))

    def _collect(self, ray: Any, ref: Any, job: Job, staging: Path) -> None:
        """Write a finished task's files into ``staging`` and its outcome into ``job.result``."""
        r, spec = job.result, job.spec
        try:
            out = ray.get(ref)
        except ray.exceptions.RayError as e:  # the task raised, was cancelled or lost its worker
            r.status, r.error = "failed", f"Ray task failed: {type(e).__name__}: {_first_line(e)}"
            if job.execute:
                r.seconds, r.finished_at = round(time.monotonic() - job.started, 2), now()
        else:
            root = staging.resolve()
            for rel, data in out["files"].items():
                dest = (staging / rel).resolve()
                if not dest.is_relative_to(root):  # a task writes inside the report, nowhere else
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
            got = out["result"]
            r.status, r.error = got["status"], got["error"]
            if job.execute:
                r.seconds, r.finished_at = got["seconds"], got["finished_at"]
        r.notebook = r.notebook if Path(spec["output"]).exists() else None
        r.html = r.html if Path(spec["html"]).exists() else None

    # -- model bank -------------------------------------------------------------------------
    def bank_builder(self) -> Callable[..., Any]:
        return self.build_bank

    def build_bank(self, entries, *, jobs: int, progress: Callable[[str], None]) -> None:
        """Build the missing ``entries`` as Ray tasks and install their files in this bank.

        An entry that fails is reported and skipped (its notebook trains it itself, visibly).
        """
        ray = self.connect()
        from ..bank import BankEntry, status
        from ..bank.store import bank_root
        from .ray_tasks import build_bank_entry

        # classification entries only: a declared cached_train call (TaskEntry) runs in its notebook
        todo = [e for e in dict.fromkeys(entries) if isinstance(e, BankEntry)]
        missing = [e for e, b in zip(todo, status(todo).built, strict=True) if not b]
        progress(f"{len(missing)} of {len(todo)} entries to build as Ray tasks")
        if not missing:
            return
        cpus = self.bank_cpus or min(
            self.largest_node_cpus(), max(1, self.cores() // max(1, min(jobs, len(missing))))
        )
        task = ray.remote(build_bank_entry).options(
            num_cpus=cpus, max_retries=self.retries, **self._runtime_env()
        )
        refs = {task.remote(e, cpus): e for e in missing}
        remaining, n, t0, failed = list(refs), 0, time.perf_counter(), []
        try:
            while remaining:
                ready, remaining = ray.wait(remaining, num_returns=1)
                for ref in ready:
                    e, n = refs[ref], n + 1
                    try:
                        out = ray.get(ref)
                    except ray.exceptions.RayError as err:
                        failed.append(e.label())
                        progress(f"failed {e.label()} ({n}/{len(missing)}): {_first_line(err)}")
                        continue
                    install_entry(bank_root(), out["folder"], out["files"])
                    progress(f"built {e.label()} ({n}/{len(missing)}, {time.perf_counter() - t0:.1f} s)")
        finally:
            if remaining:
                _cancel(ray, remaining)
        if failed:
            raise RuntimeError(f"{len(failed)} bank entries failed: {', '.join(failed)}")


def install_entry(root: Path, folder: str, files: dict[str, bytes]) -> bool:
    """Put a bank entry built elsewhere into ``root`` (complete or not at all); false if present.

    On a shared file system the entry is already there and nothing is written.
    """
    dest = root / folder
    if dest.exists():
        return False
    tmp = root / f".ray-{secrets.token_hex(4)}-{folder}"
    tmp.mkdir(parents=True)
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        tmp.rename(dest)  # one rename: readers see the whole entry or none
    except OSError:
        if dest.exists():  # another driver installed it meanwhile
            return False
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


def _cancel(ray: Any, refs: list[Any]) -> None:
    """Interrupt ``refs`` (each task then kills its kernel), then force-cancel the stragglers."""
    for ref in refs:
        with contextlib.suppress(Exception):
            ray.cancel(ref)
    with contextlib.suppress(Exception):
        ray.wait(refs, num_returns=len(refs), timeout=_CANCEL_GRACE_S)
    for ref in refs:
        with contextlib.suppress(Exception):
            ray.cancel(ref, force=True)


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


def get_executor(name: str = "local", *, address: str | None = None, **kwargs: Any) -> Executor:
    """The executor called ``name`` (``ValueError`` naming the valid ones).

    Args:
        name: one of :data:`EXECUTORS`.
        address: the Ray cluster (``ray`` only; see :class:`RayExecutor`).
        **kwargs: further :class:`RayExecutor` options.
    """
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")
    if name == "local":
        if address or kwargs:
            raise ValueError("--address and Ray options need --executor ray")
        return LocalExecutor()
    return RayExecutor(address, **kwargs)
