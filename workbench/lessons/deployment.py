"""Verdict and takeaways of the ``deployment`` notebook.

Rule (:func:`conclude`), three parts, each testable or not:

* speed -- the best exported fp32 runtime (ONNX Runtime, OpenVINO) is at least
  :data:`MIN_SPEEDUP` x faster than PyTorch eager at batch 1 (on every thread count measured);
* agreement -- every fp32 runtime's top-1 agrees with eager on >= :data:`FP32_AGREEMENT` % of the
  test images and every int8 one on >= :data:`INT8_AGREEMENT` %;
* ranking -- the latency ranking of the zoo models is stable across runtimes: the smallest
  Spearman rank correlation between two runtimes is >= :data:`MIN_RHO`; untestable with fewer
  than :data:`MIN_MODELS` models.

supported = all testable parts hold (and all three are testable); not supported = none holds;
partly supported otherwise; inconclusive when no part is testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .verdicts import Lesson, combine_parts

CLAIM = (
    "Exported runtimes (ONNX Runtime, OpenVINO) agree with PyTorch eager to the top-1 and run a small CNN "
    "faster at batch 1, and the latency ranking of architectures carries over between runtimes "
    "(Spearman rho >= 0.8 over >= 8 zoo models), so an architecture chosen on eager latency stays a good choice."
)
MIN_SPEEDUP = 1.2
FP32_AGREEMENT = 99.9  # % of test images
INT8_AGREEMENT = 99.0
MIN_RHO = 0.8
MIN_MODELS = 8
EXPORTED = ("onnxruntime", "openvino")


def rank_correlation(zoo: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spearman rank correlation of model latencies between runtimes.

    Args:
        zoo: an interleaved latency table with ``model, runtime, ratio`` (see
            :func:`workbench.deploy.split_names`).

    Returns:
        ``(rho, wide)``: the runtime x runtime Spearman matrix, and the model x runtime table of
        latency ratios (to the run's baseline) with each runtime's rank (1 = fastest).
    """
    wide = zoo.pivot(index="model", columns="runtime", values="ratio")
    return wide.rank().corr(method="pearson"), wide  # Pearson on ranks = Spearman (no scipy needed)


def _speed(latency: pd.DataFrame) -> tuple[str, float | None, str]:
    b1 = latency[(latency.batch_size == 1) & (latency.precision == "fp32")]
    exported = b1[b1.runtime.isin(EXPORTED)]
    if exported.empty or not (b1.runtime == "eager").any():
        return "untestable", None, "no exported fp32 runtime measured at batch 1"
    per_thread = []
    for t, g in b1.groupby("threads"):
        eager = float(g[g.runtime == "eager"].ratio.iloc[0])
        best = g[g.runtime.isin(EXPORTED)].ratio.min()
        per_thread.append((t, eager / best, g[g.runtime.isin(EXPORTED)].loc[lambda d: d.ratio.idxmin(), "runtime"]))
    worst = min(per_thread, key=lambda r: r[1])
    held = worst[1] >= MIN_SPEEDUP
    why = ", ".join(f"{s:.2f}x ({rt}, {t} thread{'s' if t > 1 else ''})" for t, s, rt in per_thread)
    return ("holds" if held else "fails"), worst[1], f"best exported runtime vs eager at batch 1: {why}"


def _agreement(agree: pd.DataFrame) -> tuple[str, str]:
    if agree.empty:
        return "untestable", "no agreement measured"
    need = agree.precision.map({"fp32": FP32_AGREEMENT, "int8": INT8_AGREEMENT}).fillna(0.0)
    bad = agree[agree.top1_agreement < need]
    lo = agree.loc[agree.top1_agreement.idxmin()]
    why = f"lowest top-1 agreement {lo.top1_agreement:.2f}% ({lo['name']})"
    return ("fails" if len(bad) else "holds"), why + (f"; below bound: {', '.join(bad['name'])}" if len(bad) else "")


