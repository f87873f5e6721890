"""The standalone literature page: charts, coverage, and a searchable / sortable paper table.

The page works offline from ``file://``: plotly.js is referenced by a relative ``src`` the
caller chooses (the report pipeline shares one copy), and the table's search/sort is a few
lines of inline vanilla JS. Coverage is recomputed from the technique registry at build time.
"""

from __future__ import annotations

import html
import re
import shutil
from collections import Counter
from pathlib import Path

import plotly
import plotly.graph_objects as go

from .catalogue import CATALOGUE_PATH, load_catalogue
from .coverage import compute_coverage, coverage_by_family
from .families import FAMILIES

_ABSOLUTE_ACC = ("top-1", "top1", "accuracy")
_SCRIPT = """
function wbFilter(q){q=q.toLowerCase();for(const tr of document.querySelectorAll('#papers tbody tr')){
 tr.style.display=tr.textContent.toLowerCase().includes(q)?'':'none';}
 document.getElementById('shown').textContent=[...document.querySelectorAll('#papers tbody tr')]
 .filter(r=>r.style.display!=='none').length;}
function wbSort(col){const tb=document.querySelector('#papers tbody');const th=document.querySelectorAll('#papers th')[col];
 const asc=th.dataset.dir!=='asc';document.querySelectorAll('#papers th').forEach(h=>delete h.dataset.dir);th.dataset.dir=asc?'asc':'desc';
 const rows=[...tb.rows];rows.sort((a,b)=>{const x=a.cells[col].dataset.key??a.cells[col].textContent,
 y=b.cells[col].dataset.key??b.cells[col].textContent;const nx=parseFloat(x),ny=parseFloat(y);
 const c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});rows.forEach(r=>tb.appendChild(r));}
"""
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1400px;color:#222}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #ddd;padding:4px 6px;vertical-align:top}
th{background:#f3f3f3;cursor:pointer;position:sticky;top:0}th[data-dir=asc]::after{content:' \\25B2'}
th[data-dir=desc]::after{content:' \\25BC'}.fig{display:inline-block;width:49%;min-width:600px;vertical-align:top}
.num{font-size:1.6em;font-weight:600}.cards div{display:inline-block;margin-right:2.5em}
input{font-size:15px;padding:4px;width:360px}.small{color:#666;font-size:12px}
"""


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


def _claims_text(claims: list[dict]) -> str:
    return "; ".join(f"{c['metric']} {c['value']:g}{c['unit']}" for c in claims[:6]) + (" ..." if len(claims) > 6 else "")


def _table(records: list[dict], covering: dict[str, list[str]]) -> str:
    rows = []
    rank = {"core": 0, "peripheral": 1, "off_topic": 2}
    for r in sorted(records, key=lambda r: (rank[r["relevance"]], r["title"].lower())):
        cov = covering.get(r["id"])
        cov_txt = ", ".join(cov) if cov else ("uncovered" if cov is not None else "")
        cells = [
            f"<td><b>{html.escape(r['title'])}</b><div class=small>{html.escape(r['abstract'][:240])}...</div></td>",
            f"<td>{html.escape(', '.join(r['families']))}</td>",
            f"<td>{r['task']}</td>",
            f"<td data-key={rank[r['relevance']]}>{r['relevance']}</td>",
            f"<td data-key={len(r['claims'])}>{html.escape(_claims_text(r['claims']))}</td>",
            f"<td>{html.escape(cov_txt)}</td>",
            f"<td>{html.escape(r['date'] or r['date_text'] or '')}</td>",
        ]
        rows.append(f"<tr id='{r['id']}'>{''.join(cells)}</tr>")
    head = "".join(f"<th onclick='wbSort({i})'>{h}</th>" for i, h in enumerate(
        ("title", "families", "task", "relevance", "claims (abstract)", "covering notebook", "date")))
    return f"<table id=papers><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_literature_page(records: list[dict], plotly_js_src: str) -> str:
    """The page as an HTML string (see :func:`build_literature_page`)."""
    cov = compute_coverage(records)
    fam = coverage_by_family(records)
    rel = Counter(r["relevance"] for r in records)
    figs = [family_figure(records), task_figure(records), claims_figure(records), claim_kinds_figure(records)]
    divs = "".join(f"<div class=fig>{f.to_html(full_html=False, include_plotlyjs=False, div_id=f'lit{i}')}</div>"
                   for i, f in enumerate(figs))
    by_id = {r["id"]: r for r in records}
    uncovered = "".join(f"<li><a href='#{i}'>{html.escape(by_id[i]['title'])}</a> "
                        f"<span class=small>{by_id[i]['relevance']}; {', '.join(by_id[i]['families'])}</span></li>"
                        for i in cov.uncovered if by_id[i]["relevance"] == "core")
    fam_rows = "".join(f"<tr><td>{r.family}</td><td>{r.papers}</td><td>{r.core}</td>"
                       f"<td>{r.techniques or '<i>none</i>'}</td></tr>" for r in fam.itertuples())
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Literature catalogue</title>
<script src="{html.escape(plotly_js_src)}"></script><style>{_STYLE}</style></head><body>
<h1>Literature catalogue</h1>
<p>{len(records)} unique papers from the seed search pages, tagged by transparent keyword rules
(<code>workbench/literature/families.py</code>) plus hand overrides (<code>datasets/literature/overrides.csv</code>).
Coverage is recomputed from the technique registry ({len(cov.techniques)} notebooks: {', '.join(cov.techniques)}).</p>
<div class=cards>
<div><div class=num>{rel['core']}</div>core</div><div><div class=num>{rel['peripheral']}</div>peripheral</div>
<div><div class=num>{rel['off_topic']}</div>off-topic</div>
<div><div class=num>{cov.core_pct:.1f}%</div>core covered ({cov.core[0]}/{cov.core[1]})</div>
<div><div class=num>{cov.on_topic_pct:.1f}%</div>on-topic covered ({cov.on_topic[0]}/{cov.on_topic[1]})</div></div>
{divs}
<h2>Families and the notebooks covering them</h2>
<table style="width:auto"><tr><th>family</th><th>papers</th><th>core</th><th>technique notebooks</th></tr>{fam_rows}</table>
<h2>Uncovered core papers ({sum(by_id[i]['relevance'] == 'core' for i in cov.uncovered)})</h2>
<details><summary>show list</summary><ul>{uncovered}</ul></details>
<h2>All papers (<span id=shown>{len(records)}</span> shown)</h2>
<p><input placeholder="search title, abstract, family, task..." oninput="wbFilter(this.value)">
<span class=small>click a column header to sort</span></p>
{_table(records, cov.covering)}
<script>{_SCRIPT}</script></body></html>
"""


def build_literature_page(out_path: str | Path, plotly_js_src: str,
                          catalogue_path: str | Path = CATALOGUE_PATH) -> Path:
    """Write the literature page to ``out_path``, loading plotly.js from ``plotly_js_src``.

    Args:
        out_path: HTML file to write (parent directories are created).
        plotly_js_src: ``src`` of the plotly.js script tag, relative to the page
            (e.g. ``"plotly.min.js"``); the caller makes sure the file is there.
        catalogue_path: the committed catalogue (JSON Lines).

    Returns:
        The path written.
    """
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_literature_page(load_catalogue(catalogue_path), plotly_js_src), encoding="utf-8")
    return out


def copy_plotly_js(dest_dir: str | Path) -> Path:
    """Copy plotly's bundled ``plotly.min.js`` into ``dest_dir`` (no CDN) and return its path."""
    src = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    dest = Path(dest_dir) / "plotly.min.js"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest
