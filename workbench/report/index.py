"""Aggregate a report folder into ``index.html`` and ``index.md``.

The index reads what the notebooks recorded (:mod:`workbench.report.record`) and shows:

* a card per technique: title, claim, verdict, key numbers, ``card_*`` figures, status, run
  time, links to the executed notebook (failures show the error and link to the banner);
* a leaderboard of every ``models`` row of every notebook (sortable, no external JS);
* Pareto plots across notebooks: accuracy vs MACs, accuracy vs latency, latency vs MACs;
* the zoo's claimed-vs-measured table (``workbench.models.claims.claims_vs_measured``);
* a machine card (``workbench.measure.machine_peak`` / ``environment``);
* a link to the literature page (:func:`workbench.report.literature_page.build_literature_page`).

The last three come from :class:`IndexExtras`; each is optional (a note replaces a missing or
failing one) and cached in ``reports/.cache/`` by the hash of the sources it depends on
(zoo: ``workbench/{layers,models,measure}`` + ``datasets/claims``; machine:
``workbench/measure`` + CPU model + host; literature: ``workbench/literature`` +
``datasets/literature``), because the zoo table profiles ~40 models and the machine card runs a
GEMM benchmark.
"""

from __future__ import annotations

import json
import platform
import shutil
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from ..paths import DATASETS_DIR, PACKAGE_DIR
from ..plots import fmt
from .assets import PLOTLY_JS_SRC
from .cache import sources_fingerprint
from .notebook_html import plotly_div
from .record import MODEL_COLUMNS, load_records

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass
class IndexExtras:
    """Optional cross-cutting sections of the index; ``None`` leaves a section out.

    Attributes:
        claims: returns the zoo's claimed-vs-measured DataFrame.
        machine: returns a flat dict describing the machine (cpu, cores, gemm_gflops, ...).
        literature: ``(out_path, plotly_js_src)`` writes the literature page to ``out_path``.
    """

    claims: Callable[[], Any] | None = None
    machine: Callable[[], dict[str, Any]] | None = None
    literature: Callable[[Path, str], Any] | None = None


def default_extras() -> IndexExtras:
    """The package's own providers, for those modules that exist (checked without importing)."""
    return IndexExtras(
        claims=_zoo_claims if (PACKAGE_DIR / "models" / "claims.py").exists() else None,
        machine=_machine_info if (PACKAGE_DIR / "measure").is_dir() else None,
        literature=_literature_page if (PACKAGE_DIR / "literature").is_dir() else None,
    )


def _zoo_claims() -> Any:
    from workbench.measure.claims import claims_vs_measured

    return claims_vs_measured()


def _machine_info() -> dict[str, Any]:
    import workbench.measure as m

    peak = m.machine_peak()
    fields = asdict(peak) if is_dataclass(peak) else dict(peak)
    info: dict[str, Any] = dict(m.environment()) if hasattr(m, "environment") else {}
    info.update(fields.pop("env", None) or {})  # the environment the peak was measured in
    fields.pop("cached", None)
    info.update(fields)
    if hasattr(peak, "ridge_macs_per_byte"):
        info["ridge_macs_per_byte"] = peak.ridge_macs_per_byte
    return info


def _literature_page(out_path: Path, plotly_js_src: str) -> Any:
    from .literature_page import build_literature_page

    return build_literature_page(out_path, plotly_js_src)


@dataclass
class Prepared:
    """The index sections that do not depend on the notebooks' results (:func:`prepare_extras`).

    Attributes:
        machine: the machine card's dict, or ``None``.
        claims: the zoo claims table as a list of row dicts, or ``None``.
        notes: one line per section that could not be built.
    """

    machine: dict[str, Any] | None = None
    claims: list[dict[str, Any]] | None = None
    notes: tuple[str, ...] = ()


