"""Verdict and takeaways of the ``reparameterization`` notebook.

A RepVGG block computes $y = \\mathrm{BN}_3(W_3 * x) + \\mathrm{BN}_1(W_1 * x) + \\mathrm{BN}_0(x)$
in training. In eval mode every BN is an affine map $\\gamma (z - \\mu)/\\sigma + \\beta$, so each
branch is a conv with bias; a 1x1 kernel is the centre tap of a 3x3 one and the identity is a 3x3
kernel with a single 1: the sum folds into ONE 3x3 conv, $W' = \\sum_b \\frac{\\gamma_b}{\\sigma_b}
W_b$, $b' = \\sum_b (\\beta_b - \\gamma_b \\mu_b / \\sigma_b)$.

Rule (:func:`conclude`) on the claim "re-parameterization is free at inference and buys
accuracy in training":

* equivalence: the deploy form of a TRAINED model must match its train form to
  :data:`MAX_ABS_DIFF` (else *not supported*, whatever the rest says);
* cost half: *faster* when every model's deploy form beats its train form beyond the latency
  IQR (``speedup_lo > 1``); *not faster* when one deploy form is slower beyond it
  (``speedup_hi < 1``); *noise* otherwise (an IQR that straddles 1, e.g. on a loaded machine);
  the 1.3x target of the brief is reported, not judged;
* accuracy half: *gain* when training beats a linear classifier, there are >= 2 seeds and
  multi-branch minus plain exceeds twice the largest seed std; *no gain* when testable but not
  (or negative); *untestable* otherwise;
* supported = equal, faster and gain; partly supported = equal and faster without a measurable
  gain, or equal with a gain but not (measurably) faster; not supported = outputs differ, or equal,
  not faster and no gain; inconclusive = equal with noisy latency and no gain, or untestable
  accuracy without a measured speed-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .training import accuracy_sentence, max_spread, seeds_of, too_short
from .verdicts import Lesson, finite, seed_spread

CLAIM = (
    "Structural re-parameterization (RepVGG, MobileOne, RepViT) is free at inference: the single-branch deploy form "
    "computes the same outputs as the multi-branch train form, faster and in less memory, and training with the extra "
    "branches buys accuracy that a plain twin with the same deploy graph does not reach (beyond the seed spread)."
)
#: Largest |train form - deploy form| output accepted as "equal" (fp32 rounding of the fold).
MAX_ABS_DIFF = 1e-4
#: Deploy-form speed-up the brief targets for repvgg_a0 and mobileone_s0 at 224 px (reported only).
TARGET_SPEEDUP = 1.3
BACKBONE = "repvgg_a0"


def forms(names: Sequence[str], **create_kwargs) -> dict[str, dict[str, Any]]:
    """``{model: {"<model> train": train form (eval), "<model> deploy": deploy form}}``.

    Each inner dict is one interleaved latency comparison with the train form as baseline, so
    the deploy row's ``latency_ratio`` is deploy / train directly.
    """
    from ..layers import reparameterize_model
    from ..models import create_model

    out = {}
    for n in names:
        m = create_model(n, **create_kwargs).eval()
        out[n] = {f"{n} train": m, f"{n} deploy": reparameterize_model(m)}
    return out


def speedups(table: pd.DataFrame) -> pd.DataFrame:
    """One row per model from a profile table of ``"<model> train"`` / ``"<model> deploy"`` rows.

    Each pair must come from one interleaved run with the train form as baseline. Columns:
    ``model, speedup`` (train / deploy latency), ``speedup_lo, speedup_hi`` (from the ratio's
    quartiles), ``params_train, params_deploy, macs_train, macs_deploy, memory_ratio`` (deploy /
    train peak activation bytes) and ``meets_target`` (speedup >= :data:`TARGET_SPEEDUP`).

    Raises:
        ValueError: a model without both forms.
    """
    t = table.assign(model=table.name.str.rsplit(" ", n=1).str[0], form=table.name.str.rsplit(" ", n=1).str[1])
    rows = []
    for model, g in t.groupby("model", sort=False):
        f = g.set_index("form")
        if not {"train", "deploy"} <= set(f.index):
            raise ValueError(f"model {model!r} needs a train and a deploy row, got {list(g.name)}")
        tr, de = f.loc["train"], f.loc["deploy"]
        ratio = de.latency_ratio / tr.latency_ratio
        q1 = de.get("latency_ratio_q1", ratio) / tr.latency_ratio
        q3 = de.get("latency_ratio_q3", ratio) / tr.latency_ratio
        rows.append({
            "model": model, "speedup": 1 / ratio, "speedup_lo": 1 / q3, "speedup_hi": 1 / q1,
            "params_train": int(tr.params), "params_deploy": int(de.params),
            "macs_train": int(tr.macs), "macs_deploy": int(de.macs),
            "memory_ratio": de.peak_activation_bytes / tr.peak_activation_bytes,
            "meets_target": bool(1 / ratio >= TARGET_SPEEDUP),
        })  # fmt: skip
    return pd.DataFrame(rows)


def variants(width_mult: float, depths: Sequence[int] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{"multi-branch": ..., "plain twin": ...}``: RepVGG-A0 at ``width_mult`` (and ``depths``
    blocks per stage, ``None`` = A0's) for 28 px, trained with its three-branch blocks or with the
    3x3 conv-BN alone (the same deploy graph)."""
    kw: dict[str, Any] = {"small_input": True, "width_mult": width_mult}
    if depths is not None:
        kw["depths"] = list(depths)
    return {
        "multi-branch": (BACKBONE, {**kw, "branches": "rep"}),
        "plain twin": (BACKBONE, {**kw, "branches": "plain"}),
    }


