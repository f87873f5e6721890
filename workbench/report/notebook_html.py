"""Executed notebook -> self-contained offline HTML.

Notebooks run with ``PLOTLY_RENDERER=plotly_mimetype`` (set by the runner), so every figure is
stored in the ``.ipynb`` as plotly JSON (``application/vnd.plotly.v1+json``, a few kB) instead of
an inline copy of plotly.js (4.6 MB per notebook with plotly's default ``notebook`` renderer).
Here each such output gets a ``text/html`` twin -- a ``<div>`` plus a ``Plotly.newPlot`` call --
and the page loads the one shared ``plotly.min.js`` of the report folder by a relative path.

The template (``templates/wb_lab``) is JupyterLab's with its CDN scripts removed (require.js,
MathJax, mermaid, widget manager), so the page needs no network. LaTeX in Markdown cells
(``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) is converted here to MathML with
``latex2mathml``, which browsers lay out natively (Chromium >= 109, Firefox, Safari): no
script, no fonts, nothing from a CDN. The notebook itself keeps its LaTeX, which JupyterLab
typesets with its bundled MathJax. A formula ``latex2mathml`` cannot parse stays as source.
"""

from __future__ import annotations

import html
import json
import re
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


# code is never math: fenced blocks and backtick spans are cut out before formulas are looked for
_CODE = re.compile(r"(^|\n)(```|~~~)[^\n]*\n.*?(\n\2[^\n]*(?=\n|$)|$)|(`+)(?:.+?)\4", re.S)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.S)
# pandoc's rule: no space after the opening or before the closing $, no digit after it, so
# "costs $5 and $6" is not a formula; a formula may wrap onto the next line of its paragraph
_INLINE = re.compile(
    r"(?<![\\$])\$(?![\s$])((?:\\\$|[^$\n]|\n(?![ \t]*\n))+?)(?<![\s\\])\$(?!\d)"
    r"|\\\((.+?)\\\)"
)


def latex_to_mathml(tex: str, *, display: bool = False) -> str | None:
    """MathML for one LaTeX formula (without its ``$`` delimiters); ``None`` if unparsable."""
    from latex2mathml.converter import convert

    try:
        mathml = convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # latex2mathml raises many types for unsupported commands
        return None
    # an unknown command comes out as text ("<mi>\\foo</mi>"): no better than the source
    return None if ">\\" in mathml else mathml


def markdown_math_to_mathml(text: str, formulas: dict[str, str]) -> str:
    """Replace the formulas of a Markdown text by placeholders, their MathML into ``formulas``.

    The placeholders are plain words, so the Markdown renderer cannot mistake characters of
    the MathML for emphasis or escape it; :func:`notebook_to_html` puts the MathML back into
    the rendered page. Code (fenced blocks, backtick spans) is left alone; a formula that does
    not convert keeps its source, so the reader still sees it.

    Returns:
        The text with placeholders.
    """

    def convert(m: re.Match, display: bool) -> str:
        tex = next(g for g in m.groups() if g is not None)
        mathml = latex_to_mathml(html.unescape(tex), display=display)
        if mathml is None:
            return m.group(0)
        token = f"wbmath{uuid.uuid4().hex}"
        formulas[token] = mathml
        # a display formula gets a paragraph of its own
        return f"\n\n{token}\n\n" if display else token

    out, last = [], 0
    for code in _CODE.finditer(text):
        out.append(text[last : code.start()])
        out.append(code.group(0))
        last = code.end()
    out.append(text[last:])
    for i in range(0, len(out), 2):  # even pieces are prose, odd ones code
        piece = _DISPLAY.sub(lambda m: convert(m, True), out[i])
        out[i] = _INLINE.sub(lambda m: convert(m, False), piece)
    return "".join(out)


def add_mathml(nb) -> dict[str, str]:
    """Swap the LaTeX of every Markdown cell of ``nb`` for placeholders; returns
    ``{placeholder: MathML}`` for :func:`put_mathml`."""
    formulas: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_math_to_mathml(cell.source, formulas)
    return formulas


def put_mathml(page: str, formulas: dict[str, str]) -> str:
    """Put the MathML of :func:`add_mathml` into the rendered ``page``."""
    for token, mathml in formulas.items():
        block = 'display="block"' in mathml[:120]
        if block and f"<p>{token}</p>" in page:  # a <math> block is not paragraph content
            page = page.replace(f"<p>{token}</p>", mathml)
        else:
            page = page.replace(token, mathml)
    return page


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
    formulas = add_mathml(nb)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES_DIR)], template_name="wb_lab")
    body, _ = exporter.from_notebook_node(
        nb, resources={"plotly_js_src": plotly_js_src, "metadata": {"name": Path(ipynb).stem}}
    )
    out = Path(html)
    out.write_text(put_mathml(body, formulas), encoding="utf-8")
    return out