def prepare_extras(out_dir: Path, extras: Any = "default", *, cache_dir: Path | None = None) -> Prepared:
    """Compute the machine card and zoo claims, and write ``out_dir/literature.html``.

    None of them depends on what the notebooks record, so the runner calls this BEFORE the
    notebooks run: a cold zoo table (~1-2 min) or machine peak then measures an idle machine
    and does not delay the publication after the last notebook.

    Each section is cached in ``cache_dir`` by the hash of the sources it depends on, so
    unrelated edits do not recompute it.

    Args:
        out_dir: the report folder being built (the literature page is written there).
        extras: :class:`IndexExtras`, ``"default"`` (:func:`default_extras`) or ``None``.
        cache_dir: where sections are cached; ``None`` disables caching.
    """
    extras = (default_extras() if extras == "default" else extras) or IndexExtras()
    pkg, data = PACKAGE_DIR, DATASETS_DIR
    machine_key = _machine_key(sources_fingerprint(pkg / "measure"))
    claims_key = sources_fingerprint(
        pkg / "layers", pkg / "models", pkg / "measure", data / "claims"
    )
    literature_key = sources_fingerprint(
        pkg / "literature",
        pkg / "plots" / "literature.py",
        pkg / "report" / "literature_page.py",
        pkg / "report" / "coverage.py",
        pkg / "report" / "techniques.py",
        data / "literature",
    )
    machine, machine_note = _cached_call(cache_dir, "machine", machine_key, extras.machine)
    claims, claims_note = _cached_call(cache_dir, "claims", claims_key, extras.claims)
    literature_note = _literature(out_dir, cache_dir, literature_key, extras.literature)
    notes = tuple(n for n in (machine_note, claims_note, literature_note) if n)
    return Prepared(machine=machine, claims=claims, notes=notes)


# ---------------------------------------------------------------------------------------------
def build_index(
    out_dir: Path,
    results: list,
    *,
    meta: dict[str, Any],
    techniques: list | tuple = (),
    extras: Any = "default",
    cache_dir: Path | None = None,
    prepared: Prepared | None = None,
) -> Path:
    """Write ``index.html`` and ``index.md`` into ``out_dir``; returns the HTML path.

    Args:
        out_dir: report folder holding ``records/<slug>/`` and the notebooks' HTML.
        results: :class:`workbench.report.runner.NotebookResult` list, in display order.
        techniques: the :class:`~workbench.report.techniques.Technique` s of ``results`` (claims).
        meta: run metadata (profile, created_at, jobs, threads_per_notebook, kernel,
            package_fingerprint, data_fingerprint).
        extras: :class:`IndexExtras`, ``"default"`` (:func:`default_extras`) or ``None``.
        cache_dir: where extras are cached; ``None`` disables caching.
        prepared: the extras already computed by :func:`prepare_extras` (the runner does it
            before the notebooks run); ``None`` computes them here from ``extras``.
    """
    import pandas as pd

    if prepared is None:
        prepared = prepare_extras(out_dir, extras, cache_dir=cache_dir)
    machine, claims = prepared.machine, prepared.claims
    notes: list[str] = list(prepared.notes)
    cards, frames = [], []
    by_slug = {t.slug: t for t in techniques}
    for r in results:
        recs = _safe_records(out_dir / "records" / r.slug, notes)
        cards.append(_card(r, recs, by_slug.get(r.slug)))
        models = recs.get("models")
        if isinstance(models, pd.DataFrame) and len(models):
            frames.append(models.assign(source=r.slug, source_title=r.title))
    verdicts = {r.slug: c["verdict"] for r, c in zip(results, cards, strict=True) if c.get("verdict")}
    if verdicts and (out_dir / "literature.html").exists():
        note = _literature_with_verdicts(out_dir, verdicts)
        if note:
            notes.append(note)
    models = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[*MODEL_COLUMNS, "source"])
    )
    for col in MODEL_COLUMNS:
        if col not in models.columns:
            models[col] = (
                float("nan")
                if col in ("params", "macs", "latency_ms", "latency_ratio", "accuracy")
                else ""
            )


    from ..plots.pareto import pareto_figures

    peak = (machine or {}).get("gemm_gflops")
    figures = [(title, plotly_div(fig, height=440)) for title, fig in pareto_figures(models, peak)]
    claims_df = pd.DataFrame(claims) if claims is not None else None
    if claims_df is not None:
        claims_df.to_csv(out_dir / "claims.csv", index=False)

    ctx = {
        "meta": meta,
        "results": results,
        "counts": _counts(results),
        "cards": cards,
        "leaderboard": _leaderboard(models),
        "n_models": len(models),
        "figures": figures,
        "claims": _claims_table(claims_df) if claims_df is not None else None,
        "machine": _machine_rows(machine) if machine else None,
        "literature": (out_dir / "literature.html").exists(),
        "notes": notes,
        "plotly_js_src": PLOTLY_JS_SRC,
        "css": (TEMPLATES_DIR / "report.css").read_text(),
        "js": (TEMPLATES_DIR / "report.js").read_text(),
        "fmt": fmt,
    }
    env = _jinja()
    (out_dir / "index.md").write_text(env.get_template("index.md.j2").render(**ctx))
    html = out_dir / "index.html"
    html.write_text(env.get_template("index.html.j2").render(**ctx), encoding="utf-8")
    return html


