"""The standalone literature page: charts, coverage, and a searchable / sortable paper table.

The page works offline from ``file://``: plotly.js is referenced by a relative ``src`` the
caller chooses (the report pipeline shares one copy, :func:`workbench.report.assets.copy_plotly_js`),
and the table's search/sort is a few lines of inline vanilla JS. Coverage is recomputed from the
technique registry at build time; the figures come from :mod:`workbench.plots.literature`.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path

from ..literature.catalogue import CATALOGUE_PATH, load_catalogue
from ..paths import atomic_write
from ..plots.literature import claim_kinds_figure, claims_figure, family_figure, task_figure
from .coverage import compute_coverage, coverage_by_family, tested_by

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
.verdict{font-size:11px;padding:0 4px;border-radius:3px;background:#eee}.v-yes{background:#d4edda}
.v-part{background:#fff3cd}.v-no{background:#f8d7da}.v-inc{background:#e2e3e5}
"""


def _claims_text(claims: list[dict]) -> str:
    return "; ".join(f"{c['metric']} {c['value']:g}{c['unit']}" for c in claims[:6]) + (" ..." if len(claims) > 6 else "")


_VERDICT_CLASS = {"supported": "v-yes", "partly supported": "v-part", "not supported": "v-no", "inconclusive": "v-inc"}


def _notebook_links(slugs: list[str], tested: list[str], verdicts: dict[str, str]) -> str:
    """Links to the notebooks (and their cards) covering a paper; the ones that test it first, in bold."""
    out = []
    for slug in sorted(slugs, key=lambda s: (s not in tested, s)):
        v = verdicts.get(slug)
        badge = f" <span class='verdict {_VERDICT_CLASS.get(v, '')}'>{html.escape(v)}</span>" if v else ""
        name = f"<b>{slug}</b>" if slug in tested else slug
        out.append(f"<a href='{slug}.html'>{name}</a>{badge} <a class=small href='index.html#card-{slug}'>card</a>")
    return "<br>".join(out)


def _label_sentence(curated: int, total: int) -> str:
    """Where the families come from: curated labels for how many papers, rules for the rest."""
    labels = ("a curated label (read by two labellers from title and abstract, disagreements adjudicated: "
              "<code>datasets/literature/labels.csv</code>; primary family in bold)")
    rules = ("the transparent keyword rules (<code>workbench/literature/families.py</code>) plus hand overrides "
             "(<code>datasets/literature/overrides.csv</code>)")
    if curated == total:
        return f"every paper carries {labels}; {rules} are the fallback for papers without one."
    return f"{curated} papers carry {labels}, the other {total - curated} {rules}."


def _families_cell(r: dict) -> str:
    """Families (primary in bold); the rules' tags beside them when they differ from a curated label."""
    fams = [f"<b>{f}</b>" if f == r.get("primary_family") else f for f in r["families"]]
    out = ", ".join(fams) or "<i>none</i>"
    if r.get("label_source") == "curated" and set(r.get("rule_families", [])) != set(r["families"]):
        out += f"<div class=small>rules: {html.escape(', '.join(r['rule_families']) or 'none')}</div>"
    return out


def _table(records: list[dict], covering: dict[str, list[str]], tested: dict[str, list[str]],
           verdicts: dict[str, str]) -> str:  # fmt: skip
    rows = []
    rank = {"core": 0, "peripheral": 1, "off_topic": 2}
    for r in sorted(records, key=lambda r: (rank[r["relevance"]], r["title"].lower())):
        cov = covering.get(r["id"])
        slugs = sorted(set(cov or []) | set(tested.get(r["id"], [])))
        cov_html = _notebook_links(slugs, tested.get(r["id"], []), verdicts) if slugs else ("uncovered" if cov is not None else "")
        cells = [
            f"<td><b>{html.escape(r['title'])}</b><div class=small>{html.escape(r['abstract'][:240])}...</div></td>",
            f"<td>{_families_cell(r)}</td>",
            f"<td>{r['task']}</td>",
            f"<td data-key={rank[r['relevance']]}>{r['relevance']}</td>",
            f"<td data-key={len(r['claims'])}>{html.escape(_claims_text(r['claims']))}</td>",
            f"<td>{cov_html}</td>",
            f"<td>{html.escape(r['date'] or r['date_text'] or '')}</td>",
        ]
        rows.append(f"<tr id='{r['id']}'>{''.join(cells)}</tr>")
    head = "".join(f"<th onclick='wbSort({i})'>{h}</th>" for i, h in enumerate(
        ("title", "families", "task", "relevance", "claims (abstract)", "covering notebook", "date")))
    return f"<table id=papers><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _uncovered_by_family(records: list[dict], uncovered: list[str]) -> str:
    """The uncovered core papers grouped by their primary family: the workbench's to-do list."""
    by_id = {r["id"]: r for r in records}
    groups: dict[str, list[dict]] = {}
    for i in uncovered:
        r = by_id[i]
        if r["relevance"] == "core":
            fam = r.get("primary_family") or (r["families"][0] if r["families"] else "untagged")
            groups.setdefault(fam, []).append(r)
    parts = []
    for fam, papers in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        items = "".join(f"<li><a href='#{r['id']}'>{html.escape(r['title'])}</a> "
                        f"<span class=small>{', '.join(r['families'])}</span></li>" for r in sorted(papers, key=lambda r: r["title"].lower()))
        parts.append(f"<h3>{html.escape(fam)} ({len(papers)})</h3><ul>{items}</ul>")
    return "".join(parts) or "<p>none</p>"


