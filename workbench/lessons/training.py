"""Shared sentences about short training runs: when accuracy says something, and how much."""

from __future__ import annotations

import pandas as pd

from ..experiment import LINEAR_BASELINE_ACC
from .verdicts import finite, seed_spread


def too_short(table: pd.DataFrame) -> bool:
    """True when no model beats a linear classifier (~84 % on Fashion-MNIST): accuracy is ignored."""
    return bool(not finite(table.accuracy.max()) or table.accuracy.max() < LINEAR_BASELINE_ACC)


def seeds_of(table: pd.DataFrame) -> int:
    """Seeds per variant (the smallest, if they differ)."""
    return int(table.seeds.min()) if "seeds" in table else 1


def max_spread(table: pd.DataFrame) -> float:
    """Largest seed-to-seed std of any variant (NaN with one seed)."""
    return (
        float(table.accuracy_std.max())
        if "accuracy_std" in table and table.accuracy_std.notna().any()
        else float("nan")
    )


def accuracy_sentence(table: pd.DataFrame, *, epochs: int, images: int) -> str:
    """What the accuracies of this run can and cannot say."""
    best = table.loc[table.accuracy.idxmax()]
    n, spread = seeds_of(table), max_spread(table)
    if too_short(table):
        return (
            f"Training too short: {epochs} epoch(s) on {images:,} images leave the best model at {best.accuracy:.1f}%, "
            f"below a linear classifier (~{LINEAR_BASELINE_ACC:.0f}%), so accuracy is ignored; only the cost columns are meaningful."
        )
    rng = table.accuracy.max() - table.accuracy.min()
    s = f"After {epochs} epoch(s) on {images:,} images accuracies span {table.accuracy.min():.1f}-{table.accuracy.max():.1f}% (best: {best['name']}; {seed_spread(spread, n)})."
    if n < 2 or not finite(spread):
        return s + " With one seed a difference of a point or two cannot be told from noise."
    if rng < 2 * spread:
        return s + " The range is within twice the seed spread: treat the ranking as noise."
    return s + " The range exceeds twice the seed spread."