def _jinja():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _safe_records(directory: Path, notes: list[str]) -> dict[str, Any]:
    if not directory.is_dir():
        return {}
    try:
        return load_records(directory)
    except Exception as e:  # one unreadable sidecar must not take the index down
        notes.append(f"records in {directory.name}/ unreadable: {type(e).__name__}: {e}")
        return {}


def _counts(results: list) -> dict[str, int]:
    out = {"total": len(results), "ok": 0, "failed": 0, "cached": 0}
    for r in results:
        out["ok" if r.status == "ok" else "failed"] += 1
        out["cached"] += bool(r.cached)
    return out


def _card(r: Any, recs: dict[str, Any], tech: Any) -> dict[str, Any]:
    numbers = []
    for label, v in (recs.get("key_numbers") or {}).items():
        value, unit = (v.get("value"), v.get("unit")) if isinstance(v, dict) else (v, None)
        numbers.append((label, fmt.with_unit(value, unit)))
    figs = []
    for k, fig in recs.items():
        if k.startswith("card_") and isinstance(fig, dict):
            layout = fig.setdefault("layout", {})
            layout.setdefault("margin", {"l": 50, "r": 15, "t": 50, "b": 40})  # cards are narrow
            figs.append(plotly_div(fig, height=int(layout.get("height") or 320)))
    claim_result = recs.get("claim_result") or {}
    return {
        "r": r,
        "claim": str(tech.claim) if tech else "",
        "papers": tech.papers if tech else (),
        "verdict": claim_result.get("verdict"),
        "evidence": claim_result.get("evidence"),
        "reliability": claim_result.get("reliability"),
        "environment": (recs.get("environment") or {}) if isinstance(recs.get("environment"), dict) else {},
        "numbers": numbers,
        "figures": figs,
        "records": sorted(recs),
    }


def _leaderboard(models: Any) -> list[dict[str, Any]]:
    rows = []
    for m in models.to_dict(orient="records"):
        rows.append(
            {
                "name": m["name"],
                "source": m.get("source", ""),
                "cells": [
                    (fmt.count(m["params"]), _sort_value(m["params"])),
                    (fmt.count(m["macs"]), _sort_value(m["macs"])),
                    (fmt.ms(m["latency_ms"]), _sort_value(m["latency_ms"])),
                    (fmt.ratio(m["latency_ratio"]), _sort_value(m["latency_ratio"])),
                    (fmt.pct(m["accuracy"]), _sort_value(m["accuracy"])),
                ],
                "baseline": "" if fmt.is_missing(m["baseline"]) else str(m["baseline"]),
                "dataset": "" if fmt.is_missing(m["dataset"]) else str(m["dataset"]),
                "notes": "" if fmt.is_missing(m["notes"]) else str(m["notes"]),
            }
        )
    return rows


def _sort_value(x: Any) -> str:
    return "" if fmt.is_missing(x) else repr(float(x))


_VERDICT_CLASS = {"agrees": "good", "mismatch": "bad"}


