"""Verdict and takeaways of the ``large_kernels`` notebook.

A ConvNeXt block at $C$ channels on an $H \\times W$ map costs, per image,

$$\\text{MACs} = \\underbrace{K^2 C H W}_{\\text{depthwise } K \\times K} + \\underbrace{8 C^2 H W}_{\\text{MLP } C \\to 4C \\to C},$$

so the depthwise part is a share $K^2 / (K^2 + 8C)$ of the block: 1 % at $K = 3$, $C = 96$;
56 % at $K = 31$. Its *receptive field* grows by $K - 1$ per block.

Rule (:func:`conclude`) on the claim "large depthwise kernels widen the effective receptive field
and help a task that needs long-range context, but on CPU their latency grows faster than their
MACs":

* ERF half: *wider* when the ERF area (share of input pixels holding 90 % of the input-gradient
  mass) of the largest trained kernel is at least :data:`MIN_ERF_GROWTH` times the smallest's;
* accuracy half: *gain* when the best larger kernel beats the smallest kernel on the pair task by
  more than twice the largest seed std (>= 2 seeds); *no gain* when testable but not;
  *untestable* with one seed or when no model is :data:`MIN_ABOVE_CHANCE` points above chance
  (training too short);
* cost half: *exceeds* when, at every timed stage shape, the block's latency ratio (largest
  kernel / 3x3, lower quartile when known) exceeds its MAC ratio;
* supported = all three hold; not supported = none holds with accuracy testable; inconclusive =
  none holds and accuracy untestable; partly supported otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from torch import nn

from ..layers.convnext import ConvNeXtBlock
from .verdicts import Lesson, finite, seed_spread

CLAIM = (
    "Large depthwise kernels (3x3 -> 31x31) add few MACs to a ConvNeXt block, widen the effective "
    "receptive field and improve accuracy on a task that needs long-range context; on this CPU their "
    "latency grows faster than their MACs."
)
#: ERF area growth (largest / smallest trained kernel) that counts as "wider".
MIN_ERF_GROWTH = 1.5
#: Points above chance (50 % on the balanced pair task) the best model must reach to be judged.
MIN_ABOVE_CHANCE = 5.0
CHANCE = 50.0


def kernel_variants(kernels: Sequence[int], *, dim: int, depth: int, small_input: bool = False) -> dict[str, tuple[str, dict]]:
    """``{"k=<k>": ("lk_convnext", create_model kwargs)}``: the trained kernel sweep.

    Raises:
        ValueError: an even or non-positive kernel size.
    """
    bad = [k for k in kernels if k < 1 or k % 2 == 0]
    if bad:
        raise ValueError(f"kernel sizes must be odd and >= 1, got {bad[0]}; valid e.g. 3, 7, 13, 31")
    kw = {"dim": dim, "depth": depth} | ({"small_input": True} if small_input else {})
    return {f"k={k}": ("lk_convnext", kw | {"kernel_size": int(k)}) for k in kernels}


def bank_entries(params: Mapping[str, Any]) -> list:
    """Bank entries the runner can build ahead: the 28 px Fashion-MNIST control.

    The pair-task models are trained on a generated :class:`~workbench.data.DataBundle`, which a
    :class:`~workbench.bank.BankEntry` cannot carry, so the notebook trains (or loads) them itself.
    """
    from ..bank import BankEntry

    vs = kernel_variants(params["control_kernels"], dim=params["dim"], depth=params["depth"], small_input=True)
    return [BankEntry(m, params["recipe"], seed, kw) for m, kw in vs.values() for seed in params["control_seeds"]]


def cost_blocks(channels: int, kernels: Sequence[int]) -> dict[str, nn.Module]:
    """``{"block k=<k>": ConvNeXtBlock, "dwconv k=<k>": depthwise conv}`` at ``channels``, eval mode.

    The block has no BatchNorm (LayerNorm cannot be folded), so this is its deploy form.
    """
    out: dict[str, nn.Module] = {}
    for part in ("block", "dwconv"):
        for k in kernels:
            out[f"{part} k={k}"] = (
                ConvNeXtBlock(channels, k) if part == "block" else nn.Conv2d(channels, channels, k, padding=k // 2, groups=channels)
            ).eval()
    return out


def cost_table(tables: Mapping[tuple[int, int], pd.DataFrame]) -> pd.DataFrame:
    """One row per (shape, part, kernel) with MAC and latency ratios to the 3x3 (smallest) kernel.

    Args:
        tables: ``{(channels, side): profile_many table of cost_blocks(...)}`` (one interleaved
            run per shape; its ``name`` column is ``"<part> k=<k>"``).

    Returns:
        columns ``shape, part, kernel, params, macs, macs_ratio, latency_ratio`` (and
        ``latency_ratio_q1/q3`` when present), ``latency_per_mac`` (latency ratio / MAC ratio).
    """
    rows = []
    for (c, side), t in tables.items():
        t = t.copy()
        t["part"] = t.name.str.split(" ").str[0]
        t["kernel"] = t.name.str.split("=").str[1].astype(int)
        for part, g in t.groupby("part", sort=False):
            g = g.sort_values("kernel")
            base = g.iloc[0]
            q = {f"latency_ratio_{s}": g[f"latency_ratio_{s}"] / base.latency_ratio for s in ("q1", "q3") if f"latency_ratio_{s}" in g}
            rows.append(pd.DataFrame({
                "shape": f"{c}x{side}x{side}", "part": part, "kernel": g.kernel, "params": g.params,
                "macs": g.macs, "macs_ratio": g.macs / base.macs, "latency_ratio": g.latency_ratio / base.latency_ratio, **q,
            }))  # fmt: skip
    out = pd.concat(rows, ignore_index=True)
    out["latency_per_mac"] = out.latency_ratio / out.macs_ratio
    return out


def erf_figure(maps: Mapping[str, np.ndarray], areas: Mapping[str, float]) -> go.Figure:
    """Heatmaps of ERF maps side by side (log10 of the normalized gradient, shared colour scale)."""
    names = list(maps)
    fig = make_subplots(1, len(names), subplot_titles=[f"{n}: 90% mass in {100 * areas[n]:.0f}% of pixels" for n in names])
    logs = {n: np.log10(np.maximum(maps[n], 1e-8)) for n in names}
    lo = min(float(v.min()) for v in logs.values())
    hi = max(float(v.max()) for v in logs.values())
    for i, n in enumerate(names, 1):
        fig.add_trace(go.Heatmap(z=logs[n][::-1], zmin=lo, zmax=hi, colorscale="Viridis", showscale=i == len(names),
                                 colorbar=dict(title="log10 |grad|")), 1, i)  # fmt: skip
        fig.update_xaxes(showticklabels=False, row=1, col=i)
        fig.update_yaxes(showticklabels=False, scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
    fig.update_layout(title="Effective receptive field of the centre output (trained, pair task)", height=360)
    return fig


def cost_figure(cost: pd.DataFrame) -> go.Figure:
    """MAC ratio and latency ratio vs kernel size, one line per (shape, part)."""
    fig = go.Figure()
    for (shape, part), g in cost.groupby(["shape", "part"], sort=False):
        fig.add_trace(go.Scatter(x=g.kernel, y=g.latency_ratio, mode="lines+markers", name=f"{part} {shape}: latency"))
        fig.add_trace(go.Scatter(x=g.kernel, y=g.macs_ratio, mode="lines", line=dict(dash="dot"), name=f"{part} {shape}: MACs"))
    fig.update_layout(title="Cost / the 3x3 kernel's, per kernel size (interleaved latency ratios)",
                      xaxis_title="depthwise kernel size", yaxis_title="ratio to k=3", yaxis_type="log", height=460)  # fmt: skip
    return fig


def pairs_figure(images, labels, names: Sequence[str] = ("different", "same"), n: int = 6) -> go.Figure:
    """The first ``n`` canvases of a batch with their labels (grey scale, as the network sees them)."""
    n = min(n, len(images))
    fig = make_subplots(1, n, subplot_titles=[names[int(labels[i])] for i in range(n)])
    for i in range(n):
        fig.add_trace(go.Heatmap(z=images[i, 0].numpy()[::-1], colorscale="gray", showscale=False), 1, i + 1)
        fig.update_xaxes(showticklabels=False, row=1, col=i + 1)
        fig.update_yaxes(showticklabels=False, scaleanchor=f"x{i + 1 if i else ''}", row=1, col=i + 1)
    fig.update_layout(title="Long-range pairs: same class?", height=260)
    return fig


def accuracy_figure(pairs: pd.DataFrame, control: pd.DataFrame | None = None) -> go.Figure:
    """Test accuracy vs kernel size (error bars: seed std), pair task and 28 px control."""
    fig = go.Figure()
    for label, t in (("pair task (64 px, chance 50%)", pairs), ("control: Fashion-MNIST 28 px", control)):
        if t is None or t.empty:
            continue
        t = t.assign(kernel=t.name.map(_kernel)).sort_values("kernel")
        err = t.accuracy_std.fillna(0) if "accuracy_std" in t else None
        fig.add_trace(go.Scatter(x=t.kernel, y=t.accuracy, error_y=dict(array=err), mode="lines+markers", name=label))
    fig.update_layout(title="Accuracy vs depthwise kernel size", xaxis_title="kernel size", yaxis_title="test accuracy (%)", height=420)
    return fig


def _kernel(name: str) -> int:
    return int(str(name).split("=")[1])


def conclude(
    cost: pd.DataFrame,
    pairs: pd.DataFrame,
    erf_areas: Mapping[str, float],
    *,
    control: pd.DataFrame | None = None,
    zoo: pd.DataFrame | None = None,
    epochs: int = 0,
    images: int = 0,
) -> Lesson:
    """The large-kernel verdict and takeaways.

    Args:
        cost: :func:`cost_table`.
        pairs: the pair task's ``train_compare`` table (names ``"k=<k>"``; ``accuracy``,
            ``accuracy_std``, ``seeds``).
        erf_areas: ``{"k=<k>": erf_area}`` of the trained pair models.
        control: the same kernels trained on 28 px Fashion-MNIST (optional).
        zoo: a ``profile_many`` table of whole networks (optional; first row the baseline).
        epochs, images: the pair task's training schedule.

    Raises:
        ValueError: fewer than two trained kernels or no cost rows.
    """
    if len(pairs) < 2 or cost.empty:
        raise ValueError(f"conclude needs >= 2 trained kernels and a cost table, got {list(pairs.name)} and {len(cost)} cost rows")
    pairs = pairs.assign(kernel=pairs.name.map(_kernel)).sort_values("kernel")
    small, large = pairs.iloc[0], pairs.iloc[-1]
    # ERF
    a_small, a_large = erf_areas.get(small["name"], float("nan")), erf_areas.get(large["name"], float("nan"))
    growth = a_large / a_small if finite(a_small) and a_small > 0 else float("nan")
    wider = finite(growth) and growth >= MIN_ERF_GROWTH
    # accuracy
    n = int(pairs.seeds.min()) if "seeds" in pairs else 1
    spread = float(pairs.accuracy_std.max()) if "accuracy_std" in pairs and pairs.accuracy_std.notna().any() else float("nan")
    short = not finite(pairs.accuracy.max()) or pairs.accuracy.max() < CHANCE + MIN_ABOVE_CHANCE
    best = pairs.iloc[1:].loc[pairs.iloc[1:].accuracy.idxmax()]
    gain = float(best.accuracy - small.accuracy)
    if short or n < 2 or not finite(spread):
        acc = "untestable"
    else:
        acc = "gain" if gain > 2 * spread else "no gain"
    # cost: the block at the largest timed kernel, every shape
    blocks = cost[cost.part == "block"]
    last = blocks.loc[blocks.groupby("shape").kernel.idxmax()]
    lat = last.latency_ratio_q1 if "latency_ratio_q1" in last else last.latency_ratio
    exceeds = bool((lat > last.macs_ratio).all())

    holds = [wider, acc == "gain", exceeds]
    if all(holds):
        verdict = "supported"
    elif any(holds):
        verdict = "partly supported"
    else:
        verdict = "not supported" if acc != "untestable" else "inconclusive"
    cost_txt = "; ".join(
        f"{r.shape}: k={r.kernel} block {r.latency_ratio:.2f}x latency vs {r.macs_ratio:.2f}x MACs" for r in last.itertuples()
    )
    acc_txt = {
        "gain": f"k={best.kernel} beats k={small.kernel} by {gain:+.1f} points on the pair task, more than twice the {seed_spread(spread, n)}",
        "no gain": f"the best larger kernel (k={best.kernel}) is {gain:+.1f} points vs k={small.kernel}, within twice the {seed_spread(spread, n)}",
        "untestable": "accuracy untestable: "
        + (f"no model is {MIN_ABOVE_CHANCE:.0f} points above chance (training too short)" if short else seed_spread(spread, n)),
    }[acc]
    erf_txt = f"ERF area k={large.kernel} / k={small.kernel} = {growth:.2f}x ({'wider' if wider else f'below {MIN_ERF_GROWTH}x'})"
    evidence = f"{erf_txt}; {acc_txt}; latency {'exceeds' if exceeds else 'does not always exceed'} MACs ({cost_txt})."

    takeaways = [
        f"Depthwise conv alone at {r.shape}: k={r.kernel} costs {r.macs_ratio:.0f}x the MACs of k=3 and {r.latency_ratio:.1f}x its latency "
        f"({r.latency_per_mac:.2f}x latency per MAC)."
        for r in cost[cost.part == "dwconv"].loc[lambda d: d.groupby("shape").kernel.idxmax()].itertuples()
    ]
    for shape, g in cost[cost.part == "dwconv"].groupby("shape", sort=False):
        cheap = g[g.latency_per_mac <= 1]
        dear = g[g.latency_per_mac > 1]
        if len(cheap) > 1 and not dear.empty and dear.kernel.min() > cheap.kernel.max():
            k0 = int(dear.kernel.min())
            takeaways.append(
                f"At {shape} the depthwise conv gets cheaper per MAC up to k={int(cheap.kernel.max())} (more work per loaded value), "
                f"then at k={k0} its latency per MAC jumps to {float(g[g.kernel == k0].latency_per_mac.iloc[0]):.1f}x the 3x3's "
                "(a slower kernel path, not more work per MAC): there MACs stop predicting latency."
            )
    takeaways += [
        f"Whole ConvNeXt block at {r.shape}: k={r.kernel} is {r.macs_ratio:.2f}x the MACs of k=3 (the 1x1 MLP dominates) and "
        f"{r.latency_ratio:.2f}x its latency." for r in last.itertuples()
    ]  # fmt: skip
    takeaways.append(
        "ERF (share of input pixels holding 90% of the centre output's gradient): "
        + ", ".join(f"{k} {100 * v:.0f}%" for k, v in erf_areas.items()) + "."
    )
    takeaways.append(
        f"Pair task ({epochs} epoch(s) on {images:,} canvases, chance 50%): "
        + ", ".join(f"{r.name} {r.accuracy:.1f}%" for r in pairs.itertuples()) + f" ({seed_spread(spread, n)})."
    )
    if short:
        takeaways.append("Training too short: no kernel size got clear of chance, so accuracy is ignored.")
    if control is not None and len(control) >= 2:
        c = control.assign(kernel=control.name.map(_kernel)).sort_values("kernel")
        d = float(c.accuracy.iloc[-1] - c.accuracy.iloc[0])
        takeaways.append(
            f"Control, plain 28 px Fashion-MNIST (one centred item, no long-range need): k={c.kernel.iloc[-1]} vs k={c.kernel.iloc[0]} "
            f"{d:+.1f} points ({c.accuracy.iloc[0]:.1f}% -> {c.accuracy.iloc[-1]:.1f}%, "
            f"{seed_spread(c.accuracy_std.max() if 'accuracy_std' in c else float('nan'), int(c.seeds.min()) if 'seeds' in c else 1)})."
        )
    if zoo is not None and len(zoo) >= 2:
        base = zoo.iloc[0]
        takeaways.append(
            "Whole networks at 224 px, batch 1 (interleaved, vs " + str(base["name"]) + "): "
            + "; ".join(f"{r['name']} {r.macs / base.macs:.2f}x MACs, {r.latency_ratio / base.latency_ratio:.2f}x latency" for _, r in zoo.iloc[1:].iterrows())
            + "."
        )  # fmt: skip

    key_numbers: dict[str, Any] = {
        "ERF growth (largest / smallest kernel)": {"value": round(growth, 2) if finite(growth) else "n/a", "unit": "x"},
        "pair-task accuracy gain": {"value": round(gain, 1), "unit": f"points (k={best.kernel} vs k={small.kernel})"}
        if acc != "untestable" else acc_txt,
        "seed spread": {"value": round(spread, 2), "unit": "points"} if n >= 2 and finite(spread) else seed_spread(spread, n),
    }  # fmt: skip
    for r in last.itertuples():
        key_numbers[f"block {r.shape} k={r.kernel}: latency / MACs vs k=3"] = f"{r.latency_ratio:.2f}x / {r.macs_ratio:.2f}x"
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)