def _ranking(rho: pd.DataFrame | None, n_models: int) -> tuple[str, float | None, str]:
    if rho is None or n_models < MIN_MODELS or rho.shape[0] < 2:
        return "untestable", None, f"ranking untestable ({n_models} models, need {MIN_MODELS})"
    pairs = [(a, b, rho.loc[a, b]) for i, a in enumerate(rho.index) for b in rho.columns[i + 1 :]]
    a, b, low = min(pairs, key=lambda p: p[2])
    state = "holds" if low >= MIN_RHO else "fails"
    return state, float(low), f"smallest Spearman rho {low:.2f} ({a} vs {b}, {n_models} models)"


def conclude(latency: pd.DataFrame, agree: pd.DataFrame, zoo: pd.DataFrame | None = None) -> Lesson:
    """The deployment verdict and takeaways.

    Args:
        latency: interleaved latency ratios of the trained model on each runtime, one row per
            ``runtime, precision, threads, batch_size`` with ``ratio`` (to eager fp32 of the
            same threads and batch).
        agree: :func:`workbench.deploy.agreement` rows with a ``precision`` column.
        zoo: latency table of the zoo models with ``model, runtime, ratio`` (optional).
    """
    speed, speedup, why_speed = _speed(latency)
    agreement, why_agree = _agreement(agree)
    rho, wide = rank_correlation(zoo) if zoo is not None and not zoo.empty else (None, None)
    n_models = 0 if wide is None else len(wide)
    ranking, low_rho, why_rank = _ranking(rho, n_models)
    states = [speed, agreement, ranking]
    verdict = combine_parts(states)
    evidence = f"Speed {speed}: {why_speed}; agreement {agreement}: {why_agree}; ranking {ranking}: {why_rank}."

    takeaways: list[str] = []
    for (t, b), g in latency.groupby(["threads", "batch_size"]):
        order = g.sort_values("ratio")
        takeaways.append(
            f"{t} thread(s), batch {b}: "
            + ", ".join(f"{r.runtime} {r.precision} {r.ratio:.2f}" for r in order.itertuples())
            + " (latency / eager fp32)."
        )
    for r in agree.itertuples():
        takeaways.append(f"{r.name}: top-1 agreement {r.top1_agreement:.2f}%, max |logit diff| {r.max_abs_diff:.2g}.")
    if wide is not None and n_models:
        fastest = {rt: wide[rt].idxmin() for rt in wide.columns}
        same = len(set(fastest.values())) == 1
        takeaways.append(
            "Fastest zoo model per runtime: " + ", ".join(f"{rt}: {m}" for rt, m in fastest.items())
            + (" (the same everywhere)." if same else " (it changes with the runtime).")
        )
    key: dict[str, Any] = {}
    if speedup is not None:
        key["exported runtime vs eager, batch 1"] = {"value": round(speedup, 2), "unit": "x (worst thread count)"}
    if not agree.empty:
        key["lowest top-1 agreement"] = {"value": round(float(agree.top1_agreement.min()), 2), "unit": "%"}
    if low_rho is not None:
        key["smallest Spearman rho"] = round(low_rho, 2)
    key["zoo models ranked"] = n_models
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key)


def runtime_rows(latency: pd.DataFrame, *, threads: int, batch_size: int) -> pd.DataFrame:
    """A ``compare_latency`` table whose names are ``"<runtime> <precision>"`` with those columns split out."""
    parts = latency.name.str.rsplit(" ", n=1, expand=True)
    return latency.assign(runtime=parts[0], precision=parts[1], threads=threads, batch_size=batch_size)


def bank_entries(params: Mapping[str, Any]) -> list:
    """The one bank model the notebook deploys (shared with ``mobile_convs`` and ``quantization``)."""
    from ..bank import BankEntry

    return [BankEntry(params["backbone"], params["recipe"], params["seed"], {"small_input": True})]
