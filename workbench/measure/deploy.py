"""Latency of the deploy form: BatchNorm folded and branches merged before any timing.

Inference latency must be measured on what would be deployed: an unfolded BatchNorm is an
extra pass over every feature map, and it penalises blocks with many conv-BN pairs (an inverted
residual has three) against blocks with one. :func:`deploy_latency` re-measures the latency
columns of a table of trained models on their folded copies, interleaved in one run.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from torch import nn

from ..layers import reparameterize_model
from .profile import profile_many

#: Columns of a :func:`profile_many` table that depend on timing.
TIMING_COLUMNS = (
    "latency_ms", "latency_iqr_ms", "latency_cv", "latency_ratio", "latency_ratio_q1", "latency_ratio_q3",
    "baseline", "achieved_gflops", "pct_of_peak",
)  # fmt: skip


def deploy_latency(
    table: pd.DataFrame,
    models: Mapping[str, nn.Module],
    input_size=None,
    *,
    rounds: int = 10,
    threads: int | None = None,
) -> pd.DataFrame:
    """``table`` with its timing columns re-measured on the deploy form of ``models``.

    Args:
        table: one row per model with a ``name`` column (e.g. ``train_compare(...).table``);
            the first row is the latency baseline.
        models: name -> trained model (not modified: folding works on a copy).
        input_size: ``(C, H, W)``; ``None`` = each model's ``default_input_size``.
        rounds: rounds of the interleaved comparison; threads: intra-op threads.

    Returns:
        a copy of ``table`` whose :data:`TIMING_COLUMNS` come from the folded models.
    """
    missing = [n for n in table.name if n not in models]
    if missing:
        raise KeyError(f"no model for rows {missing}; models given: {sorted(models)}")
    folded = {n: reparameterize_model(models[n]) for n in table.name}
    prof = profile_many(folded, input_size, rounds=rounds, threads=threads)
    timing = [c for c in TIMING_COLUMNS if c in prof]
    out = table.drop(columns=[c for c in timing if c in table]).merge(
        prof[["name", *timing]], on="name", how="left"
    )
    return out[[*table.columns, *[c for c in timing if c not in table.columns]]]
