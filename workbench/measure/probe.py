"""Is the machine busy? A short probe of what the CPU gives *now*, against its idle peak.

Latency ratios measured interleaved survive slow drift, but not contention: another process
sharing the cores slows memory-bound operators (depthwise, element-wise) more than GEMM-bound
ones, so the very rankings a notebook is about change. :func:`probe_environment` takes a few
hundred milliseconds (GEMM throughput, copy bandwidth, load average, runnable processes);
:func:`contention` compares a probe before and one after an experiment with the idle GEMM peak
cached by :func:`workbench.measure.machine_peak` and says whether the machine was busy.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass

import torch

from ..paths import atomic_write, cache_dir
from .env import environment
from .latency import num_threads
from .peak import machine_peak

#: The machine counts as busy when a probe's GEMM throughput falls below this fraction of the
#: cached idle peak. The probe's median GEMM on a quiet machine sits at 0.85-1.0 of the peak
#: (smaller matrices, median instead of fastest quartile); one busy process on a 2-core
#: machine running 2 threads halves it.
BUSY_FRACTION = 0.75

_GEMM_N = 1024  # 2 GFLOP per product: ~10-40 ms on a laptop core, several samples per probe
_COPY_MIB = 64  # source + destination (128 MiB) far exceed the last-level cache


@dataclass(frozen=True)
class Probe:
    """What the machine delivered during one short probe.

    Attributes:
        gemm_gflops: median fp32 GEMM throughput (``torch.mm``, 1024 x 1024), GFLOP/s.
        copy_gbs: median bandwidth of a 64 MiB tensor copy (bytes read + written), GB/s.
        load1, load5: 1- and 5-minute load averages (``os.getloadavg``; NaN where unavailable).
        runnable: processes runnable at the end of the probe (``procs_running`` in
            ``/proc/stat``, this one included; -1 where unavailable).
        cores: logical CPUs this process may run on.
        threads: intra-op threads the probe used.
        timestamp: UTC time of the probe, ISO 8601.
        seconds: wall time the probe took (s).
    """

    gemm_gflops: float
    copy_gbs: float
    load1: float
    load5: float
    runnable: int
    cores: int
    threads: int
    timestamp: str
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def _runnable() -> int:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:  # /proc/loadavg's 4th field is "running/total"
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return -1


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _timed(fn, budget_s: float, min_reps: int = 3) -> list[float]:
    """Seconds per call of ``fn`` for at least ``min_reps`` calls and about ``budget_s`` seconds."""
    fn()  # warm-up (allocation, MKL/oneDNN dispatch)
    times: list[float] = []
    t_end = time.perf_counter() + budget_s
    while len(times) < min_reps or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def probe_environment(duration_s: float = 0.3, threads: int | None = None) -> Probe:
    """Measure GEMM throughput, copy bandwidth and load right now (about ``duration_s`` seconds).

    The median over repeated calls is the figure (what the machine gives *typically* now, not
    its best moment): on a quiet machine it sits a little below :func:`machine_peak`, which takes
    the fastest quartile of larger products.

    Args:
        duration_s: time budget in seconds (> 0), split between GEMM and copy; each runs at
            least 3 times, so a very slow machine takes longer.
        threads: intra-op threads (default: current), as the experiment being watched uses.

    Returns:
        :class:`Probe`.

    Raises:
        ValueError: ``duration_s`` not a finite number > 0, or ``threads < 1``.
    """
    if not (isinstance(duration_s, int | float) and math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a finite number of seconds > 0, got {duration_s!r}")
    start = time.perf_counter()
    with num_threads(threads) as t, torch.inference_mode():
        a, b = torch.randn(_GEMM_N, _GEMM_N), torch.randn(_GEMM_N, _GEMM_N)
        c = torch.empty(_GEMM_N, _GEMM_N)
        gemm = _timed(lambda: torch.mm(a, b, out=c), duration_s / 2)
        src = torch.ones(_COPY_MIB * 2**20 // 4)
        dst = torch.empty_like(src)
        copy = _timed(lambda: dst.copy_(src), duration_s / 2)
    try:
        load1, load5, _ = os.getloadavg()
    except OSError:
        load1 = load5 = math.nan
    probe = Probe(
        gemm_gflops=2 * _GEMM_N**3 / statistics.median(gemm) / 1e9,
        copy_gbs=2 * src.numel() * 4 / statistics.median(copy) / 1e9,
        load1=load1,
        load5=load5,
        runnable=_runnable(),
        cores=_cores(),
        threads=t,
        timestamp=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        seconds=time.perf_counter() - start,
    )
    _remember_best(probe)
    return probe


def _best_path(threads: int):
    env = environment(threads)
    key = json.dumps({k: env[k] for k in ("cpu", "isa", "torch", "threads", "cores")}, sort_keys=True)
    return cache_dir() / f"probe_best-{hashlib.sha1(key.encode()).hexdigest()[:12]}.json"


def _best_seen(threads: int) -> float:
    try:
        return float(json.loads(_best_path(threads).read_text())["gemm_gflops"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def _remember_best(p: Probe) -> None:
    """Keep the fastest GEMM any probe has seen on this machine and thread count."""
    if p.gemm_gflops <= _best_seen(p.threads):
        return
    try:
        atomic_write(_best_path(p.threads), lambda tmp: tmp.write_text(json.dumps({"gemm_gflops": p.gemm_gflops, "timestamp": p.timestamp})))
    except OSError:  # a read-only cache only loses the improvement
        pass


def idle_gflops(threads: int | None = None) -> float:
    """The idle GEMM throughput a probe is judged against, GFLOP/s.

    The higher of :func:`machine_peak`'s cached peak and the fastest probe ever seen on this
    machine (same CPU, ISA, torch, thread count). A peak re-measured while the machine was busy
    (``machine_peak(refresh=True)`` under load) would otherwise lower the bar and hide the
    contention it should reveal. If the machine was never seen idle, contention is
    under-estimated, never over-estimated.

    Args:
        threads: intra-op threads (default: current).
    """
    with num_threads(threads) as t:
        return max(machine_peak(t).gemm_gflops, _best_seen(t))


@dataclass(frozen=True)
class Contention:
    """How busy the machine was around an experiment, against its idle GEMM peak.

    Attributes:
        fraction: the lower of the before/after probes' GEMM throughput over the idle peak
            (1.0 = idle; 0.43 = "machine at 43 % of its idle GEMM throughput").
        busy: ``fraction < threshold``.
        threshold: the busy threshold used (:data:`BUSY_FRACTION` by default).
        idle_gflops: the idle GEMM peak compared with (GFLOP/s).
        before, after: the probes (``after`` may be ``None``).
    """

    fraction: float
    busy: bool
    threshold: float
    idle_gflops: float
    before: Probe
    after: Probe | None = None

    @property
    def load1(self) -> float:
        """The highest 1-minute load average seen by the probes."""
        return max(p.load1 for p in (self.before, self.after) if p is not None)

    def sentence(self) -> str:
        """One line for a card: "machine at 43 % of its idle GEMM throughput (busy; load 2.1 on 2 cores)"."""
        state = "busy: verdicts that depend on latency are unreliable" if self.busy else "quiet"
        load = f"load {self.load1:.1f} on {self.before.cores} cores" if math.isfinite(self.load1) else f"{self.before.cores} cores"
        return f"machine at {100 * self.fraction:.0f} % of its idle GEMM throughput ({state}; {load})"

    def to_dict(self) -> dict:
        """JSON-able: the numbers, the sentence and both probes."""
        return {
            "fraction": self.fraction,
            "busy": self.busy,
            "threshold": self.threshold,
            "idle_gflops": self.idle_gflops,
            "sentence": self.sentence(),
            "before": self.before.to_dict(),
            "after": self.after.to_dict() if self.after is not None else None,
        }


def contention(
    before: Probe,
    after: Probe | None = None,
    idle: float | object | None = None,
    *,
    threshold: float = BUSY_FRACTION,
) -> Contention:
    """Compare probes taken around an experiment with the machine's idle GEMM peak.

    Args:
        before: probe taken before the experiment.
        after: probe taken after it (optional); the worse of the two decides.
        idle: idle GEMM throughput in GFLOP/s, or a :class:`~workbench.measure.MachinePeak`;
            default :func:`idle_gflops` for the probe's thread count.
        threshold: busy below this fraction of the idle peak (0 < threshold <= 1).

    Returns:
        :class:`Contention`.

    Raises:
        ValueError: ``threshold`` outside (0, 1] or an idle peak that is not a number > 0.
    """
    if not (isinstance(threshold, int | float) and 0 < threshold <= 1):
        raise ValueError(f"threshold must be a fraction in (0, 1], got {threshold!r}")
    if idle is None:
        idle = idle_gflops(before.threads)
    ref = float(getattr(idle, "gemm_gflops", idle))
    if not (math.isfinite(ref) and ref > 0):
        raise ValueError(f"idle peak must be GFLOP/s > 0, got {idle!r}")
    gflops = min(p.gemm_gflops for p in (before, after) if p is not None)
    # a probe can beat a peak measured under load: cap at 1 so "idle" reads as 100 %
    fraction = min(1.0, gflops / ref)
    return Contention(fraction, fraction < threshold, float(threshold), ref, before, after)
