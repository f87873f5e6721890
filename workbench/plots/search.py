"""Figures of architecture search: best-so-far curves and rank agreement."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

__all__ = ["rank_scatter", "search_progress"]


def search_progress(histories: dict[str, pd.DataFrame], *, budget_note: str | None = None,
                    scale: float = 100.0, title: str | None = None) -> go.Figure:  # fmt: skip
    """Best score so far against the number of scored candidates, one line per search.

    Args:
        histories: search name -> ``SearchResult.history`` (``step``, ``score``, ``best_so_far``).
        budget_note: a subtitle (e.g. the latency budget).
        scale: multiplies scores (100: fractions shown as %).
        title: figure title.

    Raises:
        ValueError: no histories, or one lacks ``step``/``score``/``best_so_far``.
    """
    if not histories:
        raise ValueError("search_progress needs at least one search history")
    fig = go.Figure()
    for name, h in histories.items():
        missing = sorted({"step", "score", "best_so_far"} - set(h.columns))
        if missing:
            raise ValueError(f"history {name!r} lacks columns {missing}")
        n = h.step + 1
        line = fig.add_trace(go.Scatter(x=n, y=h.best_so_far * scale, mode="lines", name=f"{name}: best so far"))
        color = line.data[-1].line.color
        fig.add_trace(go.Scatter(x=n, y=h.score * scale, mode="markers", opacity=0.35, name=f"{name}: each candidate",
                                 marker=dict(size=5, color=color)))  # fmt: skip
    sub = f"<br><sup>{budget_note}</sup>" if budget_note else ""
    fig.update_layout(template="plotly_white", height=460, title=(title or "Search progress") + sub,
                      xaxis_title="candidates scored", yaxis_title="score" + (" (%)" if scale == 100 else ""),
                      legend=dict(orientation="h", y=-0.2))  # fmt: skip
    return fig


def rank_scatter(df: pd.DataFrame, x: str, y: str, *, color: str | None = None, text: str | None = None,
                 title: str | None = None, labels: dict | None = None) -> go.Figure:  # fmt: skip
    """Two scorings of the same candidates against each other, with rank numbers in the hover.

    Points on a rising line rank alike (Kendall tau 1); a cloud means the first scoring cannot
    choose for the second.

    Raises:
        ValueError: a named column is missing.
    """
    missing = sorted({c for c in (x, y, color, text) if c} - set(df.columns))
    if missing:
        raise ValueError(f"df lacks columns {missing}; has {list(df.columns)}")
    d = df.assign(**{f"rank by {x}": df[x].rank(ascending=False).astype(int), f"rank by {y}": df[y].rank(ascending=False).astype(int)})
    fig = px.scatter(d, x=x, y=y, color=color, text=text, hover_data=[f"rank by {x}", f"rank by {y}"], title=title, labels=labels)
    fig.update_traces(marker_size=10, textposition="top center", textfont_size=9)
    fig.update_layout(template="plotly_white", height=480, legend=dict(orientation="h", y=-0.2))
    return fig
