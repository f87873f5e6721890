"""Static checks of every technique notebook against notebooks/README.md (the authoring standard).

Nothing is executed: the checks read the .ipynb JSON, so they run in well under a second.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# Sections in order; Measure and Train may swap (a notebook may measure trained models), Train is
# needed only when the notebook trains.
ORDER = ["Learning goals", "Setup", "The idea", "Read the code", "Build", "Measure|Train", "Plot",
         "Record", "Exercises", "Takeaways", "Claim and verdict", "Try next"]  # fmt: skip
ALLOWED = {"Learning goals", "Setup", "The idea", "Read the code", "Build", "Measure", "Train", "Plot",
           "Record", "Exercises", "Takeaways", "Claim and verdict", "Explore", "Try next"}  # fmt: skip
# optional: '## Explore' directly before '## Try next', one markdown + one code cell using wb.explore
PARAM_LINE = re.compile(r"^[a-z_][a-z0-9_]*: (int|float|str|bool|list|dict) = .+  # \S.*$")
MAX_RECORD_LINES = 8


def _load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _sections(nb) -> list[tuple[str, int]]:
    """(``##`` heading, cell index) in order."""
    out = []
    for i, c in enumerate(nb.cells):
        if c.cell_type == "markdown":
            out += [(m.group(1).strip(), i) for m in re.finditer(r"^## (.+)$", c.source, re.M)]
    return out


def _section_cells(nb, name: str) -> list:
    secs = _sections(nb)
    for k, (title, i) in enumerate(secs):
        if title == name:
            end = secs[k + 1][1] if k + 1 < len(secs) else len(nb.cells)
            return nb.cells[i:end]
    return []


def _code_calls(code: str) -> set[str]:
    return {ast.unparse(n.func) for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)}