def bank_entries(params: Mapping[str, Any]) -> list:
    """Model-bank entries the notebook trains for its effective ``params``."""
    from ..bank import BankEntry

    return [
        BankEntry(name, params["recipe"], seed, kw)
        for name, kw in variants(params["width_mult"], params.get("depths")).values()
        for seed in params["seeds"]
    ]


_VERDICT = {
    ("faster", "gain"): "supported", ("faster", "no gain"): "partly supported", ("faster", "untestable"): "partly supported",
    ("not faster", "gain"): "partly supported", ("not faster", "no gain"): "not supported", ("not faster", "untestable"): "inconclusive",
    ("noise", "gain"): "partly supported", ("noise", "no gain"): "inconclusive", ("noise", "untestable"): "inconclusive",
}  # fmt: skip


def conclude(
    speed: pd.DataFrame,
    difference: Mapping[str, float],
    trained: pd.DataFrame,
    *,
    epochs: int = 0,
    images: int = 0,
) -> Lesson:
    """The re-parameterization verdict and takeaways.

    Args:
        speed: :func:`speedups` (one row per model, train vs deploy form, one resolution).
        difference: ``deploy_difference`` of a trained model (``max_abs_diff``, ``max_abs_output``).
        trained: ``train_compare`` table with rows ``"multi-branch"`` and ``"plain twin"``.
        epochs, images: the training schedule.

    Raises:
        ValueError: an empty ``speed`` table or a ``trained`` table without both rows.
    """
    if speed.empty:
        raise ValueError("conclude needs at least one model in the speed table")
    acc_by = dict(zip(trained.name, trained.accuracy, strict=True))
    if not {"multi-branch", "plain twin"} <= set(acc_by):
        raise ValueError(f"trained needs rows 'multi-branch' and 'plain twin', got {list(trained.name)}")
    diff = float(difference["max_abs_diff"])
    equal = finite(diff) and diff <= MAX_ABS_DIFF
    if (speed.speedup_lo > 1).all():
        cost = "faster"
    elif (speed.speedup_hi < 1).any():
        cost = "not faster"
    else:
        cost = "noise"
    gain = acc_by["multi-branch"] - acc_by["plain twin"]
    n, spread = seeds_of(trained), max_spread(trained)
    if too_short(trained) or n < 2 or not finite(spread):
        acc = "untestable"
    else:
        acc = "gain" if gain > 2 * spread else "no gain"
    verdict = _VERDICT[(cost, acc)] if equal else "not supported"

    speeds = "; ".join(
        f"{r.model} {r.speedup:.2f}x (IQR {r.speedup_lo:.2f}-{r.speedup_hi:.2f})" for r in speed.itertuples()
    )
    why_acc = {
        "gain": f"multi-branch minus plain {gain:+.2f} points exceeds twice the {seed_spread(spread, n)}",
        "no gain": f"multi-branch minus plain {gain:+.2f} points is within twice the {seed_spread(spread, n)}",
        "untestable": "accuracy untestable: " + ("training too short" if too_short(trained) else seed_spread(spread, n)),
    }[acc]
    evidence = (
        f"Trained model: max |train - deploy| = {diff:.1e} ({'within' if equal else 'ABOVE'} {MAX_ABS_DIFF:.0e}); "
        f"deploy-form speed-up {speeds}: "
        + {"faster": "every one beyond the latency IQR", "not faster": "one deploy form is SLOWER beyond the latency IQR",
           "noise": "not every one beyond the latency IQR (noisy timing)"}[cost]  # fmt: skip
        + f"; {why_acc}."
    )

    takeaways = [
        f"Folding is exact up to fp32 rounding: the trained model's outputs differ by at most {diff:.1e} "
        f"(outputs up to {difference['max_abs_output']:.1f})."
    ]
    for r in speed.itertuples():
        takeaways.append(
            f"{r.model}: deploy form {r.speedup:.2f}x faster than the train form "
            f"({'meets' if r.meets_target else 'misses'} the {TARGET_SPEEDUP}x target), "
            f"{r.params_deploy / r.params_train:.2f}x params, {r.macs_deploy / r.macs_train:.2f}x MACs, "
            f"{r.memory_ratio:.2f}x peak activation memory."
        )
    takeaways.append(
        f"RepVGG at 28 px: multi-branch {acc_by['multi-branch']:.2f}% vs plain twin {acc_by['plain twin']:.2f}% "
        f"({gain:+.2f} points; {seed_spread(spread, n)}); both deploy to the same network, so the difference is "
        "bought in training alone."
    )
    takeaways.append(accuracy_sentence(trained, epochs=epochs, images=images))

    key_numbers: dict[str, Any] = {
        f"{r.model}: deploy speed-up": {"value": round(float(r.speedup), 2), "unit": "x train form"}
        for r in speed.itertuples()
    }
    key_numbers["max |train - deploy| (trained)"] = f"{diff:.1e}"
    key_numbers["multi-branch - plain"] = {"value": round(float(gain), 2), "unit": "points"}
    key_numbers["seed spread"] = (
        {"value": round(spread, 2), "unit": "points"} if n >= 2 and finite(spread) else seed_spread(spread, n)
    )
    key_numbers["training"] = "too short: accuracy ignored" if too_short(trained) else f"{epochs} epochs on {images:,} images"
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)
