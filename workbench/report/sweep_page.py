"""The sweep page ``sweep.html``: the points table and the recorded numbers across the grid.

One plot per numeric column of the points table (each ``key_numbers`` entry, and the run time)
against the first swept parameter, one line per combination of the other swept parameters;
and, when the points record ``models``, one plot per model metric (accuracy, latency) with one
line per model. Offline like every report page: plotly.js from ``assets/``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from .assets import PLOTLY_JS_SRC
from .notebook_html import plotly_div

TEMPLATES_DIR = Path(__file__).parent / "templates"
#: the fixed columns of the points table (everything after them is a recorded number)
FIXED = ("point", "status", "seconds", "error", "verdict")
MODEL_METRICS = ("accuracy", "latency_ratio", "latency_ms")


def _numeric(series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _lines(df, x: str, y: str, groups: list[str], label: str = "") -> dict:
    """Plotly JSON: ``y`` against ``x``, one line per value combination of ``groups``."""
    import plotly.graph_objects as go

    fig = go.Figure()
    keys = [()] if not groups else list(dict.fromkeys(itertools.product(*(df[g] for g in groups))))
    for key in keys:
        sub = df
        for g, v in zip(groups, key, strict=True):
            sub = sub[sub[g] == v]
        sub = sub.dropna(subset=[y])
        if sub.empty:
            continue
        name = ", ".join(f"{g}={v}" for g, v in zip(groups, key, strict=True)) or y
        fig.add_trace(go.Scatter(x=sub[x], y=sub[y], mode="lines+markers", name=label + name))
    fig.update_layout(
        title=f"{y} vs {x}", xaxis_title=x, yaxis_title=y, height=340,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )  # fmt: skip
    return fig.to_plotly_json()


def figures(meta: dict[str, Any], table, models) -> list[dict]:
    """The page's plotly figures (JSON), in page order."""
    swept = list(meta["grid"])
    x, groups = swept[0], swept[1:]
    ok = table[table["status"] == "ok"]
    figs = [
        _lines(ok, x, c, groups)
        for c in table.columns
        if c not in FIXED and c not in swept and _numeric(table[c])
    ]
    figs.append(_lines(table, x, "seconds", groups))
    if models is not None and "name" in models:
        for metric in MODEL_METRICS:
            if metric in models and _numeric(models[metric]):
                figs.append(_lines(models, x, metric, ["name", *groups]))
    return figs


def write_sweep_page(path: Path, meta: dict[str, Any], table, models) -> Path:
    """Render ``sweep.html`` at ``path`` from the sweep's metadata and gathered tables."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
        trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    html = env.get_template("sweep.html.j2").render(
        meta=meta,
        columns=list(table.columns),
        rows=rows,
        plots=[plotly_div(f) for f in figures(meta, table, models)],
        has_models=models is not None,
        css=(TEMPLATES_DIR / "report.css").read_text(),
        plotly_js_src=PLOTLY_JS_SRC,
    )
    path.write_text(html)
    return path