def check_notebook(nb) -> list[str]:
    """Every violation of the standard in ``nb`` (empty when it conforms)."""
    errors = []
    first = nb.cells[0]
    if first.cell_type != "markdown" or not first.source.startswith("# "):
        errors.append("first cell must be the '# Title' markdown cell")
    elif "**Claim.**" not in first.source or "**Seed papers.**" not in first.source:
        errors.append("title cell needs **Claim.** and **Seed papers.**")
    secs = [t for t, _ in _sections(nb)]
    for t in secs:
        if t not in ALLOWED:
            errors.append(f"unknown section '## {t}'; allowed: {', '.join(sorted(ALLOWED))}")
    pos = 0
    for want in ORDER:
        names = want.split("|")
        found = [secs.index(n) for n in names if n in secs]
        if want == "Measure|Train":
            if "Measure" not in secs:
                errors.append("missing section '## Measure'")
                continue
            if min(found) < pos:
                errors.append(f"'## {want}' out of order")
            pos = max(found)
            continue
        if not found:
            errors.append(f"missing section '## {want}'")
            continue
        if found[0] < pos:
            errors.append(f"'## {want}' out of order (sections: {secs})")
        pos = found[0]
    # parameters cell: right after Learning goals, before Setup
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1:
        errors.append(f"need exactly one cell tagged 'parameters', found {len(params)}")
    else:
        for line in params[0].source.splitlines():
            if line.strip() and not PARAM_LINE.match(line):
                errors.append(f"parameters line is not 'name: type = value  # help': {line[:80]!r}")
            elif line.strip():
                value = line.split(" = ", 1)[1].rsplit("  # ", 1)[0]
                try:
                    ast.literal_eval(value)
                except (ValueError, SyntaxError):
                    errors.append(f"parameter value is not a literal: {line[:80]!r}")
        idx = nb.cells.index(params[0])
        setup = dict(_sections(nb)).get("Setup")
        if setup is not None and idx > setup:
            errors.append("the parameters cell must come before '## Setup'")
    # code rules
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        if c.get("outputs") or c.get("execution_count") is not None:
            errors.append(f"cell {i} has outputs or an execution count: strip them")
        tree = ast.parse(c.source)
        if any(
            isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
            for n in ast.walk(tree)
        ):
            errors.append(f"cell {i} defines a function, lambda or class: move it into the package")
    record = [c for c in _section_cells(nb, "Record") if c.cell_type == "code"]
    if len(record) != 1:
        errors.append(f"'## Record' needs exactly one code cell, found {len(record)}")
    else:
        lines = [ln for ln in record[0].source.splitlines() if ln.strip()]
        if len(lines) > MAX_RECORD_LINES:
            errors.append(f"Record cell has {len(lines)} lines (max {MAX_RECORD_LINES})")
        calls = _code_calls(record[0].source)
        if not any(c.startswith("wb.lessons.") and c.endswith(".conclude") for c in calls):
            errors.append(
                "Record cell must compute the lesson with wb.lessons.<slug>.conclude(...)"
            )
        if re.search(r"[<>]=?\s*\d", record[0].source):
            errors.append(
                "Record cell compares with a number: verdict thresholds belong in workbench/lessons/"
            )
    code_text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    if "wb.show_source(" not in "\n".join(c.source for c in _section_cells(nb, "Read the code")):
        errors.append("'## Read the code' must call wb.show_source(...)")
    if "import workbench as wb" not in code_text:
        errors.append("the notebook must use `import workbench as wb`")
    for name, call in (
        ("Takeaways", "lesson.takeaways_view()"),
        ("Claim and verdict", "lesson.verdict_view()"),
    ):
        cells = _section_cells(nb, name)
        if not any(c.cell_type == "code" and c.source.strip() == call for c in cells):
            errors.append(f"'## {name}' must display `{call}`")
        if any(
            c.cell_type == "markdown" and re.search(r"^\s*[-*] ", c.source, re.M) for c in cells
        ):
            errors.append(f"'## {name}' must not contain hand-written bullet points")
    errors += _check_explore(nb, secs)
    idea = "\n".join(c.source for c in _section_cells(nb, "The idea") if c.cell_type == "markdown")
    if "$$" not in idea:
        errors.append("'## The idea' needs at least one display formula ($$...$$)")
    ex = "\n".join(c.source for c in _section_cells(nb, "Exercises") if c.cell_type == "markdown")
    n_ex = len(re.findall(r"^\*\*\d+\.", ex, re.M))
    n_ans = ex.count("<details><summary>Answer</summary>")
    if not 3 <= n_ex <= 5:
        errors.append(f"'## Exercises' needs 3-5 numbered exercises (**1. ...**), found {n_ex}")
    if n_ans != n_ex or ex.count("</details>") != n_ans:
        errors.append(
            f"every exercise needs one collapsed answer: {n_ex} exercises, {n_ans} <details><summary>Answer</summary>"
        )
    if "<details open" in ex:
        errors.append("answers must start collapsed (no <details open>)")
    if not re.search(r"predict.*run|run.*predict", ex, re.I | re.S) or "change" not in ex.lower():
        errors.append("at least one exercise must ask to change a parameter, predict, then run")
    return errors


