"""Planning a report run: what each technique needs (reuse, render only, execute) and in what order.

For each technique, ``notebooks/<slug>.ipynb`` gets an execution key (:mod:`.cache`). If the
published report holds a successful run with the same key, its files are copied into staging
(and, when only the HTML conversion changed, re-rendered); otherwise the notebook is executed.
Executions are ordered longest first by the durations the previous run recorded in its manifest,
so the longest notebook never starts last and leaves the other cores idle at the end.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import cache
from .assets import PLOTLY_JS_SRC
from .techniques import Technique


@dataclass
class NotebookResult:
    """Outcome of one technique notebook in a report run.

    Attributes:
        slug: technique slug (= notebook stem).
        title: technique title.
        status: ``ok``, ``failed``, ``timeout`` or ``missing`` (no notebook file).
        cached: true when the published result was reused (not executed in this run).
        seconds: execution wall time (s) of the run that produced the result.
        error: one line saying what went wrong, else ``None``.
        notebook: executed ``.ipynb`` relative to the report folder, if any.
        html: its HTML relative to the report folder, if any.
        finished_at: ISO time the producing run finished.
        exec_key: the execution key (:func:`workbench.report.cache.execution_key`).
        render_key: the key of the HTML conversion.
        parameters: the parameters papermill injected.
        deps: what the producing run used (:func:`workbench.deps.read`), when it was recorded.
        deps_key: the key of those files (:func:`workbench.report.cache.deps_key`).
    """

    slug: str
    title: str
    status: str
    cached: bool = False
    seconds: float = 0.0
    error: str | None = None
    notebook: str | None = None
    html: str | None = None
    finished_at: str | None = None
    exec_key: str | None = None
    render_key: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    deps: dict[str, list[str]] | None = None
    deps_key: str | None = None


@dataclass
class Job:
    """One notebook for the worker pool: execute it (and render), or only re-render it."""

    result: NotebookResult
    spec: dict[str, Any]
    execute: bool
    technique: Technique | None = None
    expected_s: float | None = None  # the previous run's duration, for longest-first order
    proc: Any = None
    started: float = 0.0
    job_file: Path | None = None


@dataclass(frozen=True)
class Keys:
    """The fingerprints shared by every notebook of a run (:mod:`.cache`); ``files`` and
    ``package_dir`` (content hashes taken at the start of the run) let a notebook's recorded
    dependencies decide instead (:func:`.cache.deps_key`)."""

    package: str
    data: str
    report: str
    files: dict[str, str] = field(default_factory=dict, compare=False)
    package_dir: Path | None = None


def plan_notebook(
    t: Technique,
    profile: str,
    notebooks_dir: Path,
    staging: Path,
    published: Path,
    previous: dict[str, Any],
    *,
    run: bool,
    force: bool,
    kernel: str,
    keys: Keys,
) -> tuple[NotebookResult, Job | None]:
    """Decide what ``t`` needs in this run; cached files are copied into ``staging`` now.

    Args:
        run: false when ``--only`` leaves ``t`` out (its published result is carried over).
        force: execute even when the cached result is current.
        previous: the published manifest (``{}`` when there is none).

    Returns:
        ``(result, job)``; ``job`` is ``None`` when nothing is left to do.
    """
    src = notebooks_dir / f"{t.slug}.ipynb"
    prev = previous.get("notebooks", {}).get(t.slug)
    params = t.parameters(profile)
    if not run:  # --only: carry the published result over as it is
        if prev and copy_result(prev, published, staging):
            return NotebookResult(**{**prev, "cached": True}), None
        return NotebookResult(
            t.slug, t.title, "missing", error="not run (--only) and no earlier result"
        ), None
    if not src.exists():
        return NotebookResult(
            t.slug, t.title, "missing", error=f"notebook {src.name} not found in {notebooks_dir}"
        ), None
    exec_key = cache.execution_key(
        src, params, profile=profile, kernel=kernel, package_fp=keys.package, data_fp=keys.data
    )
    dkey = None
    if prev and prev.get("deps") and keys.package_dir is not None:
        dkey = cache.deps_key(src, params, profile=profile, kernel=kernel, deps=prev["deps"],
                              hashes=keys.files, package_dir=keys.package_dir)
    render_key = cache.render_key(exec_key, keys.report)
    result = NotebookResult(
        t.slug,
        t.title,
        "ok",
        notebook=f"{t.slug}.ipynb",
        html=f"{t.slug}.html",
        exec_key=exec_key,
        render_key=render_key,
        parameters=params,
    )
    spec = {
        "input": str(src),
        "output": str(staging / f"{t.slug}.ipynb"),
        "html": str(staging / f"{t.slug}.html"),
        "result": str(staging / f".{t.slug}.result.json"),
        "record_dir": str(staging / "records" / t.slug),
        "deps_file": str(staging / f".{t.slug}.deps"),
        "parameters": params,
        "kernel": kernel,
        "cwd": str(notebooks_dir),
        "plotly_js_src": PLOTLY_JS_SRC,
    }
    expected = (prev or {}).get("seconds") or None
    # current: nothing the last run depended on changed -- all of the package and data (exec_key), or
    # the files it actually used (deps_key)
    current = prev and (prev.get("exec_key") == exec_key or (dkey is not None and prev.get("deps_key") == dkey))
    reusable = (
        not force
        and current
        and prev.get("status") == "ok"
        and copy_result(prev, published, staging)
    )
    if not reusable:
        return result, Job(result, spec, execute=True, technique=t, expected_s=expected)
    result.cached, result.seconds, result.finished_at = (
        True,
        prev.get("seconds", 0.0),
        prev.get("finished_at"),
    )
    if prev.get("deps_key"):  # keep what the producing run used; its HTML is keyed by it
        result.deps, result.deps_key = prev.get("deps"), prev["deps_key"]
        result.render_key = render_key = cache.render_key(prev["deps_key"], keys.report)
    if prev.get("render_key") != render_key:  # same results, new HTML conversion
        return result, Job(result, spec, execute=False, technique=t)
    return result, None


def copy_result(prev: dict[str, Any], published: Path, staging: Path) -> bool:
    """Copy a published notebook's files into staging; false if any is missing."""
    slug = prev["slug"]
    names = [n for n in (prev.get("notebook"), prev.get("html")) if n]
    if not all((published / n).exists() for n in names):
        return False
    for n in names:
        shutil.copy2(published / n, staging / n)
    if (published / "records" / slug).is_dir():
        shutil.copytree(published / "records" / slug, staging / "records" / slug)
    return True


