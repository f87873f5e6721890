"""Batch-1 CPU latency of each zoo model against the timm/torchvision implementation of the same
architecture, measured interleaved (``workbench bench zoo``)."""

from __future__ import annotations

import pandas as pd

from ..measure import compare_latency
from ..models import create_model, list_models, model_entry

__all__ = ["zoo_vs_reference"]


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
