"""What a notebook run used (workbench.deps) and the dependency key built from it (report.cache.deps_key).

Issue 11: a re-run after a plot-only edit must not re-execute every notebook. The recorder notes the
package modules a kernel loads and the repository files it reads; the runner then re-executes a
notebook only when one of those files changed.
"""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench import deps
from workbench.paths import PACKAGE_DIR, REPO_ROOT
from workbench.report import cache
from workbench.report.plan import Keys, plan_notebook
from workbench.report.techniques import Technique


def _record(tmp_path: Path, code: str) -> dict:
    out = tmp_path / "deps.txt"
    env = {**os.environ, deps.ENV: str(out)}
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, env=env, cwd=tmp_path, timeout=300)
    return deps.read(out)


def test_a_run_records_the_modules_it_loaded_and_the_files_it_read(tmp_path):
    used = _record(
        tmp_path,
        f"""
        import subprocess, sys
        import workbench as wb
        wb.plots.accuracy_vs_cost          # one plot module (and what it imports)
        wb.lessons.tiny_lm                 # one lesson
        open({str(REPO_ROOT / "datasets" / "README.md")!r}).read()
        open("written.txt", "w").write("x")  # outside the repository: not a dependency
        # a process the notebook starts records into the same file
        subprocess.run([sys.executable, "-c", "import workbench.lessons.pruning"], check=True)
        """,
    )
    mods = set(used["modules"])
    assert {"workbench", "workbench.plots", "workbench.lessons.tiny_lm", "workbench.lessons.pruning"} <= mods
    assert any(m.startswith("workbench.plots.") for m in mods)
    assert "workbench.plots.search" not in mods and "workbench.lessons.once_for_all" not in mods
    assert used["files"] == ["datasets/README.md"]


def test_nothing_is_recorded_without_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != deps.ENV}
    r = subprocess.run([sys.executable, "-c", "import workbench.deps as d, sys; print(d._state['path'])"],
                       env=env, capture_output=True, text=True, check=True, timeout=300)
    assert r.stdout.strip() == "None"
    assert deps.read(tmp_path / "absent.txt") is None


def test_lazy_plots_export_every_public_function():
    import workbench.plots as plots

    names = {}
    for m in pkgutil.iter_modules(plots.__path__):
        if not m.name.startswith("_"):
            mod = importlib.import_module(f"workbench.plots.{m.name}")
            names.update({n: mod for n in getattr(mod, "__all__", [])})
    assert set(plots.__all__) == set(names)
    for n, mod in names.items():
        assert getattr(plots, n) is getattr(mod, n)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        plots.nope  # noqa: B018


def test_every_lesson_module_is_listed():
    import workbench.lessons as lessons

    helpers = {"source", "verdicts", "training"}
    found = {m.name for m in pkgutil.iter_modules(lessons.__path__)} - helpers
    assert set(lessons.LESSON_MODULES) == found
    assert lessons.tiny_lm.__name__ == "workbench.lessons.tiny_lm"