def longest_first(jobs: list[Job]) -> list[Job]:
    """Executions first, longest previous duration first; never-timed ones count as longest.

    A notebook without a recorded duration (new, or the first run) may be the longest, and
    starting it early costs little when it is short; render-only jobs take seconds and go last.
    The sort is stable, so equal durations keep the registry order.
    """
    return sorted(
        jobs,
        key=lambda j: (not j.execute, -(j.expected_s if j.expected_s else float("inf"))),
    )


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """The literal defaults of a notebook's parameters cell (``papermill --help-notebook``'s view)."""
    import ast

    import papermill

    params = papermill.inspect_notebook(str(path))
    return {name: ast.literal_eval(p["default"]) for name, p in params.items()}


def bank_entries(jobs: list[Job]) -> list[Any]:
    """The model-bank entries the executing ``jobs`` declare, each once (by ``.key()``), in order.

    A technique's ``bank`` sees the parameters the notebook will run with: its parameters cell
    merged with the profile's overrides.
    """
    seen: dict[Any, Any] = {}
    for j in jobs:
        if j.execute and j.technique is not None and j.technique.bank:
            bank = j.technique.bank
            fixed = isinstance(bank, (tuple, list))  # else a function of the parameters (or a FromLesson one)
            params = {} if fixed else {**notebook_parameters(j.spec["input"]), **j.spec["parameters"]}
            for entry in j.technique.bank_entries(params):
                seen.setdefault(entry.key(), entry)
    return list(seen.values())
