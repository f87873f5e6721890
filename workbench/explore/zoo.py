"""Zoo explorer: the Pareto plot of the zoo or of a report's leaderboard, filtered and clickable.

Two sources of rows (:func:`zoo_table`): the ``models`` tables a ``workbench report`` run wrote
(``<report>/records/<slug>/models.csv``, the leaderboard's rows: accuracy and latency where the
notebooks measured them), or a counting table of registry models
(:func:`workbench.measure.count_zoo`: params and MACs at each model's default input size, from
the counting cache). Rows of registry models carry the model's family tags and task.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from ..models import MODELS, model_entry
from ..plots.pareto import pareto_front
from ._display import choices_error, is_static, new_figure, show, static_copy

# column -> axis label; an axis is offered only when the table has numbers in that column
AXES: dict[str, str] = {
    "macs": "MACs", "params": "params", "latency_ms": "latency (ms)", "latency_ratio": "latency ratio",
    "activation_mb": "activation memory (MB)", "accuracy": "accuracy (%)",
}  # fmt: skip
ALL = "all"
_PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d",
            "#475569", "#b45309", "#0f766e", "#9333ea")  # fmt: skip


def _registry_columns(names: pd.Series) -> pd.DataFrame:
    """Family tags (``"a,b"``), primary family and task of each name (empty if not registered)."""
    rows = []
    for n in names:
        if n in MODELS:
            e = model_entry(n)
            rows.append({"tags": ",".join(e.tags), "family": e.tags[0] if e.tags else "other", "task": e.task})
        else:
            rows.append({"tags": "", "family": "other", "task": ""})
    return pd.DataFrame(rows, index=names.index)


def zoo_table(report: str | Path | None = None, names: Sequence[str] | None = None, *,
              memory: bool = False) -> pd.DataFrame:  # fmt: skip
    """The rows the zoo explorer plots.

    Args:
        report: a report folder (``reports/default``); its notebooks' ``models`` tables are
            read (column ``source`` names the notebook). ``None``: count registry models.
        names: registry names to count when ``report`` is ``None`` (default every model; a cold
            counting cache then takes minutes).
        memory: also measure peak activation memory (``activation_mb``; one forward per model).

    Returns:
        One row per model (per notebook row for a report): ``name``, the numeric columns of
        :data:`AXES` that exist, ``tags``, ``family``, ``task``, ``source``.

    Raises:
        ValueError: ``report`` has no ``records/*/models.csv``.
    """
    if report is not None:
        files = sorted(Path(report).glob("records/*/models.csv"))
        if not files:
            raise ValueError(f"no records/*/models.csv under {report}: run `workbench report` first")
        df = pd.concat([pd.read_csv(f).assign(source=f.parent.name) for f in files], ignore_index=True)
    else:
        from ..measure import count_zoo

        df = count_zoo(names)[["name", "task", "params", "macs"]].assign(source="zoo count")
        df = df.drop(columns="task")
        if memory:
            from ..measure import measure_memory
            from ..models import create_model

            df["activation_mb"] = [measure_memory(create_model(n)).peak_activation_bytes / 2**20 for n in df.name]
    df = pd.concat([df.reset_index(drop=True), _registry_columns(df["name"].reset_index(drop=True))], axis=1)
    for col in AXES:
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