def _check_explore(nb, secs: list[str]) -> list[str]:
    """The optional '## Explore' section: right before '## Try next', one wb.explore call."""
    if "Explore" not in secs:
        return []
    errors = []
    if "Try next" in secs and secs.index("Explore") != secs.index("Try next") - 1:
        errors.append("'## Explore' must come directly before '## Try next'")
    cells = _section_cells(nb, "Explore")
    code = [c for c in cells if c.cell_type == "code"]
    if len(cells) != 2 or len(code) != 1:
        errors.append("'## Explore' is one markdown cell and one code cell")
    elif not any(call.startswith("wb.explore.") for call in _code_calls(code[0].source)):
        errors.append("the '## Explore' code cell must call an explorer (wb.explore.cost/zoo/literature/live)")
    return errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_follows_the_standard(path):
    assert check_notebook(_load(path)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_papermill_documents_every_parameter(path):
    """``papermill --help-notebook`` silently drops a line it cannot parse (e.g. '=' in the help)."""
    import papermill

    cell = next(c for c in _load(path).cells if "parameters" in c.metadata.get("tags", []))
    assigned = [ln.split(":")[0].strip() for ln in cell.source.splitlines() if re.match(r"^\w+\s*:", ln)]
    inspected = papermill.inspect_notebook(str(path))
    assert list(inspected) == assigned
    assert all(p["help"] for p in inspected.values()), "every parameter needs a '# help' comment"


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


def _good():
    return _load(NOTEBOOKS[0])


def _mutated(fn):
    nb = _good()
    fn(nb)
    return check_notebook(nb)


def _cell(nb, section):
    return _section_cells(nb, section)


def test_checker_catches_a_function_definition():
    errs = _mutated(
        lambda nb: nb.cells.insert(5, nbformat.v4.new_code_cell("def f():\n    return 1"))
    )
    assert any("defines a function" in e for e in errs)


def test_checker_catches_a_long_record_cell_and_a_threshold():
    def long(nb):
        c = next(c for c in _cell(nb, "Record") if c.cell_type == "code")
        c.source += "\nx = 1\ny = 2\nz = 3\nw = 4"

    assert any("Record cell has" in e for e in _mutated(long))

    def threshold(nb):
        c = next(c for c in _cell(nb, "Record") if c.cell_type == "code")
        c.source = c.source.replace(
            "wb.record(key, value)", "wb.record(key, value) if 0.8 > 0.5 else None"
        )

    assert any("thresholds belong" in e for e in _mutated(threshold))


def test_checker_catches_missing_and_swapped_sections():
    def drop(nb):
        i = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Read the code"))
        nb.cells[i].source = nb.cells[i].source.replace("## Read the code", "### Read the code")

    assert any("missing section '## Read the code'" in e for e in _mutated(drop))

    def swap(nb):
        a = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Takeaways"))
        b = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Exercises"))
        nb.cells[a], nb.cells[b] = nb.cells[b], nb.cells[a]

    assert any("out of order" in e for e in _mutated(swap))


def test_checker_catches_undocumented_parameters_and_outputs():
    def param(nb):
        c = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        c.source += "\nextra = 3"

    assert any("name: type = value" in e for e in _mutated(param))

    def outputs(nb):
        c = next(c for c in nb.cells if c.cell_type == "code")
        c.outputs = [nbformat.v4.new_output("stream", text="hi")]

    assert any("outputs" in e for e in _mutated(outputs))


def test_checker_catches_missing_answers_and_hand_written_takeaways():
    def answers(nb):
        c = next(c for c in _cell(nb, "Exercises") if c.cell_type == "markdown")
        c.source = c.source.replace("<details><summary>Answer</summary>", "", 1)

    assert any("collapsed answer" in e for e in _mutated(answers))

    def prose(nb):
        i = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Takeaways"))
        nb.cells.insert(i + 1, nbformat.v4.new_markdown_cell("- Depthwise is always 3x faster."))

    assert any("hand-written" in e for e in _mutated(prose))


def _with_explore(nb, code="wb.explore.cost(block='inverted_residual')", where="Try next"):
    old = _section_cells(nb, "Explore")  # the notebook's own, if it has one
    nb.cells = [c for c in nb.cells if not any(c is o for o in old)]
    i = next(i for i, c in enumerate(nb.cells) if c.source.startswith(f"## {where}"))
    nb.cells[i:i] = [nbformat.v4.new_markdown_cell("## Explore\nMove the sliders."), nbformat.v4.new_code_cell(code)]


def test_checker_accepts_an_explore_section_before_try_next():
    assert _mutated(_with_explore) == []


def test_checker_catches_a_misplaced_or_empty_explore_section():
    assert any("directly before '## Try next'" in e for e in _mutated(lambda nb: _with_explore(nb, where="Takeaways")))
    assert any("must call an explorer" in e for e in _mutated(lambda nb: _with_explore(nb, code="1 + 1")))
