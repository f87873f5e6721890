"""Measured machine peak: fp32 GEMM throughput and memory bandwidth (roofline ceilings).

A profile can then say what fraction of the machine a model uses. Vendor peak numbers
assume every core at max turbo with perfect FMA issue; measured GEMM (``torch.mm`` on large
square matrices, through the same oneDNN/MKL ATen uses for conv) is the attainable compute
ceiling, and a large ``copy_`` the attainable bandwidth. Results are cached per machine
(CPU model, ISA, torch version, thread count) in :func:`workbench.paths.cache_dir` because
measuring takes a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import asdict, dataclass, field

import torch

from ..paths import atomic_write, cache_dir
from .env import environment
from .latency import num_threads


@dataclass(frozen=True)
class MachinePeak:
    """Attainable ceilings for the current thread count.

    Attributes:
        gemm_gflops: fp32 matrix-multiply throughput, GFLOP/s (2 FLOPs per multiply-add).
        bandwidth_gbs: memory bandwidth of a large tensor copy, GB/s (bytes read + written).
        ridge_macs_per_byte: MACs/byte where the roofline turns from memory- to compute-bound.
        threads: intra-op threads used.
        env: :func:`environment` at measurement time.
        cached: whether this came from the cache file.
    """

    gemm_gflops: float
    bandwidth_gbs: float
    threads: int
    env: dict = field(default_factory=dict)
    cached: bool = False

    @property
    def ridge_macs_per_byte(self) -> float:
        return (self.gemm_gflops / 2) / self.bandwidth_gbs


def _best_of(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    # The ceiling is what the machine *can* do: take the fastest quartile, not the mean.
    return statistics.quantiles(times, n=4)[0] if len(times) >= 4 else min(times)


def _gemm_gflops(n: int = 1536, reps: int = 8) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = torch.empty(n, n)
    secs = _best_of(lambda: torch.mm(a, b, out=c), reps)
    return 2 * n**3 / secs / 1e9


def _bandwidth_gbs(mbytes: int = 256, reps: int = 8) -> float:
    src = torch.ones(mbytes * 2**20 // 4)
    dst = torch.empty_like(src)
    secs = _best_of(lambda: dst.copy_(src), reps)
    return 2 * src.numel() * 4 / secs / 1e9


def machine_peak(threads: int | None = None, *, refresh: bool = False) -> MachinePeak:
    """Measured GEMM GFLOP/s and bandwidth for ``threads`` (default: current), cached per machine.

    Args:
        threads: intra-op threads to measure with.
        refresh: ignore the cache and measure again.
    """
    with num_threads(threads) as t:
        env = environment(t)
        key_src = json.dumps({k: env[k] for k in ("cpu", "isa", "torch", "threads", "cores")}, sort_keys=True)
        path = cache_dir() / f"machine_peak-{hashlib.sha1(key_src.encode()).hexdigest()[:12]}.json"
        if path.exists() and not refresh:
            try:
                d = json.loads(path.read_text())
                return MachinePeak(d["gemm_gflops"], d["bandwidth_gbs"], d["threads"], d["env"], cached=True)
            except (ValueError, KeyError):
                path.unlink(missing_ok=True)  # corrupt cache: measure again
        peak = MachinePeak(_gemm_gflops(), _bandwidth_gbs(), t, env)
    d = asdict(peak)
    d.pop("cached")
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(d, indent=1)))
    return peak