class ZooExplorer:
    """Scatter of ``table`` with family/task filters, axis choices and a click-for-profile table.

    Args:
        table: rows from :func:`zoo_table`.
        x, y: starting axes (columns of :data:`AXES` present in ``table``).
        live: build widgets and a ``FigureWidget``.

    Raises:
        ValueError: an axis the table has no numbers for.
    """

    def __init__(self, table: pd.DataFrame, *, x: str = "macs", y: str | None = None, live: bool = False) -> None:
        self.table = table.reset_index(drop=True)
        self.axes = [c for c in AXES if c in self.table and self.table[c].notna().any()]
        if y is None:
            y = "accuracy" if "accuracy" in self.axes else next(a for a in self.axes if a != x)
        for axis in (x, y):
            if axis not in self.axes:
                raise choices_error("axis", axis, self.axes)
        self.x, self.y, self.family, self.task = x, y, ALL, ALL
        self.families = sorted(self.table.family.unique())
        self.tags = sorted({t for ts in self.table.tags for t in ts.split(",") if t})
        self.tasks = sorted(t for t in self.table.task.unique() if t)
        self.selected: str | None = None
        self.figure = new_figure(live)
        self._draw()
        self.widget = self._widgets() if live else None

    def rows(self) -> pd.DataFrame:
        """The rows passing the filters with numbers on both axes."""
        t = self.table
        keep = t[self.x].notna() & t[self.y].notna()
        if self.family != ALL:
            keep &= t.tags.map(lambda ts: self.family in ts.split(",")).astype(bool)
        if self.task != ALL:
            keep &= t.task == self.task
        return t[keep]

    def _draw(self) -> None:
        rows = self.rows()
        traces = []
        for i, fam in enumerate(self.families):
            r = rows[rows.family == fam]
            traces.append({"x": list(r[self.x]), "y": list(r[self.y]), "customdata": list(r.index),
                           "text": list(r.name), "name": fam, "marker_color": _PALETTE[i % len(_PALETTE)]})  # fmt: skip
        front = []
        if self.y == "accuracy" and len(rows):
            idx = pareto_front(list(rows[self.x]), list(rows[self.y]))
            front = rows.iloc[idx].sort_values(self.x)
        fx, fy = (list(front[self.x]), list(front[self.y])) if len(front) else ([], [])
        title = f"{len(rows)} models: {AXES[self.y]} vs {AXES[self.x]}"
        if not self.figure.data:
            for t in traces:
                self.figure.add_scatter(mode="markers", marker_size=9, hovertemplate="%{text}<br>x=%{x:.3g}<br>y=%{y:.3g}<extra></extra>", **t)  # fmt: skip
            self.figure.add_scatter(x=fx, y=fy, mode="lines", name="Pareto front", line={"dash": "dot", "color": "#111"})
            self.figure.update_layout(title=title, xaxis_title=AXES[self.x], yaxis_title=AXES[self.y], xaxis_type="log",
                                      height=460, margin={"l": 60, "r": 20, "t": 50, "b": 50})  # fmt: skip
            return
        with self.figure.batch_update():
            for trace, t in zip(self.figure.data, traces, strict=False):
                trace.x, trace.y, trace.customdata, trace.text = t["x"], t["y"], t["customdata"], t["text"]
            self.figure.data[-1].x, self.figure.data[-1].y = fx, fy
            self.figure.layout.title.text = title
            self.figure.layout.xaxis.title.text, self.figure.layout.yaxis.title.text = AXES[self.x], AXES[self.y]
            self.figure.layout.xaxis.type = "log" if self.x in ("macs", "params", "latency_ms", "activation_mb") else "linear"

    def update(self, *, x: str | None = None, y: str | None = None, family: str | None = None,
               task: str | None = None) -> pd.DataFrame:  # fmt: skip
        """Change axes or filters and redraw in place; returns :meth:`rows`.

        Raises:
            ValueError: an unknown axis, family tag or task.
        """
        for value, valid, what in ((x, self.axes, "axis"), (y, self.axes, "axis"),
                                   (family, [ALL, *self.tags], "family tag"), (task, [ALL, *self.tasks], "task")):  # fmt: skip
            if value is not None and value not in valid:
                raise choices_error(what, value, valid)
        self.x, self.y = x or self.x, y or self.y
        self.family, self.task = family or self.family, task or self.task
        self._draw()
        return self.rows()

    def profile(self, name: str) -> pd.DataFrame:
        """The profile table of ``name``: every column of its row(s), plus the model's paper."""
        rows = self.table[self.table.name == name]
        if rows.empty:
            raise choices_error("model", name, sorted(self.table.name))
        prof = rows.T.rename_axis("field")
        prof.columns = [f"{name} ({s})" for s in rows.source] if len(rows) > 1 else [name]
        if name in MODELS:
            prof.loc["paper"] = model_entry(name).paper or ""
            prof.loc["default input"] = "x".join(map(str, model_entry(name).default_input_size))
        return prof

    def select(self, name: str) -> pd.DataFrame:
        """Show ``name``'s profile table (what a click on its point does); returns it."""
        prof = self.profile(name)
        self.selected = name
        if self.widget is not None:
            self._profile.value = prof.to_html(na_rep="-", float_format=lambda v: f"{v:.4g}")
        return prof

    def static_figure(self) -> go.Figure:
        """The current plot as a plain ``go.Figure``."""
        return static_copy(self.figure)

    def _widgets(self):
        import ipywidgets as w

        def dropdown(options, value, label, cls, key):
            d = w.Dropdown(options=options, value=value, description=label, layout=w.Layout(width="260px"))
            d.add_class(cls)
            d.observe(lambda ch: self.update(**{key: ch["new"]}), names="value")
            return d

        opts = [(AXES[a], a) for a in self.axes]
        controls = w.HBox([
            dropdown(opts, self.x, "x", "wb-zoo-x", "x"), dropdown(opts, self.y, "y", "wb-zoo-y", "y"),
            dropdown([ALL, *self.tags], ALL, "family", "wb-zoo-family", "family"),
            dropdown([ALL, *self.tasks], ALL, "task", "wb-zoo-task", "task"),
        ])  # fmt: skip
        self._profile = w.HTML("<i>click a point for its profile</i>")
        self._profile.add_class("wb-profile")
        for trace in self.figure.data[:-1]:
            trace.on_click(lambda tr, pts, _sel: pts.point_inds and self.select(self.table.name[tr.customdata[pts.point_inds[0]]]))
        return [controls, self.figure, self._profile]

    def _ipython_display_(self) -> None:
        show(self.widget, self.figure)


def zoo(report: str | Path | None = None, names: Sequence[str] | None = None, *, x: str = "macs",
        y: str | None = None, memory: bool = False, static: bool | None = None, family: str = ALL,
        task: str = ALL):  # fmt: skip
    """Zoo explorer (arguments of :func:`zoo_table` and :class:`ZooExplorer`; ``family`` and
    ``task`` are the starting filters).

    Returns:
        a live :class:`ZooExplorer`, or its static ``go.Figure`` without a front end.
    """
    live = not is_static(static)
    ex = ZooExplorer(zoo_table(report, names, memory=memory), x=x, y=y, live=live)
    if (family, task) != (ALL, ALL):
        ex.update(family=family, task=task)
    return ex if live else ex.static_figure()
