"""Bootstrap confidence intervals: latency ratios, rank correlations, fitted exponents.

A number measured on a shared machine is worth as much as its interval. All intervals here are
percentile bootstraps with a seeded generator, so a rerun on the same data gives the same
interval; ``level`` is the two-sided coverage (0.95 = 2.5th to 97.5th percentile).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

N_BOOT = 1000  # resamples: the 2.5 % tail then rests on 25 values, stable to about +-0.5 %


def _check(level: float, n_boot: int) -> None:
    if not (isinstance(level, int | float) and 0 < level < 1):
        raise ValueError(f"level must be a fraction in (0, 1), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1, got {n_boot!r}")


def _percentiles(stats: np.ndarray, level: float) -> tuple[float, float]:
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(stats, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def bootstrap_ci(
    values: Sequence[float],
    stat: Callable[[np.ndarray], np.ndarray] = np.median,
    *,
    level: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``stat`` over ``values`` (resampled with replacement).

    Args:
        values: the samples (e.g. per-round latency ratios).
        stat: a numpy reduction taking ``axis=-1`` (default the median).
        level: two-sided coverage in (0, 1).
        n_boot: number of resamples (>= 1).
        seed: RNG seed: the same data and seed give the same interval.

    Returns:
        ``(lo, hi)``; both equal the value for one sample, NaN for none.

    Raises:
        ValueError: ``level`` outside (0, 1) or ``n_boot < 1``.
    """
    _check(level, n_boot)
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), float(x[0])
    idx = np.random.default_rng(seed).integers(0, x.size, size=(n_boot, x.size))
    return _percentiles(stat(x[idx], axis=-1), level)


def _ranks(codes: np.ndarray, m: int) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) along the last axis of ``codes``.

    ``codes`` are the values' positions among the ``m`` distinct values (``np.unique``'s
    inverse): counting them per row ranks every bootstrap resample at once.
    """
    rows = codes.reshape(-1, codes.shape[-1])
    b = rows.shape[0]
    counts = np.bincount((np.arange(b)[:, None] * m + rows).ravel(), minlength=b * m).reshape(b, m)
    below = np.cumsum(counts, axis=1) - counts
    avg = below + (counts + 1) / 2
    return np.take_along_axis(avg, rows, axis=1).reshape(codes.shape)


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xc**2).sum(axis=-1) * (yc**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (xc * yc).sum(axis=-1) / den, np.nan)


def spearman_ci(
    x: Sequence[float], y: Sequence[float], *, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0
) -> tuple[float, float, float]:
    """Spearman's rho of paired values with a bootstrap interval (pairs resampled together).

    Resamples in which every value of ``x`` or of ``y`` ties have no rho and are dropped.

    Args:
        x, y: paired values of equal length (NaN pairs are dropped).
        level, n_boot, seed: as :func:`bootstrap_ci`.

    Returns:
        ``(rho, lo, hi)``; all NaN for fewer than 3 pairs.

    Raises:
        ValueError: ``x`` and ``y`` of different lengths, bad ``level`` or ``n_boot``.
    """
    _check(level, n_boot)
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must pair up: {xa.size} vs {ya.size} values")
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    if xa.size < 3:
        return math.nan, math.nan, math.nan
    ux, cx = np.unique(xa, return_inverse=True)
    uy, cy = np.unique(ya, return_inverse=True)
    rho = float(_pearson_rows(_ranks(cx, ux.size), _ranks(cy, uy.size)))
    idx = np.random.default_rng(seed).integers(0, xa.size, size=(n_boot, xa.size))
    boot = _pearson_rows(_ranks(cx[idx], ux.size), _ranks(cy[idx], uy.size))
    lo, hi = _percentiles(boot, level)
    return rho, lo, hi


def exponent_ci(
    size: Sequence[float],
    value: Sequence[float],
    *,
    level: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Exponent ``k`` of ``value ~ size^k`` (least squares in logs) with a bootstrap interval.

    Points are resampled with replacement; resamples with a single distinct size are dropped.

    Args:
        size, value: paired positive values (non-positive or NaN pairs are dropped).
        level, n_boot, seed: as :func:`bootstrap_ci`.

    Returns:
        ``(k, lo, hi)``; all NaN for fewer than 2 distinct sizes, and ``lo == hi == k`` for
        exactly 2 points (a line through two points has no spread to resample).

    Raises:
        ValueError: ``size`` and ``value`` of different lengths, bad ``level`` or ``n_boot``.
    """
    _check(level, n_boot)
    s, v = np.asarray(size, dtype=float), np.asarray(value, dtype=float)
    if s.shape != v.shape:
        raise ValueError(f"size and value must pair up: {s.size} vs {v.size} values")
    keep = np.isfinite(s) & np.isfinite(v) & (s > 0) & (v > 0)
    lx, ly = np.log(s[keep]), np.log(v[keep])
    if np.unique(lx).size < 2:
        return math.nan, math.nan, math.nan
    k = float(np.polyfit(lx, ly, 1)[0])
    if lx.size == 2:
        return k, k, k
    idx = np.random.default_rng(seed).integers(0, lx.size, size=(n_boot, lx.size))
    bx, by = lx[idx], ly[idx]
    bxc = bx - bx.mean(axis=-1, keepdims=True)
    den = (bxc**2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = np.where(den > 1e-12, (bxc * (by - by.mean(axis=-1, keepdims=True))).sum(axis=-1) / den, np.nan)
    lo, hi = _percentiles(slopes, level)
    return k, lo, hi
