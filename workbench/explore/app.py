"""The notebook ``workbench explore`` serves with Voila: one section per explorer, code hidden.

Voila runs a notebook in a fresh kernel and shows only its outputs (widgets stay live), so the
standalone app is simply a generated notebook: :func:`app_notebook` writes the cells, the CLI
(:mod:`workbench.cli.explore`) starts the server.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

SECTIONS = ("cost", "zoo", "literature")
TITLES = {
    "cost": "Cost explorer: move a slider, watch params, MACs, memory and latency",
    "zoo": "Zoo explorer: the Pareto plot; click a point for its profile",
    "literature": "Literature explorer: the seed papers and the notebooks that test them",
}


def _code(section: str, model: str | None, block: str, report: str | None) -> str:
    if section == "cost":
        target = f"{model!r}" if model else f"block={block!r}"
        return f"wb.explore.cost({target}, static=False)"
    if section == "zoo":
        if report:
            return f"wb.explore.zoo({str(report)!r}, static=False)"
        return ("wb.explore.zoo(names=[n for n in wb.list_models() if wb.model_entry(n).task == 'classification'], "
                "static=False)")  # fmt: skip
    return "wb.explore.literature(wb.techniques.TECHNIQUES, link='{slug}.html', static=False)"


def app_notebook(sections=SECTIONS, *, model: str | None = None, block: str = "inverted_residual",
                 report: str | Path | None = None, kernel: str = "python3") -> nbformat.NotebookNode:  # fmt: skip
    """The explorer app as a notebook.

    Args:
        sections: explorers to include, in order (subset of :data:`SECTIONS`).
        model: registry model of the cost explorer (default: the ``block``).
        block: block of the cost explorer when no ``model`` is given.
        report: report folder the zoo explorer reads (default: count the classification zoo).
        kernel: kernelspec name the server starts.

    Raises:
        ValueError: an unknown section.
    """
    for s in sections:
        if s not in SECTIONS:
            raise ValueError(f"unknown section {s!r}; valid: {', '.join(SECTIONS)}")
    cells = [nbformat.v4.new_markdown_cell("# Lightweight-Network Workbench: explorers"),
             nbformat.v4.new_code_cell("import workbench as wb")]  # fmt: skip
    for s in sections:
        cells.append(nbformat.v4.new_markdown_cell(f"## {TITLES[s]}"))
        cells.append(nbformat.v4.new_code_cell(_code(s, model, block, str(report) if report else None)))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


def write_app(path: str | Path, sections=SECTIONS, **kwargs) -> Path:
    """Write :func:`app_notebook` to ``path``; returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(app_notebook(sections, **kwargs), path)
    return path
