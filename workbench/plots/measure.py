"""Figures for measurements: cost scatters, rooflines, ratio bars, trade-off heatmaps.

Every function takes a DataFrame (as returned by ``wb.profile_many`` and friends) and returns
a ``plotly.graph_objects.Figure``; units are in the axis titles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from .pareto import pareto_front

__all__ = ["cost_scatter", "roofline", "ratio_bars", "tradeoff_heatmap", "accuracy_vs_cost"]

_LABELS = {
    "params": "parameters",
    "macs": "MACs per image (multiply-accumulates)",
    "macs_all_ops": "MACs incl. element-wise ops",
    "latency_ms": "latency (ms, median)",
    "latency_ratio": "latency ratio to baseline",
    "peak_activation_bytes": "peak activation memory (bytes)",
    "accuracy": "test accuracy (%)",
    "achieved_gflops": "achieved GFLOP/s",
    "arithmetic_intensity": "arithmetic intensity (MACs / byte)",
}


def _label(col: str) -> str:
    return _LABELS.get(col, col.replace("_", " "))


def cost_scatter(
    df: pd.DataFrame,
    x: str = "macs",
    y: str = "latency_ms",
    *,
    color: str | None = None,
    text: str = "name",
    log: bool = True,
    title: str | None = None,
    fit: bool = True,
) -> go.Figure:
    """Scatter of one cost against another, labelled by model, with a log-log power-law fit.

    The fit line (least squares in log space) shows how well ``x`` predicts ``y``; points far
    off the line are where the cheap proxy misleads.
    """
    fig = px.scatter(df, x=x, y=y, color=color, text=text, log_x=log, log_y=log, labels={x: _label(x), y: _label(y)}, title=title)
    fig.update_traces(textposition="top center", textfont_size=9, marker_size=9)
    ok = df[[x, y]].replace([np.inf, -np.inf], np.nan).dropna()
    ok = ok[(ok[x] > 0) & (ok[y] > 0)]
    if fit and len(ok) >= 3:
        lx, ly = np.log(ok[x].to_numpy(float)), np.log(ok[y].to_numpy(float))
        slope, icpt = np.polyfit(lx, ly, 1)
        r = np.corrcoef(lx, ly)[0, 1]
        xs = np.linspace(lx.min(), lx.max(), 20)
        fig.add_trace(go.Scatter(x=np.exp(xs), y=np.exp(icpt + slope * xs), mode="lines", line=dict(dash="dot", color="gray"), name=f"fit: slope {slope:.2f}, r = {r:.2f} (log-log)"))
    fig.update_layout(template="plotly_white", height=520, legend=dict(orientation="h", y=-0.2))
    return fig


def roofline(df: pd.DataFrame, gemm_gflops: float, bandwidth_gbs: float, *, color: str | None = None, text: str = "name", title: str | None = None) -> go.Figure:
    """Models on the roofline of this machine.

    x: arithmetic intensity in FLOPs per byte (2 x MACs over parameter + peak activation bytes,
    a lower bound on the traffic); y: achieved GFLOP/s. Ceilings: measured GEMM throughput and
    measured copy bandwidth x intensity. Points above the GEMM ceiling are real: libraries run
    3x3 convolutions with Winograd-style algorithms that need fewer multiplies than counted MACs.
    """
    d = df.copy()
    d["flops_per_byte"] = 2 * d["arithmetic_intensity"]
    fig = px.scatter(d, x="flops_per_byte", y="achieved_gflops", color=color, text=text, log_x=True, log_y=True, title=title, labels={"flops_per_byte": "arithmetic intensity (FLOPs / byte)", "achieved_gflops": "achieved GFLOP/s"})
    fig.update_traces(textposition="top center", textfont_size=9, marker_size=9)
    lo = min(d["flops_per_byte"].min(), gemm_gflops / bandwidth_gbs) / 2
    hi = max(d["flops_per_byte"].max(), gemm_gflops / bandwidth_gbs) * 2
    xs = np.geomspace(lo, hi, 60)
    fig.add_trace(go.Scatter(x=xs, y=np.minimum(gemm_gflops, bandwidth_gbs * xs), mode="lines", line=dict(color="black"), name=f"roofline: {gemm_gflops:.0f} GFLOP/s GEMM, {bandwidth_gbs:.0f} GB/s"))
    fig.update_layout(template="plotly_white", height=520, legend=dict(orientation="h", y=-0.2))
    return fig


def ratio_bars(df: pd.DataFrame, x: str = "name", y: str = "latency_ratio", *, low: str | None = "auto", high: str | None = "auto", color: str | None = None, facet: str | None = None, title: str | None = None) -> go.Figure:
    """Bars of a ratio with error bars (1.0 = baseline).

    ``low``/``high`` name the columns of the bar ends; ``"auto"`` takes the bootstrap interval
    of the median (``<y>_lo/_hi`` or ``<y>_ci_lo/_ci_hi``, from ``compare_latency`` /
    ``profile_many``) when present, else the inter-quartile range ``<y>_q1/_q3``; ``None``
    draws no error bars.
    """
    d = df.copy()
    if low == "auto" or high == "auto":
        pairs = [(f"{y}_lo", f"{y}_hi"), (f"{y}_ci_lo", f"{y}_ci_hi"), (f"{y}_q1", f"{y}_q3")]
        low, high = next(((a, b) for a, b in pairs if a in d and b in d and d[a].notna().any()), (None, None))
    kw = {}
    if low in d and high in d:
        d["_plus"], d["_minus"] = d[high] - d[y], d[y] - d[low]
        kw = {"error_y": "_plus", "error_y_minus": "_minus"}
    # grouped, never stacked: a sum of ratios means nothing
    fig = px.bar(d, x=x, y=y, color=color, facet_col=facet, title=title, labels={y: _label(y), x: ""}, barmode="group", **kw)
    if facet:
        fig.update_xaxes(matches=None)
    fig.add_hline(y=1.0, line_dash="dot", line_color="gray")
    fig.update_layout(template="plotly_white", height=460)
    return fig


def tradeoff_heatmap(df: pd.DataFrame, x: str, y: str, z: str, *, title: str | None = None, fmt: str = ".0f", scale: float = 1.0) -> go.Figure:
    """Heatmap of ``z`` over a grid of ``x`` and ``y`` (e.g. width x resolution -> MACs)."""
    grid = df.pivot_table(index=y, columns=x, values=z) * scale
    fig = px.imshow(grid, text_auto=fmt, aspect="auto", labels={"x": _label(x), "y": _label(y), "color": _label(z)}, title=title, color_continuous_scale="Viridis")
    fig.update_layout(template="plotly_white", height=420)
    return fig


def accuracy_vs_cost(df: pd.DataFrame, cost: str = "macs", accuracy: str = "accuracy", *, color: str | None = None, text: str = "name", error: str | None = None, log_x: bool = True, title: str | None = None) -> go.Figure:
    """Accuracy against a cost, with the Pareto front (best accuracy for the cost) drawn."""
    d = df.dropna(subset=[cost, accuracy]).sort_values(cost)
    fig = px.scatter(d, x=cost, y=accuracy, color=color, text=text, error_y=error, log_x=log_x, title=title, labels={cost: _label(cost), accuracy: _label(accuracy)})
    fig.update_traces(textposition="top center", textfont_size=9, marker_size=10)
    idx = pareto_front(d[cost].tolist(), d[accuracy].tolist())
    if len(idx) > 1:
        f = d.iloc[idx]
        fig.add_trace(go.Scatter(x=f[cost], y=f[accuracy], mode="lines", line=dict(dash="dash", color="gray"), name="Pareto front"))
    fig.update_layout(template="plotly_white", height=520, legend=dict(orientation="h", y=-0.2))
    return fig
