"""Literature figures: papers per family and task, stated accuracy vs compute, claim kinds.

Each function takes the catalogue records (dicts from
:func:`workbench.literature.load_catalogue`) and returns a ``plotly.graph_objects.Figure``;
the literature page of the report (:mod:`workbench.report.literature_page`) shows them.
"""

from __future__ import annotations

from collections import Counter

import plotly.graph_objects as go

from ..literature.families import FAMILIES

__all__ = ["family_figure", "task_figure", "claims_figure", "accuracy_compute_pairs", "claim_kinds_figure"]

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


def _is_absolute_accuracy(c: dict) -> bool:
    return c["kind"] == "accuracy" and c["unit"] == "%" and "(gain)" not in c["metric"] and not c["metric"].startswith("error")


def accuracy_compute_pairs(records: list[dict]) -> list[dict]:
    """(accuracy, compute) pairs a reader can trust, one per qualifying sentence.

    A sentence qualifies when it holds exactly one absolute accuracy claim (a percentage, not
    a gain or an error rate) and exactly one compute claim, and that compute claim is a value,
    not a bound or range end ("< 1 GFLOP", "up to", "1-2 GFLOPs"). Lists ("25.2, 31.3 and 41
    mAP for 0.66, 1.47 and 8.4 GFLOPs") never qualify: which number goes with which is a guess.

    Returns:
        Dicts with ``id``, ``title``, ``task``, ``accuracy`` (%), ``metric``, ``macs`` (millions
        or None), ``stated`` (compute as stated, millions), ``compute_text`` ("295M FLOPs").
    """
    out = []
    for r in records:
        by_sentence: dict[int, list[dict]] = {}
        for c in r["claims"]:
            by_sentence.setdefault(c.get("sentence", 0), []).append(c)
        for _, cs in sorted(by_sentence.items()):
            accs = [c for c in cs if _is_absolute_accuracy(c)]
            comps = [c for c in cs if c["kind"] == "compute"]
            if len(accs) != 1 or len(comps) != 1 or comps[0].get("bound", ""):
                continue
            acc, comp = accs[0], comps[0]
            out.append({"id": r["id"], "title": r["title"], "task": r.get("task", ""), "accuracy": acc["value"],
                        "metric": acc["metric"], "macs": comp.get("macs"), "stated": comp["norm"],
                        "compute_text": f"{comp['value']:g}{comp['unit']} {comp['metric']}"})
    return out


def claims_figure(records: list[dict]) -> go.Figure:
    """Scatter of stated accuracy vs stated compute, one point per qualifying sentence.

    Pairs come from :func:`accuracy_compute_pairs` (one sentence, one accuracy, one non-bound
    compute claim). Colour = the paper's task. x is multiply-adds in millions where the
    convention is known (the paper says MACs / MAdds, or its FLOPs convention is recorded in
    ``flops_convention.csv``); other points form separate "FLOPs as stated" traces (open
    markers), since their x may be twice too large.
    """
    pairs = accuracy_compute_pairs(records)
    tasks = sorted({p["task"] for p in pairs})
    palette = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d")
    fig = go.Figure()
    for i, task in enumerate(tasks):
        for known in (True, False):
            p = [q for q in pairs if q["task"] == task and (q["macs"] is not None) == known]
            if not p:
                continue
            x = [q["macs"] if known else q["stated"] for q in p]
            fig.add_scatter(
                x=x, y=[q["accuracy"] for q in p], mode="markers",
                name=f"{task}: {'MACs' if known else 'FLOPs as stated'} ({len(p)})",
                marker=dict(size=10, color=palette[i % len(palette)], symbol="circle" if known else "circle-open",
                            line=dict(width=2, color=palette[i % len(palette)])),
                text=[f"{q['title']}<br>{q['compute_text']} ({q['metric']})" for q in p],
                hovertemplate="%{text}<br>x %{x:g} M<br>accuracy %{y}%<extra></extra>")
    fig.update_layout(title=f"Stated accuracy vs compute, {len(pairs)} one-sentence pairs (abstract claims)",
                      xaxis_type="log", xaxis_title="multiply-adds (millions, log); open markers: FLOPs as stated",
                      yaxis_title="accuracy / mAP (%)", height=450, margin=dict(l=10, r=10, t=40, b=40))
    return fig


def claim_kinds_figure(records: list[dict]) -> go.Figure:
    """Bar chart: how many papers state each kind of number in their abstract."""
    c = Counter(k for r in records for k in {c["kind"] for c in r["claims"]})
    kinds = [k for k, _ in c.most_common()]
    return _bar(kinds, [c[k] for k in kinds], "Papers stating each kind of number")
