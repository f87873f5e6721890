"""One row per model: everything the reports compare, measured in one place."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd
from torch import nn

from ._inputs import resolve_input_size
from .counting import count_model
from .latency import compare_latency, measure_latency
from .macs import count_macs
from .memory import measure_memory
from .params import count_params
from .peak import machine_peak
from .stride import check_resolution


@dataclass(frozen=True)
class ProfileRow:
    """The measured cost of one model at one input size.

    Attributes:
        name: registry name (or class name).
        input_size: (B, C, H, W).
        params: parameters; macs: multiply-accumulates (conv/linear/matmul, BN folded);
        macs_all_ops: every counted op; flops: 2 x macs.
        param_bytes, peak_activation_bytes: memory of an inference forward.
        latency_ms, latency_iqr_ms, latency_cv: median forward latency and spread (NaN if not
            measured); latency_ratio/baseline: median per-round ratio to the baseline from an
            interleaved :func:`compare_latency` (profile_many only), with its quartiles
            latency_ratio_q1/q3 and the bootstrap interval of the median latency_ratio_ci_lo/_ci_hi.
        achieved_gflops: flops / latency; pct_of_peak: that as % of the measured GEMM peak.
        arithmetic_intensity: MACs per byte of params + peak activations (roofline x-axis proxy).
        unsupported_ops: operators the counter could not handle (must be empty to trust macs).
        env: environment of the latency measurement.
    """

    name: str
    input_size: tuple[int, ...]
    params: int
    macs: int
    macs_all_ops: int
    flops: int
    param_bytes: int
    peak_activation_bytes: int
    latency_ms: float = math.nan
    latency_iqr_ms: float = math.nan
    latency_cv: float = math.nan
    latency_ratio: float = math.nan
    latency_ratio_q1: float = math.nan
    latency_ratio_q3: float = math.nan
    latency_ratio_ci_lo: float = math.nan
    latency_ratio_ci_hi: float = math.nan
    baseline: str = ""
    achieved_gflops: float = math.nan
    pct_of_peak: float = math.nan
    arithmetic_intensity: float = math.nan
    unsupported_ops: dict[str, int] = field(default_factory=dict)
    env: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return d


def _build(model: nn.Module | str, **create_kwargs) -> tuple[str, nn.Module]:
    if isinstance(model, str):
        from ..models import create_model

        return model, create_model(model, **create_kwargs)
    return getattr(model, "registry_name", type(model).__name__), model


def _cacheable(model: nn.Module | str) -> bool:
    # Registry names build a known model: their counts come from the counting cache. Modules
    # (possibly edited after building) and timm/torchvision references are counted every time.
    return isinstance(model, str) and ":" not in model


def _static_row(name: str, model: nn.Module, input_size, batch_size: int, registry: bool = False) -> dict:
    """Counts and memory of one model; ``registry``: ``model`` is ``create_model(name)`` unmodified,
    so its params/MACs may come from the counting cache."""
    if registry:
        c = count_model(name, input_size, batch_size=batch_size)
        counts = (c.input_size, c.params, c.macs, c.macs_all_ops, c.unsupported_ops)
    else:
        m = count_macs(model, input_size, batch_size=batch_size)
        counts = (m.input_size, count_params(model).total, m.macs, m.macs_all_ops, dict(m.unsupported))
    size, params, macs, macs_all_ops, unsupported = counts
    mem = measure_memory(model, input_size, batch_size=batch_size)
    return {
        "name": name,
        "input_size": tuple(size),
        "params": params,
        "macs": macs,
        "macs_all_ops": macs_all_ops,
        "flops": 2 * macs,
        "param_bytes": mem.param_bytes,
        "peak_activation_bytes": mem.peak_activation_bytes,
        "arithmetic_intensity": macs / max(1, mem.param_bytes + mem.peak_activation_bytes),
        "unsupported_ops": unsupported,
    }


def _with_latency(row: dict, median_ms: float, threads: int, peak_gflops: float | None) -> dict:
    achieved = row["flops"] / (median_ms / 1000) / 1e9
    row["achieved_gflops"] = achieved
    if peak_gflops:
        row["pct_of_peak"] = 100 * achieved / peak_gflops
    return row


def profile(
    model: nn.Module | str,
    input_size: tuple[int, ...] | None = None,
    *,
    latency: bool = True,
    batch_size: int = 1,
    threads: int | None = None,
    peak: bool = True,
    **latency_kwargs,
) -> ProfileRow:
    """Params, MACs, memory and (optionally) latency of one model.

    Args:
        model: a module or a registry name.
        input_size: ``(C, H, W)``/``(B, C, H, W)``; default ``model.default_input_size``.
        latency: measure latency (seconds of work); ``False`` gives only the static counts.
        batch_size: images per forward.
        threads: threads for latency and the machine peak.
        peak: compare achieved GFLOP/s with :func:`machine_peak` (cached after the first call).
        **latency_kwargs: forwarded to :func:`measure_latency` (``channels_last``, ``backend``, ...).

    Raises:
        ValueError: an input side below the model's total stride (:func:`check_resolution`).
    """
    name, m = _build(model)
    input_size = resolve_input_size(m, input_size)
    check_resolution(m, input_size, name=name)
    row = _static_row(name, m, input_size, batch_size, registry=_cacheable(model))
    if latency:
        lat = measure_latency(m, input_size, batch_size=batch_size, threads=threads, **latency_kwargs)
        row.update(latency_ms=lat.median_ms, latency_iqr_ms=lat.iqr_ms, latency_cv=lat.cv, env=lat.env)
        row = _with_latency(row, lat.median_ms, lat.threads, machine_peak(threads).gemm_gflops if peak else None)
    return ProfileRow(**row)


def profile_many(
    models: Mapping[str, nn.Module] | Sequence[nn.Module | str],
    input_size: tuple[int, ...] | None = None,
    *,
    latency: bool = True,
    batch_size: int = 1,
    threads: int | None = None,
    rounds: int = 15,
    peak: bool = True,
    progress: bool = False,
    **latency_kwargs,
) -> pd.DataFrame:
    """Profile several models; latencies come from ONE interleaved :func:`compare_latency` run.

    The first model is the latency baseline: ``latency_ratio`` is each model's median per-round
    ratio to it, the figure to trust on a machine whose speed drifts.

    ``latency_kwargs`` go to :func:`compare_latency` (e.g. ``target_ci=0.03, probe=True``).

    Returns:
        DataFrame with the :class:`ProfileRow` fields as columns, one row per model; its
        ``attrs`` carry the comparison's ``ci`` and, when probed, ``contention``.
    """
    if isinstance(models, Mapping):
        named = dict(models)
        from_registry: set[str] = set()
    else:
        named = dict(_build(m) for m in models)
        from_registry = {m for m in models if _cacheable(m)}
    it = named.items()
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(named), desc="counting", leave=False)
    rows = {
        n: _static_row(n, m, resolve_input_size(m, input_size), batch_size, registry=n in from_registry)
        for n, m in it
    }
    if latency:
        cmp = compare_latency(named, input_size, rounds=rounds, batch_size=batch_size, threads=threads, **latency_kwargs)
        gemm = machine_peak(threads).gemm_gflops if peak else None
        for r in cmp.itertuples():
            row = rows[r.name]
            row.update(
                latency_ms=r.median_ms, latency_iqr_ms=r.iqr_ms, latency_ratio=r.ratio,
                latency_ratio_q1=r.ratio_q1, latency_ratio_q3=r.ratio_q3, baseline=r.baseline, env=cmp.attrs["env"],
                latency_ratio_ci_lo=r.ratio_lo, latency_ratio_ci_hi=r.ratio_hi,
            )  # fmt: skip
            _with_latency(row, r.median_ms, r.threads, gemm)
    df = pd.DataFrame([ProfileRow(**r).to_dict() for r in rows.values()])
    if latency:
        df.attrs.update({k: v for k, v in cmp.attrs.items() if k in ("ci", "contention")})
    return df


def multiplier_grid(
    name: str,
    widths: Sequence[float],
    resolutions: Sequence[int],
    **create_kwargs,
) -> pd.DataFrame:
    """Params and MACs of one architecture over width multipliers x input resolutions.

    The two knobs of MobileNetV1 (Howard et al. 2017, sec. 3.3-3.4): MACs scale roughly with
    width^2 and resolution^2, params with width^2 only.

    Returns:
        one row per (width, resolution): ``width, resolution, params, macs``.
    """
    from ..models import create_model

    rows = []
    for w in widths:
        model = create_model(name, width_mult=w, **create_kwargs)
        params = count_params(model).total
        c = model.default_input_size[0]
        for r in resolutions:
            rows.append({"width": w, "resolution": r, "params": params, "macs": count_macs(model, (c, r, r)).macs})
    return pd.DataFrame(rows)


def scaling_exponents(grid: pd.DataFrame, value: str = "macs") -> dict[str, float]:
    """Fit ``value ~ width^a * resolution^b`` over a :func:`multiplier_grid` (least squares in logs).

    Returns:
        ``{"width": a, "resolution": b}``; MobileNetV1's analysis predicts a = b = 2 for MACs.
    """
    import numpy as np

    a = np.column_stack([np.log(grid.width.astype(float)), np.log(grid.resolution.astype(float)), np.ones(len(grid))])
    coef, *_ = np.linalg.lstsq(a, np.log(grid[value].astype(float)), rcond=None)
    return {"width": float(coef[0]), "resolution": float(coef[1])}
