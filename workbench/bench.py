"""Benchmarks that check speed and stability targets by printing figures (never timed tests).

* :func:`latency_stability` -- is ``measure_latency`` repeatable within one process (CV of the
  medians of 5 calls) and does ``compare_latency`` of a model against itself give 1.00?
* :func:`zoo_vs_reference` -- batch-1 CPU latency of each of our models against the
  timm/torchvision implementation of the same architecture, measured interleaved.
"""

from __future__ import annotations

import statistics

import pandas as pd

from .measure import compare_latency, measure_latency
from .models import create_model, list_models, model_entry


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


def zoo_vs_reference(pattern: str | None = None, threads: int | None = None, rounds: int = 20, progress: bool = True) -> pd.DataFrame:
    """Ours / reference latency ratio for every model with a timm/torchvision reference.

    Each pair is measured interleaved in one :func:`compare_latency` run (reference first,
    so ``ratio`` = ours / theirs; <= 1.05 is the target).
    """
    names = [n for n in list_models(pattern) if model_entry(n).reference]
    rows = []
    it = names
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(names, desc="ours vs reference")
    for n in it:
        ref_name = model_entry(n).reference
        ours, ref = create_model(n), create_model(ref_name)
        size = model_entry(n).default_input_size
        df = compare_latency({ref_name: ref, n: ours}, size, rounds=rounds, threads=threads)
        rows.append(
            {
                "model": n,
                "reference": ref_name,
                "ours_ms": df.loc[1, "median_ms"],
                "ref_ms": df.loc[0, "median_ms"],
                "ratio": df.loc[1, "ratio"],
                "ratio_q1": df.loc[1, "ratio_q1"],
                "ratio_q3": df.loc[1, "ratio_q3"],
            }
        )
    return pd.DataFrame(rows)
