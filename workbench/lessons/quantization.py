"""Verdict and takeaways of the ``quantization`` notebook.

Rule (:func:`conclude`) on the target "real int8 runs >= 2x faster than fp32 on the same runtime
at <= 1 point accuracy drop, at 28 px and at 224 px (speed only at 224)":

* per real backend: ``speedup = fp32 ratio / int8 ratio`` (both from one interleaved run, so the
  baseline cancels), at 28 and 224 px; ``accuracy_drop`` = fp32 - int8 accuracy at 28 px;
* supported -- one backend reaches :data:`TARGET_SPEEDUP` at both resolutions with a drop of at
  most :data:`MAX_DROP` points;
* partly supported -- no backend meets all three, but one meets the speed-up at one resolution
  or is faster than fp32 (:data:`FASTER`) at both with the drop within bounds; also when the speed
  holds but accuracy is untestable (training too short);
* not supported -- int8 is not faster than fp32 on any backend;
* inconclusive -- no real int8 backend ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..experiment import LINEAR_BASELINE_ACC
from .verdicts import Lesson

CLAIM = (
    "8-bit quantization is nearly free in accuracy and 4-bit needs per-channel weights, a clipped range and "
    "QAT; real int8 kernels run a MobileNetV2 >= 2x faster than fp32 on the same runtime at <= 1 point "
    "accuracy drop, at 28 px and at 224 px."
)
TARGET_SPEEDUP = 2.0
MAX_DROP = 1.0  # accuracy points
FASTER = 1.1  # a speed-up below this is within what interleaved ratios can resolve here
#: The white paper's PTQ results (Nagel et al., "A White Paper on Neural Network Quantization",
#: 2021, Table 8, ImageNet top-1 %): MobileNetV2 fp32 71.72; W8A8 70.99; W4A8 (AdaRound) 69.25.
WHITE_PAPER_MOBILENETV2 = {"fp32": 71.72, "W8A8": 70.99, "W4A8 AdaRound": 69.25}


def speedups(latency: pd.DataFrame, accuracy: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Per real backend: int8 vs fp32 on the same runtime, and vs PyTorch eager fp32.

    Args:
        latency: a ``compare_latency`` table whose names are ``"<runtime> fp32"`` and
            ``"<runtime> int8"`` (baseline ``"eager fp32"``).
        accuracy: name -> top-1 accuracy (%), optional (at 224 px the models are untrained).

    Returns:
        one row per runtime with both precisions: ``runtime, fp32_ratio, int8_ratio,
        speedup_vs_fp32, speedup_vs_eager, fp32_accuracy, int8_accuracy, accuracy_drop``.
    """
    r = dict(zip(latency.name, latency.ratio, strict=True))
    rows = []
    for name in latency.name:
        runtime, _, precision = name.rpartition(" ")
        if precision != "int8" or f"{runtime} fp32" not in r:
            continue
        fp, q = r[f"{runtime} fp32"], r[name]
        row = {"runtime": runtime, "fp32_ratio": fp, "int8_ratio": q, "speedup_vs_fp32": fp / q, "speedup_vs_eager": 1 / q}
        if accuracy:
            fa, qa = accuracy.get(f"{runtime} fp32", float("nan")), accuracy.get(name, float("nan"))
            row |= {"fp32_accuracy": fa, "int8_accuracy": qa, "accuracy_drop": fa - qa}
        rows.append(row)
    return pd.DataFrame(rows)


def _verdict(s28: pd.DataFrame, s224: pd.DataFrame, accuracy_ok: bool, large_px: int = 224) -> tuple[str, str, str]:
    both = s28.merge(s224[["runtime", "speedup_vs_fp32"]], on="runtime", suffixes=("_28", "_224"))
    if both.empty:
        return "inconclusive", "", "no real int8 backend ran at both resolutions"
    both["worst"] = both[["speedup_vs_fp32_28", "speedup_vs_fp32_224"]].min(axis=1)
    best = both.loc[both.worst.idxmax()]
    drop = best.get("accuracy_drop", float("nan"))
    drop_ok = accuracy_ok and drop <= MAX_DROP
    why = (
        f"{best.runtime}: int8 {best.speedup_vs_fp32_28:.2f}x faster than its fp32 at 28 px and "
        f"{best.speedup_vs_fp32_224:.2f}x at {large_px} px"
        + (f", accuracy drop {drop:+.2f} points" if accuracy_ok else ", accuracy untestable (training too short)")
    )
    if best.worst >= TARGET_SPEEDUP and drop_ok:
        return "supported", best.runtime, why
    speed_any = (both[["speedup_vs_fp32_28", "speedup_vs_fp32_224"]] >= TARGET_SPEEDUP).any(axis=None)
    faster_all = best.worst >= FASTER
    if not (both[["speedup_vs_fp32_28", "speedup_vs_fp32_224"]] >= FASTER).any(axis=None):
        return "not supported", best.runtime, why
    if speed_any or faster_all:
        return "partly supported", best.runtime, why
    return "not supported", best.runtime, why


