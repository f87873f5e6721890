"""Literature explorer: the seed papers by family, task, year and coverage, linked to the notebooks.

A paper is *tested* by a notebook that lists it among its papers and *covered* by every notebook
whose technique families intersect the paper's (the report's coverage rule,
:mod:`workbench.report.coverage`). The technique registry lives in the report layer, above
this one, so the caller passes the techniques (``wb.explore.literature(wb.list_techniques())``
or any objects with ``slug``, ``families`` and ``papers``).
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go

from ..literature import load_catalogue, normalize_title
from ._display import choices_error, is_static, new_figure, show, static_copy

ALL = "all"
COVERAGE = (ALL, "covered", "uncovered")
MAX_ROWS = 60  # table rows shown (the count of all matches is printed above)


def _techniques(techniques) -> list:
    if techniques is None:
        return []
    if isinstance(techniques, dict):
        return list(techniques.values())
    items = list(techniques)
    if hasattr(techniques, "get") and all(isinstance(s, str) for s in items):  # a Registry of slugs
        return [techniques.get(s) for s in items]
    return items


def papers_table(techniques: Iterable | None = None, records: list[dict] | None = None) -> pd.DataFrame:
    """One row per on-topic seed paper with the notebooks that test and cover it.

    Args:
        techniques: technique objects (``slug``, ``families``, ``papers``); ``None``: no
            coverage (every paper uncovered).
        records: catalogue records (default :func:`workbench.literature.load_catalogue`).

    Returns:
        Columns ``id, title, year, families, task, relevance, tested_by, covered_by, notebook``
        (``notebook``: the slug to link, the testing one first; ``""`` when none).
    """
    techs = _techniques(techniques)
    records = load_catalogue() if records is None else records
    by_title = {}
    for t in techs:
        for p in getattr(t, "papers", ()):
            by_title.setdefault(normalize_title(p), []).append(t.slug)
    rows = []
    for r in records:
        if r["relevance"] == "off_topic":
            continue
        fams = set(r["families"])
        tested = sorted(set(by_title.get(normalize_title(r["title"]), [])))
        covered = sorted(t.slug for t in techs if fams & set(t.families))
        rows.append({"id": r["id"], "title": r["title"], "year": r.get("year"), "families": list(r["families"]),
                     "task": r.get("task") or "", "relevance": r["relevance"], "tested_by": tested,
                     "covered_by": covered, "notebook": (tested or covered or [""])[0]})  # fmt: skip
    return pd.DataFrame(rows)


class LiteratureExplorer:
    """Filters over :func:`papers_table`, a per-family bar chart and a linked table.

    Args:
        table: rows from :func:`papers_table`.
        link: URL pattern of a notebook, formatted with ``slug`` (``"{slug}.ipynb"`` from a
            notebook in ``notebooks/``; ``"{slug}.html"`` inside a report).
        live: build widgets and a ``FigureWidget``.
    """

    def __init__(self, table: pd.DataFrame, *, link: str = "{slug}.ipynb", live: bool = False) -> None:
        self.table, self.link = table.reset_index(drop=True), link
        self.families = sorted({f for fs in self.table.families for f in fs})
        self.tasks = sorted(t for t in self.table.task.unique() if t)
        years = [int(y) for y in self.table.year.dropna()]
        self.year_range = (min(years), max(years)) if years else (2015, 2025)
        self.filters = {"family": ALL, "task": ALL, "coverage": ALL, "years": self.year_range, "undated": True}
        self.figure = new_figure(live)
        self._draw()
        self.widget = self._widgets() if live else None

    def rows(self) -> pd.DataFrame:
        """Papers passing the filters."""
        t, f = self.table, self.filters
        keep = pd.Series(True, index=t.index)
        if f["family"] != ALL:
            keep &= t.families.map(lambda fs: f["family"] in fs).astype(bool)
        if f["task"] != ALL:
            keep &= t.task == f["task"]
        if f["coverage"] != ALL:
            covered = t.covered_by.map(bool).astype(bool)
            keep &= covered if f["coverage"] == "covered" else ~covered
        year = pd.to_numeric(t.year, errors="coerce")
        lo, hi = f["years"]
        keep &= year.between(lo, hi) | (year.isna() & f["undated"])
        return t[keep]

    def update(self, **filters) -> pd.DataFrame:
        """Set filters (``family``, ``task``, ``coverage``, ``years=(lo, hi)``, ``undated``); redraw.

        Raises:
            ValueError: an unknown filter or value.
        """
        valid = {"family": [ALL, *self.families], "task": [ALL, *self.tasks], "coverage": list(COVERAGE)}
        for k, v in filters.items():
            if k not in self.filters:
                raise choices_error("filter", k, self.filters)
            if k in valid and v not in valid[k]:
                raise choices_error(k, v, valid[k])
        self.filters.update(filters)
        self._draw()
        if self.widget is not None:
            self._table.value = self.table_html()
        return self.rows()

    def _counts(self) -> tuple[list[str], list[int], list[int]]:
        rows = self.rows()
        fams = self.families if self.filters["family"] == ALL else [self.filters["family"]]
        cov, unc = [], []
        for fam in fams:
            r = rows[rows.families.map(lambda fs, fam=fam: fam in fs).astype(bool)]
            n_cov = int(r.covered_by.map(bool).astype(bool).sum())
            cov.append(n_cov)
            unc.append(len(r) - n_cov)
        return fams, cov, unc

    def _draw(self) -> None:
        fams, cov, unc = self._counts()
        title = f"{len(self.rows())} papers"
        if not self.figure.data:
            self.figure.add_bar(x=fams, y=cov, name="covered by a notebook", marker_color="#059669")
            self.figure.add_bar(x=fams, y=unc, name="uncovered", marker_color="#d1d5db")
            self.figure.update_layout(barmode="stack", title=title, yaxis_title="papers", height=380,
                                      margin={"l": 50, "r": 20, "t": 50, "b": 110})  # fmt: skip
            return
        with self.figure.batch_update():
            self.figure.data[0].x, self.figure.data[0].y = fams, cov
            self.figure.data[1].x, self.figure.data[1].y = fams, unc
            self.figure.layout.title.text = title

    def table_html(self) -> str:
        """The filtered papers (at most :data:`MAX_ROWS`) as HTML, notebooks linked."""
        rows = self.rows()
        out = [f"<p>{len(rows)} papers match{f'; the first {MAX_ROWS} shown' if len(rows) > MAX_ROWS else ''}.</p>",
               "<table class='wb-papers'><tr><th>title</th><th>year</th><th>families</th><th>task</th><th>notebook</th></tr>"]  # fmt: skip
        for r in rows.head(MAX_ROWS).itertuples():
            nb = (f"<a href='{html.escape(self.link.format(slug=r.notebook))}' target='_blank'>{html.escape(r.notebook)}</a>"
                  + (" (tests it)" if r.tested_by else "")) if r.notebook else "-"  # fmt: skip
            year = "" if pd.isna(r.year) else int(r.year)
            out.append(f"<tr><td>{html.escape(r.title)}</td><td>{year}</td><td>{html.escape(', '.join(r.families))}</td>"
                       f"<td>{html.escape(r.task)}</td><td>{nb}</td></tr>")  # fmt: skip
        return "\n".join([*out, "</table>"])

    def static_figure(self) -> go.Figure:
        """The current bar chart as a plain ``go.Figure``."""
        return static_copy(self.figure)

    def _widgets(self):
        import ipywidgets as w

        def control(widget, key, cls):
            widget.add_class(cls)
            widget.observe(lambda ch: self.update(**{key: tuple(ch["new"]) if key == "years" else ch["new"]}), names="value")
            return widget

        lo, hi = self.year_range
        controls = w.HBox([
            control(w.Dropdown(options=[ALL, *self.families], description="family"), "family", "wb-lit-family"),
            control(w.Dropdown(options=[ALL, *self.tasks], description="task"), "task", "wb-lit-task"),
            control(w.Dropdown(options=list(COVERAGE), description="coverage"), "coverage", "wb-lit-coverage"),
        ])  # fmt: skip
        years = w.HBox([
            control(w.IntRangeSlider(value=[lo, hi], min=lo, max=hi, description="years"), "years", "wb-lit-years"),
            control(w.Checkbox(value=True, description="include undated"), "undated", "wb-lit-undated"),
        ])  # fmt: skip
        self._table = w.HTML(self.table_html())
        return [controls, years, self.figure, self._table]

    def _ipython_display_(self) -> None:
        show(self.widget, self.figure)


def literature(techniques: Iterable | None = None, *, link: str = "{slug}.ipynb", static: bool | None = None,
               **filters):  # fmt: skip
    """Literature explorer over the seed papers (see :class:`LiteratureExplorer`).

    Args:
        techniques: the technique registry's entries (``wb.list_techniques()``) for coverage.
        link: notebook URL pattern.
        static: ``None`` detects the front end.
        **filters: starting filters (``family="quantization"``; see :meth:`LiteratureExplorer.update`).

    Returns:
        a live :class:`LiteratureExplorer`, or its static bar chart without a front end.
    """
    live = not is_static(static)
    ex = LiteratureExplorer(papers_table(techniques), link=link, live=live)
    if filters:
        ex.update(**filters)
        if live:  # the dropdowns show the starting filters
            for part in ex.widget[:2]:
                for control in part.children:
                    key = control.description if control.description in filters else None
                    if key is not None and key != "years":
                        control.value = filters[key]
    return ex if live else ex.static_figure()