def test_listing_the_technique_registry_loads_no_lesson_module():
    """A notebook that lists every technique must not depend on every lesson (FromLesson is lazy)."""
    code = textwrap.dedent("""
        import sys, workbench as wb
        techs = wb.techniques.TECHNIQUES
        assert len(techs) >= 22
        print(sorted(m for m in sys.modules if m.startswith("workbench.lessons.")))
        claim = str(wb.techniques.get_technique("pruning").claim)
        import workbench.lessons.pruning as p
        assert claim == p.CLAIM
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _fake_repo(root: Path) -> tuple[Path, Path]:
    pkg, data = root / "workbench", root / "datasets"
    (pkg / "plots").mkdir(parents=True)
    (pkg / "report").mkdir()
    for rel, text in {"__init__.py": "", "plots/__init__.py": "", "plots/a.py": "A = 1\n", "plots/b.py": "B = 1\n",
                      "report/index.py": "# page\n"}.items():
        (pkg / rel).write_text(text)
    data.mkdir()
    (data / "x.csv").write_text("1\n")
    (data / "y.csv").write_text("1\n")
    return pkg, data


def test_deps_key_changes_only_with_the_files_used(tmp_path):
    pkg, data = _fake_repo(tmp_path)
    nb = tmp_path / "nb.ipynb"
    nb.write_text("{}")
    used = {"modules": ["workbench", "workbench.plots", "workbench.plots.a", "workbench.report.index"],
            "files": ["datasets/x.csv"]}

    def key(params=None):
        return cache.deps_key(nb, params or {"n": 1}, profile="smoke", kernel="k", deps=used,
                              hashes=cache.file_hashes(pkg, data), package_dir=pkg)

    k0 = key()
    assert k0 == key() and key({"n": 2}) != k0
    (pkg / "plots" / "b.py").write_text("B = 2\n")  # not used
    (data / "y.csv").write_text("2\n")  # not read
    (pkg / "report" / "index.py").write_text("# another page\n")  # presentation only
    assert key() == k0
    (pkg / "plots" / "a.py").write_text("A = 2\n")
    k1 = key()
    assert k1 != k0
    (data / "x.csv").write_text("2\n")
    assert key() != k1
    assert cache.deps_key(nb, {}, profile="smoke", kernel="k", deps={"modules": ["workbench.gone"], "files": []},
                          hashes={}, package_dir=pkg) is None, "an unknown module leaves the decision to exec_key"


def test_plan_reuses_a_notebook_whose_dependencies_did_not_change(tmp_path):
    pkg, data = _fake_repo(tmp_path)
    nbs, staging, published = tmp_path / "notebooks", tmp_path / "staging", tmp_path / "published"
    for d in (nbs, staging, published):
        d.mkdir()
    (nbs / "t.ipynb").write_text("{}")
    for name in ("t.ipynb", "t.html"):
        (published / name).write_text("x")
    t = Technique("t", "T", "Claim.", ("x",))
    used = {"modules": ["workbench", "workbench.plots.a"], "files": ["datasets/x.csv"]}

    def keys():
        return Keys(package=cache.package_fingerprint(pkg), data=cache.data_fingerprint(data), report="r",
                    files=cache.file_hashes(pkg, data), package_dir=pkg)

    params = t.parameters("smoke")
    dkey = cache.deps_key(nbs / "t.ipynb", params, profile="smoke", kernel="k", deps=used,
                          hashes=keys().files, package_dir=pkg)
    prev = {"slug": "t", "title": "T", "status": "ok", "notebook": "t.ipynb", "html": "t.html",
            "exec_key": "an older package", "deps": used, "deps_key": dkey,
            "render_key": cache.render_key(dkey, "r")}

    def plan():
        return plan_notebook(t, "smoke", nbs, staging, published, {"notebooks": {"t": prev}}, run=True, force=False,
                             kernel="k", keys=keys())

    (pkg / "plots" / "b.py").write_text("B = 2\n")  # another plot module: the package fingerprint changes
    result, job = plan()
    assert job is None and result.cached and result.deps_key == dkey
    (pkg / "plots" / "a.py").write_text("A = 2\n")  # a module this notebook loaded
    result, job = plan()
    assert job is not None and job.execute and not result.cached


def test_the_recorder_is_installed_before_the_package_loads():
    """``import workbench`` must start recording before it imports its subpackages."""
    tree = ast.parse((PACKAGE_DIR / "__init__.py").read_text())
    calls = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "start_from_env"]
    first_sub = min(n.lineno for n in tree.body if isinstance(n, ast.ImportFrom) and n.module and n.module != "deps"
                    and n.level == 1)
    assert calls and calls[0] < first_sub


def test_a_plot_edit_re_runs_only_the_notebooks_that_drew_with_it(tmp_path, kernel):
    """End to end through ``run_reports``: the second run sees plots/search.py edited (in a copy of
    the package, as ``workbench bench report``'s edit pass does) and executes one notebook of two."""
    import shutil

    import nbformat

    from workbench.report.runner import run_reports

    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    cells = {"draws": "import workbench as wb\nf = wb.plots.search_progress", "plain": "import workbench as wb\nx = 1"}
    for slug, code in cells.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
        nbformat.write(nb, nbs / f"{slug}.ipynb")
    techs = [Technique(s, s.title(), "Claim.", ("x",)) for s in cells]
    common = dict(profile="smoke", extras=None, notebooks_dir=nbs, reports_dir=tmp_path / "reports", jobs=2,
                  kernel=kernel, datasets_dir=REPO_ROOT / "datasets")
    first = run_reports(techs, force=True, **common)
    assert [r.status for r in first.results] == ["ok", "ok"]
    assert all(r.deps and r.deps_key for r in first.results)
    edited = tmp_path / "edited" / "workbench"
    shutil.copytree(PACKAGE_DIR, edited, ignore=shutil.ignore_patterns("__pycache__"))
    with open(edited / "plots" / "search.py", "a") as fh:
        fh.write("\n# an edit\n")
    second = {r.slug: r for r in run_reports(techs, package_dir=edited, **common).results}
    assert not second["draws"].cached and second["plain"].cached
    third = {r.slug: r for r in run_reports(techs, package_dir=edited, **common).results}
    assert third["draws"].cached and third["plain"].cached
