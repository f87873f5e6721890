"""Benchmarks that print figures (never timed tests): latency stability, ours vs reference
implementations, and training speed/accuracy. The command line is ``workbench bench``."""

from .latency import latency_stability
from .train import (
    BENCHES,
    CONFIGS,
    TARGETS,
    BenchResult,
    TrainConfig,
    bench_fit_overhead,
    bench_sr,
    bench_target,
    run_all,
    train_configs,
)
from .zoo import zoo_vs_reference

__all__ = [
    "BENCHES", "CONFIGS", "TARGETS", "BenchResult", "TrainConfig", "bench_fit_overhead", "bench_sr",
    "bench_target", "latency_stability", "run_all", "train_configs", "zoo_vs_reference",
]  # fmt: skip
