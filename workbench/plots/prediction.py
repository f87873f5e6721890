"""Predicted against measured: the latency-predictor figure (``latency_prediction`` notebook)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

__all__ = ["prediction_scatter"]


def prediction_scatter(report: pd.DataFrame, *, color: str = "predictor", symbol: str | None = "split",
                       band: float = 0.10, title: str | None = None) -> go.Figure:  # fmt: skip
    """Predicted vs measured latency on log axes, with the ``y = x`` line and a +-``band`` corridor.

    Args:
        report: rows with ``name, predicted_ms, measured_ms`` (``wb.search.predictor_report``,
            several predictors stacked with a ``predictor`` column).
        color, symbol: columns that colour / shape the points (``symbol=None`` for one shape).
        band: relative half-width of the corridor drawn around ``y = x`` (0.10 = +-10 %).
        title: figure title.

    Raises:
        ValueError: a required column is missing, or ``band`` is not in (0, 1).
    """
    need = {"name", "predicted_ms", "measured_ms"} | {c for c in (color, symbol) if c}
    missing = sorted(need - set(report.columns))
    if missing:
        raise ValueError(f"report lacks columns {missing}; has {list(report.columns)}")
    if not 0 < band < 1:
        raise ValueError(f"band must be in (0, 1), got {band!r}")
    fig = px.scatter(report, x="measured_ms", y="predicted_ms", color=color, symbol=symbol, hover_name="name",
                     log_x=True, log_y=True, title=title,
                     labels={"measured_ms": "measured latency (ms)", "predicted_ms": "predicted latency (ms)"})  # fmt: skip
    lo = float(min(report.measured_ms.min(), report.predicted_ms.min())) * 0.8
    hi = float(max(report.measured_ms.max(), report.predicted_ms.max())) * 1.25
    xs = [lo, hi]
    fig.add_trace(go.Scatter(x=xs, y=xs, mode="lines", line=dict(color="black", width=1), name="predicted = measured"))
    fig.add_trace(go.Scatter(x=xs + xs[::-1], y=[x * (1 + band) for x in xs] + [x * (1 - band) for x in xs[::-1]],
                             fill="toself", fillcolor="rgba(0,0,0,0.08)", line=dict(width=0),
                             name=f"+-{band:.0%}", hoverinfo="skip"))  # fmt: skip
    fig.update_traces(marker_size=8, selector=dict(mode="markers"))
    fig.update_layout(template="plotly_white", height=560, legend=dict(orientation="h", y=-0.18))
    return fig
