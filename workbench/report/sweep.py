"""Parameter sweeps: one notebook over a grid of papermill parameters, one task per point.

``workbench sweep alpha -p n_models=2,3 -p scale=1.0,0.5`` executes the notebook at the four
points of the grid with the report runner's executors (this machine's pool or Ray tasks),
gathers every point's records into one table and publishes, atomically as the report does,

``reports/sweeps/<slug>__<names>/``: ``sweep.html`` (the table and one plot per recorded
number across the swept parameter), ``points.csv`` (one row per point: its parameters,
status, time and ``key_numbers``), ``models.csv`` (every point's ``models`` rows with the
point's parameters), ``sweep.json``, and each point's ``<slug>-pNN.ipynb`` / ``.html`` /
``records/``.

Each point starts from the profile's parameters of a registered technique (if the notebook is
one), overridden by the point's values; the model-bank entries the points declare are built
first, as in a report run. Sweeps are not cached: every point executes.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import paths
from .assets import PLOTLY_JS_SRC, copy_plotly_js
from .executors import Executor, get_executor
from .plan import Job, NotebookResult
from .pool import KERNEL, EventCallback, Progress, check_kernel, now
from .publish import new_staging, profile_lock, publish, recover
from .techniques import TECHNIQUES, Technique

__all__ = ["SweepSummary", "parse_grid", "parse_value", "run_sweep", "sweep_name"]


@dataclass
class SweepSummary:
    """What :func:`run_sweep` did; ``ok`` is false if any point did not succeed.

    Attributes:
        out_dir: the published sweep folder.
        points: one :class:`~workbench.report.plan.NotebookResult` per grid point, in grid order.
        table: one row per point (parameters, status, seconds, key numbers).
        seconds: wall time of the whole sweep (s).
    """

    slug: str
    grid: dict[str, list[Any]]
    out_dir: Path
    html: Path
    points: list[NotebookResult]
    table: Any  # pandas.DataFrame
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.points)


def parse_value(text: str) -> Any:
    """A ``-p`` value: a JSON literal (``3``, ``0.5``, ``true``, ``[1, 2]``, ``"x"``), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split_values(text: str) -> list[str]:
    """Split ``V1,V2`` at the commas outside brackets and quotes (``[1,2],[3]`` is two values)."""
    out, depth, quote, cur = [], 0, False, ""
    for ch in text:
        if ch == '"':
            quote = not quote
        elif not quote and ch in "[{":
            depth += 1
        elif not quote and ch in "]}":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [*out, cur]


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """``["n=1,2", "w=0.5"]`` -> ``{"n": [1, 2], "w": [0.5]}`` (``ValueError`` for a bad spec)."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", name) or not values.strip():
            raise ValueError(f"bad parameter spec {spec!r}; expected NAME=V1,V2,...")
        if name in grid:
            raise ValueError(f"parameter {name!r} given twice; give all its values in one -p")
        grid[name] = [parse_value(v.strip()) for v in _split_values(values)]
    if not grid:
        raise ValueError("no parameters to sweep; give at least one -p NAME=V1,V2")
    return grid


def sweep_name(slug: str, grid: Mapping[str, Any]) -> str:
    """The sweep's folder name: ``<slug>__<swept names>`` (a new grid of them replaces it)."""
    return f"{slug}__{'_'.join(grid)}"


def _resolve(notebook: str, notebooks_dir: Path) -> tuple[str, Path, Technique | None]:
    """``(slug, path, technique or None)`` for a registered slug or a notebook path."""
    path = Path(notebook)
    if path.suffix == ".ipynb":
        if not path.exists():
            raise ValueError(f"notebook {notebook!r} not found")
        slug = path.stem
    else:
        slug, path = notebook, notebooks_dir / f"{notebook}.ipynb"
        if not path.exists():
            valid = ", ".join(sorted(p.stem for p in notebooks_dir.glob("*.ipynb")))
            raise ValueError(f"unknown notebook {notebook!r}; valid: {valid}")
    technique = TECHNIQUES.get(slug) if slug in TECHNIQUES else None
    return slug, path.resolve(), technique


def _check_names(slug: str, path: Path, grid: Mapping[str, Any]) -> None:
    import papermill

    valid = list(papermill.inspect_notebook(str(path)))
    unknown = [n for n in grid if n not in valid]
    if unknown:
        raise ValueError(
            f"unknown parameter {', '.join(unknown)} of notebook {slug}; valid: {', '.join(valid)}"
        )