def render_literature_page(records: list[dict], plotly_js_src: str, verdicts: dict[str, str] | None = None) -> str:
    """The page as an HTML string (see :func:`build_literature_page`).

    Args:
        records: catalogue records.
        plotly_js_src: ``src`` of the plotly.js script tag.
        verdicts: technique slug -> verdict of the report run, shown beside each notebook link
            (``None`` before the notebooks have run).
    """
    verdicts = verdicts or {}
    tested = tested_by(records)
    cov = compute_coverage(records)
    fam = coverage_by_family(records)
    rel = Counter(r["relevance"] for r in records)
    figs = [family_figure(records), task_figure(records), claims_figure(records), claim_kinds_figure(records)]
    divs = "".join(f"<div class=fig>{f.to_html(full_html=False, include_plotlyjs=False, div_id=f'lit{i}')}</div>"
                   for i, f in enumerate(figs))
    by_id = {r["id"]: r for r in records}
    curated = sum(r.get("label_source") == "curated" for r in records)
    uncovered = _uncovered_by_family(records, cov.uncovered)
    fam_rows = "".join(f"<tr><td>{r.family}</td><td>{r.papers}</td><td>{r.core}</td>"
                       f"<td>{r.techniques or '<i>none</i>'}</td></tr>" for r in fam.itertuples())
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Literature catalogue</title>
<script src="{html.escape(plotly_js_src)}"></script><style>{_STYLE}</style></head><body>
<h1>Literature catalogue</h1>
<p>{len(records)} unique papers from the seed search pages. Families: {_label_sentence(curated, len(records))}
Where a curated label and the rules differ, the rules' tags are shown under the label.
Coverage is recomputed from the technique registry ({len(cov.techniques)} notebooks: {', '.join(cov.techniques)}).</p>
<div class=cards>
<div><div class=num>{rel['core']}</div>core</div><div><div class=num>{rel['peripheral']}</div>peripheral</div>
<div><div class=num>{rel['off_topic']}</div>off-topic</div>
<div><div class=num>{cov.core_pct:.1f}%</div>core covered ({cov.core[0]}/{cov.core[1]})</div>
<div><div class=num>{cov.on_topic_pct:.1f}%</div>on-topic covered ({cov.on_topic[0]}/{cov.on_topic[1]})</div></div>
{divs}
<h2>Families and the notebooks covering them</h2>
<table style="width:auto"><tr><th>family</th><th>papers</th><th>core</th><th>technique notebooks</th></tr>{fam_rows}</table>
<h2>Uncovered core papers ({sum(by_id[i]['relevance'] == 'core' for i in cov.uncovered)}): the to-do list, by family</h2>
<details><summary>show list</summary>{uncovered}</details>
<h2>All papers (<span id=shown>{len(records)}</span> shown)</h2>
<p><input placeholder="search title, abstract, family, task..." oninput="wbFilter(this.value)">
<span class=small>click a column header to sort</span></p>
<p class=small>"covering notebook": the notebooks whose families include the paper's; in <b>bold</b> the ones
that test a claim of this paper itself, with {'the verdict of this report run' if verdicts else 'their verdicts once the report has run'}.</p>
{_table(records, cov.covering, tested, verdicts)}
<script>{_SCRIPT}</script></body></html>
"""


def build_literature_page(out_path: str | Path, plotly_js_src: str,
                          catalogue_path: str | Path = CATALOGUE_PATH, verdicts: dict[str, str] | None = None) -> Path:
    """Write the literature page to ``out_path``, loading plotly.js from ``plotly_js_src``.

    Args:
        out_path: HTML file to write (parent directories are created).
        plotly_js_src: ``src`` of the plotly.js script tag, relative to the page
            (e.g. ``"plotly.min.js"``); the caller makes sure the file is there.
        catalogue_path: the committed catalogue (JSON Lines).
        verdicts: technique slug -> verdict of a report run (see :func:`render_literature_page`).

    Returns:
        The path written.
    """
    page = render_literature_page(load_catalogue(catalogue_path), plotly_js_src, verdicts)
    return atomic_write(out_path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
