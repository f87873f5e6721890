"""Verdict and takeaways of the ``low_rank_peft`` notebook.

Low rank for compression: a layer $W \\in \\mathbb{R}^{m \\times n}$ becomes $U_r (\\Sigma_r V_r^T)$,
$r(m+n)$ weights instead of $mn$. Low rank for adaptation: LoRA trains $\\Delta W = \\frac{\\alpha}{r} BA$
next to a frozen $W$ and merges it into $W$ afterwards.

Rule (:func:`conclude`), three halves, each *holds*, *fails* or is *untestable*:

* *per-layer ranks*: at equal parameters, the energy-chosen ranks keep at least the accuracy of the
  uniform rank right after factorization (before the fine-tune); untestable when the base model
  is below a linear classifier (training too short) or both factorized models fall below
  :data:`MIN_TASK_ACC` % (the rank budget destroyed both: a tie at chance level proves nothing);
* *LoRA*: the best LoRA rank reaches the full fine-tune's accuracy within :data:`MAX_GAP` points
  while training under :data:`MAX_TRAINABLE_PCT` % of the parameters; untestable when the full
  fine-tune itself stays below :data:`MIN_TASK_ACC` % (adaptation too short);
* *merge*: merged and unmerged outputs agree within :data:`MERGE_TOL` and the merged model's
  latency ratio to the original architecture lies within :data:`LATENCY_BAND` (zero overhead).
* supported = every half holds; not supported = none of the testable halves holds; inconclusive =
  no accuracy half testable; partly supported otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..experiment import LINEAR_BASELINE_ACC
from .verdicts import Lesson, combine_parts, finite

CLAIM = (
    "At equal parameters, per-layer (singular-value energy) ranks keep more accuracy than one uniform rank; "
    "LoRA adapts a trained model to a new task within 2 points of full fine-tuning while training a few percent "
    "of its parameters, and merged into the weights it adds no latency."
)
MAX_GAP = 2.0  # accuracy points LoRA may trail full fine-tuning
MAX_TRAINABLE_PCT = 10.0  # % of the parameters LoRA may train to count as parameter-efficient
MIN_TASK_ACC = 50.0  # % on digits (10 classes: chance 10 %) below which the adaptation was too short
MERGE_TOL = 1e-4  # max |merged - unmerged| logit difference
LATENCY_BAND = (0.9, 1.1)  # merged / original latency ratio counted as "no overhead"


def bank_entries(params: Mapping[str, Any]) -> list:
    """The base model (shared with ``pruning`` and ``mobile_convs``)."""
    from ..bank import BankEntry

    return [BankEntry(params["backbone"], params["recipe"], params["base_seed"], {"small_input": True})]


def conclude(
    lowrank: pd.DataFrame,
    peft: pd.DataFrame,
    *,
    merge_max_diff: float,
    merged_latency_ratio: float,
    finetune_steps: int,
    adapt_steps: int,
) -> Lesson:
    """The low-rank / PEFT verdict and takeaways.

    Args:
        lowrank: rows ``dense``, then names starting ``uniform`` and ``energy``; columns ``params,
            macs, accuracy_pruned`` (after factorization), ``accuracy`` (after the fine-tune),
            optional ``speedup``.
        peft: rows with ``name`` (``full fine-tune``, ``linear probe``, ``bias only``, ``LoRA r=..``),
            ``trainable_params, trainable_pct, training_memory_mb, accuracy``.
        merge_max_diff: max |merged - unmerged| output difference.
        merged_latency_ratio: merged LoRA model latency / the original architecture's.
        finetune_steps, adapt_steps: the short schedules (for the takeaways).

    Raises:
        ValueError: missing rows (naming what is needed and what was given).
    """
    names = list(lowrank.name)
    need = names[:1] == ["dense"] and any(n.startswith("uniform") for n in names) and any(n.startswith("energy") for n in names)
    if not need:
        raise ValueError(f"lowrank needs rows 'dense' (first), 'uniform ...' and 'energy ...'; got {names}")
    pn = list(peft.name)
    if "full fine-tune" not in pn or not any(n.startswith("LoRA") for n in pn):
        raise ValueError(f"peft needs rows 'full fine-tune' and 'LoRA r=...'; got {pn}")
    base = lowrank.iloc[0]
    uni = lowrank[lowrank.name.str.startswith("uniform")].iloc[0]
    en = lowrank[lowrank.name.str.startswith("energy")].iloc[0]
    short = not finite(base.accuracy_pruned) or base.accuracy_pruned < LINEAR_BASELINE_ACC
    halves: dict[str, str] = {}
    broken = max(en.accuracy_pruned, uni.accuracy_pruned) < MIN_TASK_ACC  # both destroyed: a tie at chance proves nothing
    halves["ranks"] = "untestable" if short or broken else ("holds" if en.accuracy_pruned >= uni.accuracy_pruned else "fails")
    full = peft.set_index("name").loc["full fine-tune"]
    lora = peft[peft.name.str.startswith("LoRA")]
    best = lora.loc[lora.accuracy.idxmax()]
    gap = float(full.accuracy - best.accuracy)
    if not finite(full.accuracy) or full.accuracy < MIN_TASK_ACC:
        halves["lora"] = "untestable"
    else:
        halves["lora"] = "holds" if gap <= MAX_GAP and best.trainable_pct < MAX_TRAINABLE_PCT else "fails"
    lo, hi = LATENCY_BAND
    halves["merge"] = "holds" if merge_max_diff <= MERGE_TOL and lo <= merged_latency_ratio <= hi else "fails"
    verdict = combine_parts(halves.values(), inconclusive=halves["ranks"] == halves["lora"] == "untestable")
    evidence = (
        f"per-layer ranks {halves['ranks']} ({en['name']}: {en.accuracy_pruned:.2f} % vs {uni['name']}: "
        f"{uni.accuracy_pruned:.2f} % right after factorization, {en.params:,} vs {uni.params:,} params); "
        f"LoRA {halves['lora']} ({best['name']}: {best.accuracy:.2f} % vs full fine-tune {full.accuracy:.2f} %, "
        f"{best.trainable_pct:.1f} % of the parameters trained); merge {halves['merge']} (max diff "
        f"{merge_max_diff:.1e}, latency ratio {merged_latency_ratio:.2f})."
    )
    takeaways = [
        f"Base model {base.accuracy_pruned:.2f} % on Fashion-MNIST, {base.params:,} params, {base.macs / 1e6:.2f} M MACs (1 seed, no spread)."
    ]
    if short:
        takeaways.append(f"The base model is below a linear classifier (~{LINEAR_BASELINE_ACC:.0f} %): training too short, accuracy ignored.")
    for _, r in lowrank.iloc[1:].iterrows():
        sp = f", {r.speedup:.2f}x measured at 28 px" if "speedup" in r and finite(r.speedup) else ""
        takeaways.append(
            f"{r['name']}: {r.params / base.params:.0%} of the parameters, {r.macs / base.macs:.0%} of the MACs{sp}; "
            f"{r.accuracy_pruned:.2f} % right after factorization, {r.accuracy:.2f} % after {finetune_steps} fine-tune steps."
        )
    for _, r in peft.iterrows():
        takeaways.append(
            f"{r['name']}: {r.trainable_params:,} trainable parameters ({r.trainable_pct:.2f} %), "
            f"{r.training_memory_mb:.1f} MB of saved activations, gradients and momentum per step, {r.accuracy:.2f} % on digits "
            f"after {adapt_steps} steps."
        )
    takeaways.append(
        f"Merged LoRA: outputs within {merge_max_diff:.1e} of the adapter form, latency {merged_latency_ratio:.2f}x the "
        "original architecture (BN folded, interleaved): the adapter costs nothing once merged."
    )
    key_numbers: dict[str, Any] = {
        f"{best['name']} trainable": {"value": round(float(best.trainable_pct), 2), "unit": "% of params"},
        f"{best['name']} vs full fine-tune": {"value": round(-gap, 2), "unit": "points"},
        "merged LoRA latency ratio": {"value": round(merged_latency_ratio, 3), "unit": "x"},
        "energy vs uniform rank (before fine-tune)": {"value": round(float(en.accuracy_pruned - uni.accuracy_pruned), 2), "unit": "points"},
        "seed spread": "1 seed, no spread",
    }
    if short:
        key_numbers["training"] = "too short: accuracy ignored"
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)