def run_sweep(
    notebook: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    profile: str = "smoke",
    executor: Executor | str = "local",
    jobs: int | None = None,
    timeout: float | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    reports_dir: str | os.PathLike | None = None,
    kernel: str = KERNEL,
    on_event: EventCallback | None = None,
    build_bank: Any = "default",
) -> SweepSummary:
    """Execute ``notebook`` at every point of ``grid`` and publish the gathered sweep.

    Args:
        notebook: a registered technique slug (``notebooks/<slug>.ipynb``) or a ``.ipynb`` path.
        grid: ``{parameter: [values]}``; the points are the Cartesian product, first name slowest.
        profile: the technique profile the points start from (unregistered notebooks: their
            own parameters cell).
        executor: ``"local"``, ``"ray"`` or an executor object (:mod:`.executors`).
        jobs: points executed at once (default: the executor's cores).
        timeout: per-point wall-clock limit (s) or ``None``.
        notebooks_dir: where slugs are looked up, and the kernels' working directory.
        reports_dir: parent of ``sweeps/`` (default ``reports/``).
        kernel: Jupyter kernel name.
        on_event: progress callback, as for :func:`workbench.report.runner.run_reports`.
        build_bank: as for :func:`~workbench.report.runner.run_reports`.

    Returns:
        The :class:`SweepSummary`.

    Raises:
        ValueError: unknown notebook, parameter name, profile or executor; an empty grid.
    """
    from .runner import _build_bank, _closing, validate_options

    notebooks_dir = Path(notebooks_dir or paths.NOTEBOOKS_DIR).resolve()
    reports_dir = Path(reports_dir or paths.REPORTS_DIR).resolve()
    validate_options(profile, jobs=jobs, timeout=timeout)
    grid = {k: list(v) for k, v in grid.items()}
    if not grid or any(not v for v in grid.values()):
        raise ValueError(f"every swept parameter needs at least one value, got {grid!r}")
    slug, src, technique = _resolve(notebook, notebooks_dir)
    _check_names(slug, src, grid)
    owned = isinstance(executor, str)
    executor = get_executor(executor) if owned else executor
    name = sweep_name(slug, grid)
    sweeps = reports_dir / "sweeps"
    sweeps.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with profile_lock(sweeps, name), _closing(executor, owned):
        recover(sweeps, name)
        staging = new_staging(sweeps, name)
        try:
            base = technique.parameters(profile) if technique else {}
            todo = [
                _job(slug, f"{slug}-p{i:02d}", src, {**base, **dict(zip(grid, values, strict=True))},
                     technique, staging, notebooks_dir, kernel)
                for i, values in enumerate(itertools.product(*grid.values()))
            ]  # fmt: skip
            check_kernel(kernel)
            cores = executor.cores()
            jobs = cores if jobs is None else jobs
            threads = max(1, cores // max(1, min(jobs, len(todo))))
            copy_plotly_js(staging / "assets")
            progress = Progress(total=len(todo))
            if build_bank == "default":
                build_bank = executor.bank_builder() or "default"
            _build_bank(todo, build_bank, jobs, progress, on_event)
            executor.execute_all(todo, staging, profile, jobs, threads, timeout, progress, on_event)
            points = [j.result for j in todo]
            table, models = gather(staging, grid, points)
            table.to_csv(staging / "points.csv", index=False)
            if models is not None:
                models.to_csv(staging / "models.csv", index=False)
            meta = {
                "notebook": slug, "profile": profile, "grid": grid, "executor": executor.name,
                "jobs": jobs, "threads_per_notebook": threads, "created_at": now(),
                "seconds": round(time.monotonic() - started, 2),
                "points": [asdict(r) for r in points],
            }  # fmt: skip
            (staging / "sweep.json").write_text(json.dumps(meta, indent=1, default=str))
            from .sweep_page import write_sweep_page

            write_sweep_page(staging / "sweep.html", meta, table, models)
            publish(staging, sweeps / name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    out = sweeps / name
    return SweepSummary(
        slug, grid, out, out / "sweep.html", points, table, time.monotonic() - started
    )


def _job(slug, pid, src, params, technique, staging, notebooks_dir, kernel) -> Job:
    result = NotebookResult(
        pid, f"{slug} {params}", "ok", notebook=f"{pid}.ipynb", html=f"{pid}.html",
        parameters=params,
    )  # fmt: skip
    spec = {
        "input": str(src),
        "output": str(staging / f"{pid}.ipynb"),
        "html": str(staging / f"{pid}.html"),
        "result": str(staging / f".{pid}.result.json"),
        "record_dir": str(staging / "records" / pid),
        "parameters": params,
        "kernel": kernel,
        "cwd": str(notebooks_dir if (notebooks_dir / src.name).exists() else src.parent),
        "plotly_js_src": PLOTLY_JS_SRC,
    }
    return Job(result, spec, execute=True, technique=technique)


def _number(v: Any) -> Any:
    """A key number's value: ``{"value": x, "unit": u}`` -> x; scalars as they are; else None."""
    if isinstance(v, Mapping):
        v = v.get("value")
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int | float | str):
        return None if isinstance(v, float) and math.isnan(v) else v
    return None


def gather(staging: Path, grid: Mapping[str, Any], points: Sequence[NotebookResult]):
    """``(points table, models table or None)`` from every point's records under ``staging``.

    The points table has one row per point: ``point``, the swept parameters, ``status``,
    ``seconds``, ``error``, ``verdict`` (of ``claim_result``, if recorded) and one column per
    ``key_numbers`` entry. The models table stacks every point's ``models`` record with the
    point's id and swept parameters in front.
    """
    import pandas as pd

    from .record import load_records

    rows, frames = [], []
    for r in points:
        d = staging / "records" / r.slug
        recs = load_records(d) if d.is_dir() else {}
        swept = {k: _cell(r.parameters.get(k)) for k in grid}
        row = {"point": r.slug, **swept, "status": r.status, "seconds": r.seconds, "error": r.error}
        claim = recs.get("claim_result")
        if isinstance(claim, Mapping):
            row["verdict"] = claim.get("verdict")
        for k, v in (recs.get("key_numbers") or {}).items():
            row.setdefault(k, _number(v))
        rows.append(row)
        models = recs.get("models")
        if isinstance(models, pd.DataFrame) and len(models):
            front = pd.DataFrame({"point": r.slug, **swept}, index=models.index)
            frames.append(pd.concat([front, models.drop(columns=[*grid, "point"], errors="ignore")], axis=1))
    models = pd.concat(frames, ignore_index=True) if frames else None
    return pd.DataFrame(rows), models


def _cell(v: Any) -> Any:
    """A swept value as a table cell: scalars as they are, lists and dicts as JSON text."""
    return v if v is None or isinstance(v, bool | int | float | str) else json.dumps(v)
