"""Honest roofline inputs: compulsory memory traffic, arithmetic intensity, cache bandwidth.

The roofline bounds attainable throughput by $\\min(\\text{peak}, I \\times \\text{bandwidth})$,
where the arithmetic intensity $I$ is work per byte *moved*. We count the compulsory traffic of
one eager forward pass: every leaf module reads its weights and its input activations and
writes its output activations once (fp32, 4 bytes per value). Ops outside modules (a residual
``+``, ``torch.cat``) are not counted, so the traffic is a lower bound and the intensity an
upper bound.

Bandwidth: a 256 MiB copy measures DRAM bandwidth (:func:`workbench.measure.machine_peak`).
At 28 px most feature maps (C x 28 x 28 x 4 bytes = 0.8 MiB at C = 256) stay in the L2 cache,
whose bandwidth :func:`cache_bandwidth_gbs` measures with a small copy: a layer may therefore sit
above the DRAM slope, which then only bounds traffic that really goes to memory.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import torch
from torch import nn

from ._inputs import make_input
from .latency import num_threads
from .peak import _best_of


def _numel(x) -> int:
    if isinstance(x, torch.Tensor):
        return x.numel()
    if isinstance(x, list | tuple):
        return sum(_numel(v) for v in x)
    if isinstance(x, dict):
        return sum(_numel(v) for v in x.values())
    return 0


def memory_traffic(
    model: nn.Module, input_size=None, *, batch_size: int = 1, bytes_per_value: int = 4
) -> dict[str, int]:
    """Compulsory bytes moved by one forward pass (see the module docstring).

    Args:
        model: any module (use its deploy form: BN folded).
        input_size: ``(C, H, W)``; ``None`` = ``model.default_input_size``.
        batch_size: images per forward.
        bytes_per_value: 4 for fp32.

    Returns:
        ``{"weight_bytes", "activation_bytes", "traffic_bytes"}`` (bytes; the last is the sum).
    """
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    act = {"values": 0}

    def hook(_m, inputs, output) -> None:
        act["values"] += _numel(inputs) + _numel(output)

    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model.eval()(make_input(model, input_size, batch_size))
    finally:
        for h in handles:
            h.remove()
    weights = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    wb, ab = weights * bytes_per_value, act["values"] * bytes_per_value
    return {"weight_bytes": wb, "activation_bytes": ab, "traffic_bytes": wb + ab}


def with_traffic(
    table: pd.DataFrame, models: Mapping[str, nn.Module], input_size=None
) -> pd.DataFrame:
    """``table`` (a :func:`profile_many` result) with traffic columns and an honest intensity.

    Adds ``weight_bytes, activation_bytes, traffic_bytes`` and replaces ``arithmetic_intensity``
    by MACs / compulsory traffic bytes (MACs per byte).
    """
    missing = set(table.name) - set(models)
    if missing:
        raise KeyError(f"no model for rows {sorted(missing)}; models given: {sorted(models)}")
    rows = [{"name": n, **memory_traffic(models[n], input_size)} for n in table.name]
    out = table.drop(
        columns=[c for c in ("weight_bytes", "activation_bytes", "traffic_bytes") if c in table]
    ).merge(pd.DataFrame(rows), on="name")
    out["arithmetic_intensity"] = out.macs / out.traffic_bytes
    out.attrs = dict(table.attrs)  # keep profile_many's interval and contention records
    return out


def cache_bandwidth_gbs(kib: int = 256, *, threads: int | None = None, reps: int = 400) -> float:
    """Copy bandwidth (GB/s, bytes read + written) of a ``kib`` KiB buffer that stays in cache."""
    if kib < 1:
        raise ValueError(f"kib must be >= 1, got {kib}")
    with num_threads(threads):
        src = torch.ones(kib * 1024 // 4)
        dst = torch.empty_like(src)
        inner = (
            50  # one copy takes microseconds: time a batch so the timer's resolution is irrelevant
        )

        def copies() -> None:
            for _ in range(inner):
                dst.copy_(src)

        secs = _best_of(copies, max(4, reps // inner))
    return 2 * src.numel() * 4 * inner / secs / 1e9