def _claims_table(df: Any) -> dict[str, Any]:
    """Display cells of the zoo table: counts in K/M/G (``*_m`` columns are millions), deltas
    signed %, the verdict coloured; every other column as text."""
    cols = list(df.columns)
    headers = [
        c.removesuffix("_m").removesuffix("_pct").replace("_", " ")
        + (" %" if c.endswith("_pct") else "")
        for c in cols
    ]
    rows = []
    for rec in df.to_dict(orient="records"):
        row = []
        for c in cols:
            v = rec[c]
            numeric = isinstance(v, int | float) and not isinstance(v, bool)
            if "delta" in c and numeric:
                row.append((fmt.pct(v, signed=True), "num", _sort_value(v)))
            elif c.startswith(("params", "macs", "flops")) and numeric:
                scale = 1e6 if c.endswith("_m") else 1.0
                row.append(
                    (fmt.count(None if fmt.is_missing(v) else v * scale), "num", _sort_value(v))
                )
            elif c == "verdict":
                row.append((str(v), _VERDICT_CLASS.get(str(v).lower(), "muted"), ""))
            elif c in ("note", "source"):  # long prose: one clipped line, full text on hover
                row.append(("" if fmt.is_missing(v) else str(v), "clip", ""))
            else:
                row.append(
                    ("" if fmt.is_missing(v) else fmt.number(v) if numeric else str(v), "", "")
                )
        rows.append(row)
    return {"columns": headers, "rows": rows}


_MACHINE_FIRST = (
    "cpu",
    "isa",
    "cores",
    "threads",
    "gemm_gflops",
    "bandwidth_gbs",
    "ridge_macs_per_byte",
    "torch",
    "python",
)
_MACHINE_UNITS = {
    "gemm_gflops": "GFLOP/s",
    "bandwidth_gbs": "GB/s",
    "ridge_macs_per_byte": "MACs/byte",
}


def _machine_rows(machine: dict[str, Any]) -> list[tuple[str, str]]:
    keys = [k for k in _MACHINE_FIRST if k in machine] + sorted(
        k for k in machine if k not in _MACHINE_FIRST
    )
    rows = []
    for k in keys:
        v = machine[k]
        text = (
            fmt.with_unit(v, _MACHINE_UNITS.get(k))
            if isinstance(v, int | float)
            else json.dumps(v)
            if isinstance(v, dict | list)
            else str(v)
        )
        rows.append((k.replace("_", " "), text))
    return rows


def _machine_key(key: str) -> str:
    try:
        cpu = next(
            line
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    return f"{key}:{platform.node()}:{cpu}"


def _cached_call(
    cache_dir: Path | None, name: str, key: str, compute: Callable[[], Any] | None
) -> tuple[Any, str | None]:
    """``compute()`` as plain JSON data, cached under ``cache_dir`` by ``key``; (value, note).

    A failure becomes a note for the page (and is cached too: the key covers its causes).
    """
    if compute is None:
        return None, None
    import hashlib

    path = (
        cache_dir / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
        if cache_dir
        else None
    )
    if path is not None and path.exists():
        cached = json.loads(path.read_text())
        return cached["value"], cached["note"]
    try:
        value, note = compute(), None
    except Exception as e:  # same source and data fail the same way: cached like a value
        tb = traceback.extract_tb(e.__traceback__)[-1]
        value, note = (
            None,
            f"{name} section unavailable: {type(e).__name__}: {e} ({Path(tb.filename).name}:{tb.lineno})",
        )
    from .record import to_jsonable

    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # DataFrame
        value = value.to_dict(orient="records")
    value = to_jsonable(value)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"value": value, "note": note}))
    return value, note


def _literature_with_verdicts(out_dir: Path, verdicts: dict[str, str]) -> str | None:
    """Re-render ``literature.html`` with this run's verdicts beside each notebook link (not cached:
    the verdicts change with every run; rendering takes a fraction of a second)."""
    try:
        from .literature_page import build_literature_page

        build_literature_page(out_dir / "literature.html", PLOTLY_JS_SRC, verdicts=verdicts)
    except Exception as e:  # the page without verdicts stays
        return f"literature page without verdicts: {type(e).__name__}: {e}"
    return None


def _literature(
    out_dir: Path, cache_dir: Path | None, key: str, build: Callable[[Path, str], Any] | None
) -> str | None:
    if build is None:
        return None
    import hashlib

    out = out_dir / "literature.html"
    cached = (
        cache_dir / f"literature-{hashlib.sha256(key.encode()).hexdigest()[:16]}.html"
        if cache_dir
        else None
    )
    if cached is not None and cached.exists():
        shutil.copy2(cached, out)
        return None
    try:
        build(out, PLOTLY_JS_SRC)
    except Exception as e:
        return f"literature page unavailable: {type(e).__name__}: {e}"
    if not out.exists():
        return "literature page unavailable: build_literature_page wrote nothing"
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out, cached)
    return None
