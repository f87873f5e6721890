"""Verdict and takeaways of the ``distillation`` notebook.

Knowledge distillation trains a small student on a trained teacher's softened logits
(Hinton et al. 2015); SSLD (*Beyond Self-Supervision*, 2021) drops the labels and adds unlabelled
images; Dataset Reinforcement (2023) stores the teacher's outputs once instead of running the
teacher at every step.

Rule (:func:`conclude`), three parts, each *holds*, *fails* or is *untestable*:

* *KD*: logit KD's mean accuracy beats cross-entropy's by more than the seed spread (the larger
  of the two standard deviations; :data:`ONE_SEED_NOISE` points with one seed);
* *label-free*: KD without any label, on the labelled images plus the held-out unlabelled ones,
  is not below cross-entropy on the labelled images by more than the seed spread;
* *stored*: stored targets reach online KD's accuracy within :data:`STORED_TOL` points while
  training at least :data:`MIN_STORED_SPEEDUP` x faster per run.

The accuracy parts are untestable when the cross-entropy student is below a linear classifier
(training too short); the verdict is then *inconclusive*. Supported = every part holds; not
supported = no testable part holds; partly supported otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..experiment import LINEAR_BASELINE_ACC
from .verdicts import Lesson, combine_parts, finite, seed_spread

CLAIM = (
    "Distilling a trained teacher's soft targets into a tiny student beats training it on labels alone by more "
    "than the seed spread; label-free KD on extra unlabelled images at least matches the labelled baseline; "
    "and teacher outputs stored once train the same student as a live teacher at a fraction of the cost."
)
ONE_SEED_NOISE = 0.5  # points: the binomial std of a 10k-image test accuracy near 88 % is ~0.3
STORED_TOL = 0.5  # points stored-target KD may differ from online KD
MIN_STORED_SPEEDUP = 2.0  # online / stored training time per run
ROWS = ("CE", "KD", "KD label-free", "KD label-free + unlabelled")


def bank_entries(params: Mapping[str, Any]) -> list:
    """The teacher (the ``mobilenetv2_050`` base model shared with pruning, quantization, ...)."""
    from ..bank import BankEntry

    return [BankEntry(params["teacher"], params["teacher_recipe"], params["teacher_seed"], {"small_input": True})]


def _spread(*rows: pd.Series) -> float:
    stds = [float(r.accuracy_std) for r in rows if finite(r.accuracy_std)]
    return max(stds) if stds and min(int(r.seeds) for r in rows) > 1 else ONE_SEED_NOISE


def conclude(
    table: pd.DataFrame,
    *,
    teacher_accuracy: float,
    online_seconds: float,
    stored_seconds: float,
    store_seconds: float,
    online_accuracy: float,
    stored_accuracy: float,
    sweep: pd.DataFrame | None = None,
    assistant: pd.DataFrame | None = None,
) -> Lesson:
    """The distillation verdict and takeaways.

    Args:
        table: ``wb.compress.distill_table`` rows named as :data:`ROWS` (the last may carry the
            image count, ``"KD label-free + 40k unlabelled"``); columns ``accuracy, accuracy_std,
            seeds, seconds, images, labelled``; other rows (feature KD, ...) become takeaways.
        teacher_accuracy: the teacher's test accuracy, %.
        online_seconds, stored_seconds: training time of one online-teacher run and of the same
            run on stored targets (same seed and schedule).
        store_seconds: the one-off cost of storing the teacher's outputs.
        online_accuracy, stored_accuracy: the accuracies of those two runs.
        sweep: optional ``distill_table`` of the temperature / alpha sweep (one seed).
        assistant: optional table with rows ``teacher -> student``, ``assistant -> student`` and
            ``assistant`` (the teacher-assistant comparison).

    Raises:
        ValueError: a required row is missing (naming the rows needed and given).
    """
    names = list(table.name)
    unl = [n for n in names if n.startswith(ROWS[3].split(" + ")[0] + " + ")]
    missing = [r for r in ROWS[:3] if r not in names] + ([] if unl else [ROWS[3]])
    if missing:
        raise ValueError(f"table needs rows {list(ROWS)} (the last may name its image count); missing {missing}, got {names}")
    t = table.set_index("name")
    ce, kd, ssld = t.loc["CE"], t.loc["KD"], t.loc[unl[0]]
    short = not finite(ce.accuracy) or ce.accuracy < LINEAR_BASELINE_ACC
    parts: dict[str, str] = {}
    s_kd = _spread(ce, kd)
    s_lf = _spread(ce, ssld)
    gain = float(kd.accuracy - ce.accuracy)
    parts["KD"] = "untestable" if short else ("holds" if gain > s_kd else "fails")
    parts["label-free"] = "untestable" if short else ("holds" if ssld.accuracy >= ce.accuracy - s_lf else "fails")
    speedup = online_seconds / stored_seconds if finite(online_seconds) and finite(stored_seconds) and stored_seconds > 0 else math.nan
    diff = float(stored_accuracy - online_accuracy)
    parts["stored"] = (
        "holds" if finite(diff) and abs(diff) <= STORED_TOL and finite(speedup) and speedup >= MIN_STORED_SPEEDUP else "fails"
    )
    verdict = combine_parts(parts.values(), inconclusive=short)
    seeds = int(ce.seeds)
    spread_txt = seed_spread(max(s_kd, s_lf) if seeds > 1 else math.nan, seeds)
    evidence = (
        f"KD {parts['KD']} ({kd.accuracy:.2f} % vs CE {ce.accuracy:.2f} %: {gain:+.2f} points, "
        f"{'spread' if seeds > 1 else 'one-seed noise'} {s_kd:.2f}); label-free {parts['label-free']} "
        f"({ssld.accuracy:.2f} % without labels on {int(ssld.images):,} images vs CE {ce.accuracy:.2f} % on "
        f"{int(ce.labelled):,} labelled); stored {parts['stored']} ({stored_accuracy:.2f} % vs online {online_accuracy:.2f} %, "
        f"{speedup:.1f}x faster per run)."
    )
    gap = teacher_accuracy - ce.accuracy
    gap_txt = f"a gap of {gap:.2f} points to close" if gap > 0 else "no gap to close: the student already matches the teacher"
    takeaways = [f"Teacher {teacher_accuracy:.2f} %, student on labels alone {ce.accuracy:.2f} % ({spread_txt}): {gap_txt}."]
    if short:
        takeaways.append(f"The CE student is below a linear classifier (~{LINEAR_BASELINE_ACC:.0f} %): training too short, accuracy ignored.")
    for name, r in t.iterrows():
        if name == "CE":
            continue
        closed = f", {100 * (r.accuracy - ce.accuracy) / gap:.0f} % of the gap closed" if gap > 0 else ""
        takeaways.append(f"{name}: {r.accuracy:.2f} % ({r.accuracy - ce.accuracy:+.2f} points vs CE{closed}).")
    control = [n for n in t.index if n.startswith("KD label-free, same steps")]
    if control:
        c = t.loc[control[0]]
        takeaways.append(
            f"Extra steps alone ({control[0]}: the labelled images only, as many steps as with the unlabelled ones) reach "
            f"{c.accuracy:.2f} %: the unlabelled images add {ssld.accuracy - c.accuracy:+.2f} points beyond the extra steps."
        )
    takeaways.append(
        f"Storing the teacher's outputs took {store_seconds:.0f} s once; a run on stored targets took {stored_seconds:.0f} s "
        f"against {online_seconds:.0f} s with the teacher in the loop ({speedup:.1f}x), for {stored_accuracy:.2f} % vs "
        f"{online_accuracy:.2f} %: the store pays for itself after {_break_even(store_seconds, online_seconds, stored_seconds)} run(s)."
    )
    if sweep is not None and len(sweep):
        best = sweep.loc[sweep.accuracy.idxmax()]
        worst = sweep.loc[sweep.accuracy.idxmin()]
        takeaways.append(
            f"Sweep (1 seed): best {best['name']} {best.accuracy:.2f} %, worst {worst['name']} {worst.accuracy:.2f} %; "
            f"differences under ~{ONE_SEED_NOISE} points are within one-seed noise."
        )
    if assistant is not None and len(assistant):
        a = assistant.set_index("name")
        if {"teacher -> student", "assistant -> student"} <= set(a.index):
            d = float(a.loc["assistant -> student", "accuracy"] - a.loc["teacher -> student", "accuracy"])
            takeaways.append(
                f"Teacher assistant: student via the assistant {a.loc['assistant -> student', 'accuracy']:.2f} % vs "
                f"straight from the teacher {a.loc['teacher -> student', 'accuracy']:.2f} % ({d:+.2f} points)."
            )
    key_numbers: dict[str, Any] = {
        "KD gain over CE": {"value": round(gain, 2), "unit": "points"},
        "label-free + unlabelled vs CE": {"value": round(float(ssld.accuracy - ce.accuracy), 2), "unit": "points"},
        "stored vs online speed-up": {"value": round(speedup, 2) if finite(speedup) else None, "unit": "x"},
        "teacher": {"value": round(float(teacher_accuracy), 2), "unit": "%"},
        "seed spread": spread_txt,
    }
    if short:
        key_numbers["training"] = "too short: accuracy ignored"
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)


def _break_even(store: float, online: float, stored: float) -> str:
    saved = online - stored
    if not (finite(store) and finite(saved)) or saved <= 0:
        return "no number of"
    return str(max(1, math.ceil(store / saved)))
