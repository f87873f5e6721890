"""The Pareto front, and the report index's cross-notebook Pareto plots (plotly JSON dicts).

:func:`pareto_front` is the one front of the package: the index's plots and
:func:`workbench.plots.accuracy_vs_cost` both draw it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from . import fmt

__all__ = ["pareto_front", "pareto_figures"]

_PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d")


def pareto_front(cost: list[float], acc: list[float]) -> list[int]:
    """Indices of the points no other point beats on both lower ``cost`` and higher ``acc``.

    Args:
        cost: cost per point (any unit, lower is better: MACs, ms, parameters).
        acc: quality per point (higher is better: accuracy in %, PSNR in dB).

    Returns:
        Indices into ``cost`` / ``acc``, sorted by cost (ties on cost keep the most accurate).
    """
    order = sorted(range(len(cost)), key=lambda i: (cost[i], -acc[i]))
    front, best = [], -math.inf
    for i in order:
        if acc[i] > best:
            front.append(i)
            best = acc[i]
    return front


def pareto_figures(models: Any, peak_gflops: float | None = None) -> list[tuple[str, dict]]:
    """The index's scatter plots of the ``models`` rows of every notebook.

    Args:
        models: DataFrame with ``name, params, macs, latency_ms, accuracy, source`` columns.
        peak_gflops: measured GEMM peak (GFLOP/s); adds the compute-bound line
            ``latency = 2 * macs / peak`` to latency vs MACs.

    Returns:
        ``[(title, plotly JSON dict)]``, leaving out plots with fewer than two points.
    """
    import plotly.graph_objects as go

    specs = [
        ("Accuracy vs MACs", "macs", "accuracy", "MACs per image (log)", "test accuracy (%)", True),
        (
            "Accuracy vs latency",
            "latency_ms",
            "accuracy",
            "latency (ms, log)",
            "test accuracy (%)",
            True,
        ),
        (
            "Latency vs MACs",
            "macs",
            "latency_ms",
            "MACs per image (log)",
            "latency (ms, log)",
            False,
        ),
    ]
    out = []
    for title, xcol, ycol, xlabel, ylabel, front in specs:
        df = models[models[xcol].notna() & models[ycol].notna() & (models[xcol] > 0)]
        if len(df) < 2:
            continue
        fig = go.Figure()
        for k, (source, g) in enumerate(df.groupby("source", sort=False)):
            fig.add_trace(
                go.Scatter(
                    x=g[xcol].tolist(),
                    y=g[ycol].tolist(),
                    mode="markers",
                    name=str(source),
                    marker={
                        "size": 9,
                        "color": _PALETTE[k % len(_PALETTE)],
                        "line": {"width": 0.5, "color": "white"},
                    },
                    text=[_hover(r) for r in g.to_dict(orient="records")],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
        if front:
            idx = pareto_front(df[xcol].tolist(), df[ycol].tolist())
            pts = df.iloc[idx]
            fig.add_trace(
                go.Scatter(
                    x=pts[xcol].tolist(),
                    y=pts[ycol].tolist(),
                    mode="lines+markers",
                    name="Pareto front",
                    line={"color": "#111827", "width": 1.5, "dash": "dot", "shape": "hv"},
                    marker={
                        "size": 13,
                        "symbol": "circle-open",
                        "color": "#111827",
                        "line": {"width": 1.5},
                    },
                    text=pts["name"].tolist(),
                    hovertemplate="front: %{text}<extra></extra>",
                )
            )
        elif peak_gflops:
            lo, hi = float(df[xcol].min()), float(df[xcol].max())
            xs = [lo / 1.5, hi * 1.5]
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[2 * x / (peak_gflops * 1e9) * 1e3 for x in xs],
                    mode="lines",
                    name=f"compute bound at GEMM peak ({peak_gflops:,.0f} GFLOP/s)",
                    line={"color": "#9ca3af", "dash": "dash"},
                    hoverinfo="skip",
                )
            )
        fig.update_layout(
            template="plotly_white",
            title={"text": title, "x": 0.01},
            height=440,
            margin={"l": 60, "r": 20, "t": 50, "b": 50},
            xaxis={"title": xlabel, "type": "log", **_log_ticks(df[xcol], xcol)},
            yaxis={
                "title": ylabel,
                **({"type": "log", **_log_ticks(df[ycol], ycol)} if ycol == "latency_ms" else {}),
            },
            legend={"orientation": "h", "y": -0.18},
        )
        out.append((title, json.loads(fig.to_json())))
    return out


def _log_ticks(values: Any, col: str) -> dict:
    """Ticks at 1-2-5 per decade over the data, labelled like the tables (``50 M``, ``2 ms``):
    plotly's own log labels are a mix of full and tiny minor digits, or ``900m`` for 0.9 ms."""
    lo, hi = float(values.min()) / 1.3, float(values.max()) * 1.3
    vals = [
        m * 10.0**e
        for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
        for m in (1, 2, 5)
    ]
    vals = [v for v in vals if lo <= v <= hi]
    text = [
        fmt.count(v).replace(".00 ", " ").replace(".0 ", " ") if col == "macs" else fmt.number(v)
        for v in vals
    ]
    return {"tickvals": vals, "ticktext": text}


def _hover(r: dict) -> str:
    parts = [
        f"<b>{r['name']}</b> ({r.get('source', '')})",
        f"params {fmt.count(r.get('params'))}",
        f"MACs {fmt.count(r.get('macs'))}",
        f"latency {fmt.ms(r.get('latency_ms'))}",
    ]
    if not fmt.is_missing(r.get("accuracy")):
        parts.append(f"accuracy {fmt.pct(r.get('accuracy'))} on {r.get('dataset') or '?'}")
    return "<br>".join(parts)
