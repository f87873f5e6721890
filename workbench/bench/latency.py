"""Is ``measure_latency`` repeatable within one process, and does ``compare_latency`` of a model
against itself give 1.00? (Figures printed by ``workbench bench latency``; never timed tests.)"""

from __future__ import annotations

import statistics

from ..measure import compare_latency, measure_latency
from ..models import create_model

__all__ = ["latency_stability"]


def latency_stability(name: str = "mobilenetv2_100", calls: int = 5, threads: int | None = None) -> dict:
    """Medians of ``calls`` back-to-back ``measure_latency`` calls, their CV, and a self-ratio."""
    model = create_model(name)
    medians = [measure_latency(model, threads=threads).median_ms for _ in range(calls)]
    cmp = compare_latency({name: model, f"{name} (again)": model}, threads=threads, rounds=30)
    return {
        "model": name,
        "medians_ms": medians,
        "cv_of_medians": statistics.stdev(medians) / statistics.fmean(medians),
        "self_ratio": float(cmp.loc[1, "ratio"]),
        "self_ratio_iqr": (float(cmp.loc[1, "ratio_q1"]), float(cmp.loc[1, "ratio_q3"])),
        "env": cmp.attrs["env"],
    }
