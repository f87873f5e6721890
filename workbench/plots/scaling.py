"""Figures for scaling studies: a cost against a size, one line per mixer or model, log-log."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

__all__ = ["scaling_lines"]


def scaling_lines(
    df: pd.DataFrame,
    x: str,
    y: str,
    color: str,
    *,
    exponents: pd.Series | None = None,
    log_y: bool = True,
    title: str | None = None,
    note: str | None = None,
    labels: dict | None = None,
) -> go.Figure:
    """``y`` against ``x`` per ``color`` group on log axes; slopes there are exponents.

    Args:
        df: long table (one row per group and size).
        x, y, color: columns.
        exponents: group -> fitted exponent, appended to the legend names (``k = 1.98``).
        log_y: logarithmic y axis (off for ratios near 1).
        title: figure title; note: a caption under the plot (e.g. what was skipped and why).
        labels: axis labels by column name.
    """
    d = df.dropna(subset=[y]).sort_values([color, x])
    fig = px.line(d, x=x, y=y, color=color, markers=True, log_x=True, log_y=log_y, title=title, labels=labels or {})
    if exponents is not None:
        for tr in fig.data:
            k = exponents.get(tr.name)
            if k is not None and k == k:  # NaN: too few points to fit
                tr.name = f"{tr.name} (k = {k:.2f})"
    if note:
        fig.add_annotation(text=note, xref="paper", yref="paper", x=0, y=-0.28, showarrow=False, align="left", font_size=11)
    fig.update_layout(template="plotly_white", height=520, legend=dict(orientation="h", y=-0.38), margin=dict(b=150))
    return fig
