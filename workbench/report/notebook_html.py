"""Executed notebook -> self-contained offline HTML.

Notebooks run with ``PLOTLY_RENDERER=plotly_mimetype`` (set by the runner), so every figure is
stored in the ``.ipynb`` as plotly JSON (``application/vnd.plotly.v1+json``, a few kB) instead of
an inline copy of plotly.js (4.6 MB per notebook with plotly's default ``notebook`` renderer).
Here each such output gets a ``text/html`` twin -- a ``<div>`` plus a ``Plotly.newPlot`` call --
and the page loads the one shared ``plotly.min.js`` of the report folder by a relative path.

The template (``templates/wb_lab``) is JupyterLab's with its CDN scripts removed (require.js,
MathJax, mermaid, widget manager), so the page needs no network: LaTeX in Markdown shows as
source.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

PLOTLY_MIME = "application/vnd.plotly.v1+json"
TEMPLATES_DIR = Path(__file__).parent / "templates"


def plotly_div(fig_json: dict, *, height: int | None = None, div_id: str | None = None) -> str:
    """HTML for one plotly figure given as JSON, drawn by an already loaded ``Plotly``."""
    div_id = div_id or f"wb-plot-{uuid.uuid4().hex[:12]}"
    layout = fig_json.get("layout") or {}
    height = height or int(layout.get("height") or 460)
    # "</" inside a JSON string would end the <script> element early
    payload = json.dumps(fig_json, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div id="{div_id}" class="wb-plot" style="width:100%;height:{height}px"></div>\n'
        f"<script>(function(){{var f={payload};"
        f'Plotly.newPlot("{div_id}",f.data||[],f.layout||{{}},'
        f"Object.assign({{responsive:true,displaylogo:false}},f.config||{{}}));}})();</script>"
    )


def add_plotly_html(nb) -> int:
    """Give every plotly JSON output of ``nb`` a ``text/html`` rendering; returns how many."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            if PLOTLY_MIME in data:
                data["text/html"] = plotly_div(data[PLOTLY_MIME])
                n += 1
    return n


def notebook_to_html(ipynb: str | Path, html: str | Path, *, plotly_js_src: str) -> Path:
    """Convert the executed notebook ``ipynb`` to offline HTML at ``html``.

    Args:
        ipynb: executed notebook.
        html: output file.
        plotly_js_src: URL of plotly.min.js relative to ``html`` (``"assets/plotly.min.js"``).

    Returns:
        The path written.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(ipynb), as_version=4)
    add_plotly_html(nb)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES_DIR)], template_name="wb_lab")
    body, _ = exporter.from_notebook_node(
        nb, resources={"plotly_js_src": plotly_js_src, "metadata": {"name": Path(ipynb).stem}}
    )
    html = Path(html)
    html.write_text(body, encoding="utf-8")
    return html
