"""Verdict and takeaways of the ``pruning`` notebook.

Unstructured pruning zeroes weights inside dense tensors: MACs a dense kernel executes stay
$K^2 C_{in} C_{out} H W$. Structured pruning removes a fraction $p$ of the channels of every
layer, so a layer's MACs fall to about $(1-p)^2$ of their value (input and output channels both
shrink) and the tensors stay dense.

Rule (:func:`conclude`) on the claim below, from the latency run at the high resolution:

* *unstructured gains nothing*: every mask-pruned variant's speed-up (1 / latency ratio) is
  below :data:`NO_GAIN_SPEEDUP`;
* *structured speed-up*: the structured variant at the target amount (first method listed)
  reaches :data:`TARGET_SPEEDUP`;
* *accuracy*: its accuracy after the short fine-tune is within :data:`MAX_DROP` points of the
  unpruned base; untestable when the base is below a linear classifier (training too short) or
  the variant was not fine-tuned.
* supported = all three; not supported = no structured speed-up and accuracy testable;
  inconclusive = no speed-up and accuracy untestable; partly supported otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..experiment import LINEAR_BASELINE_ACC as LINEAR_BASELINE
from .verdicts import Lesson, finite

CLAIM = (
    "Unstructured magnitude pruning removes weights but gains no CPU speed with dense kernels, while structured "
    "channel pruning at 50 % of the channels gives a measured speed-up of at least 1.5x with at most 2 points "
    "of accuracy loss after a short fine-tune."
)
TARGET_SPEEDUP = 1.5  # x, the target at 50 % channels
MAX_DROP = 2.0  # accuracy points lost at most after the short fine-tune
NO_GAIN_SPEEDUP = 1.1  # below this a mask-pruned model counts as "no faster": within latency noise


def bank_entries(params: Mapping[str, Any]) -> list:
    """The base model the notebook prunes (shared with ``mobile_convs``: same name, kwargs, recipe)."""
    from ..bank import BankEntry

    return [BankEntry(params["backbone"], params["recipe"], params["base_seed"], {"small_input": True})]


def merge_latency(table: pd.DataFrame, low: pd.DataFrame, high: pd.DataFrame | None = None) -> pd.DataFrame:
    """``table`` with ``latency_ratio(_q1/_q3)`` from the low-resolution ``compare_latency`` run and
    ``latency_ratio_hi(_q1/_q3)`` from the high-resolution one (rows matched by name), plus the
    speed-ups (1 / ratio)."""
    t = table.merge(
        low[["name", "ratio", "ratio_q1", "ratio_q3"]].rename(columns=lambda c: c.replace("ratio", "latency_ratio")),
        on="name", how="left",
    )  # fmt: skip
    t["speedup"] = 1 / t.latency_ratio
    if high is not None:
        hi = high[["name", "ratio", "ratio_q1", "ratio_q3"]].rename(
            columns=lambda c: c.replace("ratio", "latency_ratio_hi")
        )
        t = t.merge(hi, on="name", how="left")
        t["speedup_hi"] = 1 / t.latency_ratio_hi
    return t


def conclude(
    table: pd.DataFrame,
    *,
    target: str,
    resolution: int,
    finetune_steps: int,
    finetune_images: int,
) -> Lesson:
    """The pruning verdict and takeaways.

    Args:
        table: :func:`merge_latency` output; first row ``"dense"`` (the base), columns ``name,
            kind, macs, nonzero_params, accuracy_pruned, accuracy, speedup``, and ``speedup_hi``
            (the latency run at ``resolution``; falls back to ``speedup`` when absent).
        target: the structured variant the claim is about (e.g. ``"l1 50%"``).
        resolution: pixels of the high-resolution latency run.
        finetune_steps, finetune_images: the short fine-tune (steps, images drawn per step x steps).

    Raises:
        ValueError: no ``"dense"`` first row, or ``target`` not in the table (naming the rows).
    """
    if table.empty or table.name.iloc[0] != "dense":
        raise ValueError(f"the first row must be 'dense' (the base model), got {list(table.name)[:1]}")
    if target not in set(table.name):
        raise ValueError(f"target {target!r} is not a row; rows: {', '.join(table.name)}")
    sp = "speedup_hi" if "speedup_hi" in table and table.speedup_hi.notna().any() else "speedup"
    res = f"{resolution} px" if sp == "speedup_hi" else "28 px"
    base, row = table.iloc[0], table.set_index("name").loc[target]
    masked = table[table.kind == "unstructured"].dropna(subset=[sp])
    no_gain = bool(len(masked)) and bool((masked[sp] < NO_GAIN_SPEEDUP).all())
    speed = float(row[sp])
    fast = finite(speed) and speed >= TARGET_SPEEDUP
    short = not finite(base.accuracy_pruned) or base.accuracy_pruned < LINEAR_BASELINE
    drop = float(base.accuracy_pruned - row.accuracy) if finite(row.accuracy) else float("nan")
    acc = "untestable" if short or not finite(drop) else ("kept" if drop <= MAX_DROP else "lost")
    if fast and no_gain and acc == "kept":
        verdict = "supported"
    elif not fast and acc == "untestable":
        verdict = "inconclusive"
    elif not fast:  # the claim's core: a structured model that is not 1.5x faster
        verdict = "not supported"
    else:
        verdict = "partly supported"
    why_acc = {
        "kept": f"loses {drop:.2f} points after {finetune_steps} fine-tune steps (<= {MAX_DROP:g})",
        "lost": f"loses {drop:.2f} points after {finetune_steps} fine-tune steps (> {MAX_DROP:g})",
        "untestable": "accuracy untestable: "
        + ("base model below a linear classifier (training too short)" if short else "not fine-tuned"),
    }[acc]
    worst = masked[sp].max() if len(masked) else float("nan")
    evidence = (
        f"{target} runs {speed:.2f}x faster than the dense model at {res} (target {TARGET_SPEEDUP:g}x) and {why_acc}; "
        f"mask-pruned variants reach at most {worst:.2f}x ({'no gain' if no_gain else 'a gain'}: threshold {NO_GAIN_SPEEDUP:g}x)."
    )
    takeaways = [
        f"Base model: {base.accuracy_pruned:.2f} % test accuracy, {base.macs / 1e6:.2f} M MACs at 28 px (1 seed, no spread: "
        f"the {MAX_DROP:g}-point budget is compared with one run)."
    ]
    for _, r in table.iloc[1:].iterrows():
        hi = f", {r[sp]:.2f}x at {res}" if sp == "speedup_hi" and finite(r[sp]) else ""
        takeaways.append(
            f"{r['name']} ({r.kind}): {r.nonzero_params / base.nonzero_params:.0%} of the weights, "
            f"{r.macs / base.macs:.0%} of the dense-kernel MACs, {r.speedup:.2f}x at 28 px{hi}; accuracy "
            f"{r.accuracy_pruned:.2f} % after pruning, {r.accuracy:.2f} % after the fine-tune."
        )
    takeaways.append(
        f"The fine-tune is short on purpose ({finetune_steps} steps, {finetune_images:,} images drawn): a longer one "
        "recovers more, so the accuracy losses here are upper bounds."
    )
    if "nonzero_macs" in table and len(masked):
        r = masked.loc[masked.nonzero_macs.idxmin()]  # the sparsest mask
        takeaways.append(
            f"{r['name']}: a perfect sparse kernel would do {r.nonzero_macs / base.macs:.0%} of the MACs, the dense kernel "
            f"still does {r.macs / base.macs:.0%}: the speed-up needs a sparse kernel (XNNPACK-style), not a mask."
        )
    key_numbers: dict[str, Any] = {
        f"{target} speed-up at {res}": {"value": round(speed, 2), "unit": "x"},
        f"{target} MACs": {"value": round(100 * row.macs / base.macs, 1), "unit": "% of dense"},
        "best mask-pruned speed-up": {"value": round(float(worst), 2), "unit": "x"} if finite(worst) else "none measured",
        "seed spread": "1 seed, no spread",
    }
    if acc != "untestable":
        key_numbers[f"{target} accuracy drop"] = {"value": round(drop, 2), "unit": "points"}
    else:
        key_numbers["training"] = "too short: accuracy ignored" if short else "not fine-tuned"
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)