def conclude(
    sweep: pd.DataFrame,
    sensitivity: pd.DataFrame,
    qat: Mapping[str, float],
    speed28: pd.DataFrame,
    speed224: pd.DataFrame,
    *,
    status: Mapping[str, str] | None = None,
    bf16_ratio: float | None = None,
    large_px: int = 224,
) -> Lesson:
    """The quantization verdict and takeaways.

    Args:
        sweep: :func:`workbench.compress.quantize.sweep` (float row first).
        sensitivity: :func:`workbench.compress.quantize.layer_sensitivity`.
        qat: ``{"float", "ptq", "qat", "bits"}`` accuracies (%) and the QAT bit-width.
        speed28, speed224: :func:`speedups` at 28 px (with accuracy) and 224 px.
        status: backend -> ``"ok"`` or why it did not run.
        bf16_ratio: eager bf16 latency / eager fp32 latency at ``large_px``, optional.
        large_px: the resolution of ``speed224`` (224 in the default profile).
    """
    base = float(sweep.accuracy.iloc[0])
    accuracy_ok = base >= LINEAR_BASELINE_ACC
    verdict, best, why = _verdict(speed28, speed224, accuracy_ok, large_px)
    evidence = f"Target int8 >= {TARGET_SPEEDUP:.0f}x at <= {MAX_DROP:.0f} point drop; best backend {why}."
    if verdict == "inconclusive":
        evidence = f"No real int8 backend ran ({why})."

    takeaways: list[str] = []
    if not accuracy_ok:
        takeaways.append(f"The float model reaches only {base:.1f}% (below a linear classifier, ~84%): training too short, accuracy drops are not meaningful.")
    default = sweep[(sweep.per_channel == True) & (sweep.symmetric == True) & (sweep.method == "minmax")]  # noqa: E712
    if not default.empty:
        takeaways.append(
            "Bit-width sweep (per-channel symmetric min-max, weights and activations): "
            + ", ".join(f"{int(r.bits)} bits {r.accuracy:.1f}%" for r in default.itertuples())
            + f" vs float {base:.1f}%."
        )
    low = sweep[(sweep.bits == sweep[sweep.bits < 32].bits.min()) & sweep.method.ne("float")] if (sweep.bits < 32).any() else sweep.iloc[:0]
    four = sweep[sweep.bits == 4]
    grid = four if len(four) > 1 else low
    if len(grid) > 1:
        hi, lo = grid.loc[grid.accuracy.idxmax()], grid.loc[grid.accuracy.idxmin()]
        desc = lambda r: f"{'per-channel' if r.per_channel else 'per-tensor'} {'symmetric' if r.symmetric else 'asymmetric'} {r.method}"  # noqa: E731
        takeaways.append(f"At {int(grid.bits.iloc[0])} bits the range choice matters: best {desc(hi)} {hi.accuracy:.1f}%, worst {desc(lo)} {lo.accuracy:.1f}%.")
    if not sensitivity.empty:
        by_kind = sensitivity.groupby("kind").accuracy_drop.mean().sort_values(ascending=False)
        worst = sensitivity.iloc[0]
        takeaways.append(
            "Per-layer sensitivity (one layer quantized at a time), mean drop by kind: "
            + ", ".join(f"{k} {v:+.2f}" for k, v in by_kind.items())
            + f" points; worst layer {worst.layer} ({worst.kind}, {worst.accuracy_drop:+.2f})."
        )
    if qat:
        takeaways.append(
            f"QAT at {int(qat['bits'])} bits: post-training {qat['ptq']:.1f}% -> {qat['qat']:.1f}% after the short fine-tune "
            f"(float {qat['float']:.1f}%), {'recovering' if qat['qat'] > qat['ptq'] else 'not recovering'} "
            f"{qat['qat'] - qat['ptq']:+.1f} points."
        )
    for label, s in (("28 px", speed28), (f"{large_px} px", speed224)):
        for r in s.itertuples():
            acc = f", accuracy {r.fp32_accuracy:.2f}% -> {r.int8_accuracy:.2f}%" if "int8_accuracy" in s else ""
            takeaways.append(f"{label}, {r.runtime}: int8 {r.speedup_vs_fp32:.2f}x faster than its own fp32, {r.speedup_vs_eager:.2f}x faster than PyTorch eager fp32{acc}.")
    if bf16_ratio is not None:
        takeaways.append(f"bf16 in PyTorch eager: {bf16_ratio:.2f}x the fp32 latency at {large_px} px (AVX512-BF16 kernels, no calibration needed).")
    for backend, why_not in (status or {}).items():
        if why_not != "ok":
            takeaways.append(f"Backend {backend}: {why_not}.")

    key: dict[str, Any] = {"float accuracy": {"value": round(base, 2), "unit": "%"}}
    for label, s in (("28 px", speed28), (f"{large_px} px", speed224)):
        for r in s.itertuples():
            key[f"{r.runtime} int8 speed-up, {label}"] = {"value": round(r.speedup_vs_fp32, 2), "unit": "x vs its fp32"}
    if "accuracy_drop" in speed28:
        for r in speed28.itertuples():
            key[f"{r.runtime} int8 accuracy drop"] = {"value": round(r.accuracy_drop, 2), "unit": "points"}
    if qat:
        key[f"QAT {int(qat['bits'])}-bit recovery"] = {"value": round(qat["qat"] - qat["ptq"], 2), "unit": "points"}
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key)


def bank_entries(params: Mapping[str, Any]) -> list:
    """The one bank model the notebook quantizes (shared with ``mobile_convs``: same name, kwargs, seed)."""
    from ..bank import BankEntry

    return [BankEntry(params["backbone"], params["recipe"], params["seed"], {"small_input": True})]
