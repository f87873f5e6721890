"""Literature figures: papers per family and task, stated accuracy vs compute, claim kinds.

Each function takes the catalogue records (dicts from
:func:`workbench.literature.load_catalogue`) and returns a ``plotly.graph_objects.Figure``;
the literature page of the report (:mod:`workbench.report.literature_page`) shows them.
"""

from __future__ import annotations

import re
from collections import Counter

import plotly.graph_objects as go

from ..literature.families import FAMILIES

__all__ = ["family_figure", "task_figure", "claims_figure", "claim_kinds_figure"]

_ABSOLUTE_ACC = ("top-1", "top1", "accuracy")


def _bar(labels: list[str], values: list[int], title: str, hover: list[str] | None = None) -> go.Figure:
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h", hovertext=hover, marker_color="#4c78a8"))
    fig.update_layout(title=title, height=max(300, 24 * len(labels) + 100), margin=dict(l=10, r=10, t=40, b=30),
                      yaxis=dict(autorange="reversed"), xaxis_title="papers")
    return fig


def family_figure(records: list[dict]) -> go.Figure:
    """Horizontal bar chart: on-topic papers per technique family (a paper counts once per family)."""
    counts = Counter(f for r in records for f in r["families"])
    return _bar([f.title for f in FAMILIES], [counts[f.slug] for f in FAMILIES], "Papers per technique family",
                [f.description for f in FAMILIES])


def task_figure(records: list[dict]) -> go.Figure:
    """Bar chart: papers per primary task, stacked by relevance."""
    tasks = [t for t, _ in Counter(r["task"] for r in records).most_common()]
    fig = go.Figure()
    for rel, color in (("core", "#4c78a8"), ("peripheral", "#72b7b2"), ("off_topic", "#bab0ac")):
        c = Counter(r["task"] for r in records if r["relevance"] == rel)
        fig.add_bar(x=[c[t] for t in tasks], y=tasks, orientation="h", name=rel, marker_color=color)
    fig.update_layout(title="Papers per primary task", barmode="stack", height=24 * len(tasks) + 140,
                      margin=dict(l=10, r=10, t=40, b=30), yaxis=dict(autorange="reversed"), xaxis_title="papers")
    return fig


def claims_figure(records: list[dict]) -> go.Figure:
    """Scatter of stated accuracy vs stated compute, one point per (accuracy, compute) pair.

    A pair is an absolute accuracy claim (top-1 / accuracy %, or mAP; gains excluded) whose
    sentence fragment also names a MAC/FLOP claim of the same paper ("74.1% top-1 accuracy
    with 295M FLOPs"); x is the compute as stated, in millions (FLOPs are not converted to
    MACs: the abstracts do not say which convention they use).
    """
    pts: dict[str, list] = {"top-1 / accuracy (%)": [], "mAP / AP": []}
    for r in records:
        comps = [c for c in r["claims"] if c["kind"] == "compute"]
        for acc in (c for c in r["claims"] if c["kind"] == "accuracy" and c["unit"] == "%"):
            comp = next((c for c in comps if re.search(rf"(?<![\d.]){c['value']:g}(?!\d|\.\d)", acc["text"])), None)
            if comp is None or "(gain)" in acc["metric"]:
                continue
            key = "mAP / AP" if acc["metric"] in ("mAP", "AP", "box AP", "mask AP") else "top-1 / accuracy (%)"
            if key == "top-1 / accuracy (%)" and acc["metric"].lower() not in _ABSOLUTE_ACC:
                continue
            pts[key].append((comp["norm"], acc["value"], r["title"], f"{comp['value']:g}{comp['unit']} {comp['metric']}"))
    fig = go.Figure()
    for (name, p), sym in zip(pts.items(), ("circle", "diamond"), strict=True):
        fig.add_scatter(x=[q[0] for q in p], y=[q[1] for q in p], mode="markers", name=f"{name} ({len(p)})",
                        marker=dict(size=9, symbol=sym), text=[f"{q[2]}<br>{q[3]}" for q in p],
                        hovertemplate="%{text}<br>accuracy %{y}<extra></extra>")
    fig.update_layout(title="Stated accuracy vs stated compute (abstract claims)", xaxis_type="log",
                      xaxis_title="MACs / FLOPs as stated (millions, log)", yaxis_title="accuracy (%)",
                      height=450, margin=dict(l=10, r=10, t=40, b=40))
    return fig


def claim_kinds_figure(records: list[dict]) -> go.Figure:
    """Bar chart: how many papers state each kind of number in their abstract."""
    c = Counter(k for r in records for k in {c["kind"] for c in r["claims"]})
    kinds = [k for k, _ in c.most_common()]
    return _bar(kinds, [c[k] for k in kinds], "Papers stating each kind of number")
