"""Benchmarks that print figures (never timed tests): latency stability, ours vs reference
implementations, training speed/accuracy, zoo counting and the report's time budget. The
command line is ``workbench bench``."""

from .count import count_benchmark
from .latency import latency_stability
from .report import report_benchmark
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
    "bench_target", "count_benchmark", "latency_stability", "report_benchmark", "run_all", "train_configs", "zoo_vs_reference",
]  # fmt: skip
