"""Verdict and takeaways of the ``mobile_convs`` notebook.

MAC formulas per output pixel for C -> C channels with a K x K receptive field:

* standard conv: $K^2 C^2$;
* depthwise-separable: $K^2 C + C^2$, a fraction $1/C + 1/K^2$ of the standard conv;
* inverted residual with expansion t: $tC^2 + K^2 tC + tC^2$, a fraction $2t/K^2 + t/C$ (1.43 at
  t = 6, K = 3, C = 64): MORE than a standard conv at equal C, but its 3x3 works at width tC,
  where a standard conv would cost $K^2 t^2 C^2$.

Rule (:func:`conclude`), on the claim "depthwise-separable convs cut MACs 8-9x and latency with
them; MACs scale as width^2 x resolution^2":

* supported -- MAC saving > :data:`MIN_SAVING`, latency speed-up (BN folded, at the upper
  quartile of the depthwise-separable latency ratio when known) > :data:`MIN_SPEEDUP`, and
  the resolution exponent within :data:`RESOLUTION_TOL` of 2 and the width exponent in
  :data:`WIDTH_EXPONENT_RANGE`;
* partly supported -- the MAC saving holds but the speed-up or the scaling law does not;
* not supported -- no MAC saving.

Accuracy never enters the verdict: the short schedules cannot rank these models (see
:func:`workbench.lessons.training.accuracy_sentence`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .training import accuracy_sentence, too_short
from .verdicts import Lesson, times

CLAIM = (
    "Depthwise-separable convolutions cut a 3x3 convolution's MACs by 1/C + 1/9 (8-9x) and its latency "
    "by less; the inverted residual spends more MACs than a standard conv at equal C but does its 3x3 "
    "at 6x the width for a fraction of the cost; MACs scale as width^2 x resolution^2."
)
MIN_SAVING = 7.0
MIN_SPEEDUP = 1.5
RESOLUTION_TOL = 0.15  # every conv's MACs scale with H x W; only the classifier does not
# Whole-model width exponent: layers that keep their width (stem, MobileNetV2's 1280-channel head
# below width 1.0, the classifier) pull it below 2; "roughly quadratic" (MobileNetV1, sec. 3.3).
WIDTH_EXPONENT_RANGE = (1.5, 2.1)


def predicted_ratios(channels: int, kernel: int = 3, expansion: int = 6) -> dict[str, float]:
    """Closed-form MACs of each block / a standard K x K conv, C -> C channels (see module doc)."""
    c, k2, t = channels, kernel * kernel, expansion
    return {
        "depthwise-separable": 1 / c + 1 / k2,
        "inverted residual": 2 * t / k2 + t / c,
        "standard at tC": t * t,
    }


def _row(blocks: pd.DataFrame, prefix: str, *, exclude: str | None = None) -> pd.Series:
    m = blocks.name.str.startswith(prefix)
    if exclude:
        m &= ~blocks.name.str.contains(exclude, regex=False)
    if not m.any():
        raise KeyError(f"no block starting with {prefix!r}; blocks: {list(blocks.name)}")
    return blocks[m].iloc[0]


def conclude(
    blocks: pd.DataFrame,
    exponents: dict[str, float],
    table: pd.DataFrame | None,
    *,
    channels: int,
    expansion: int = 6,
    epochs: int = 0,
    images: int = 0,
) -> Lesson:
    """The mobile_convs verdict and takeaways.

    Args:
        blocks: profile of :func:`workbench.measure.mobile_blocks` (deploy form), first row the
            standard conv: ``name, macs, latency_ratio``.
        exponents: ``{"width": w, "resolution": r}`` from ``scaling_exponents``.
        table: trained-family table (``name, accuracy, accuracy_std, seeds, latency_ratio``)
            or None when nothing was trained.
        channels: C of the block comparison; expansion: t of the inverted residual.
        epochs, images: the training schedule (for the accuracy sentence).
    """
    std = _row(blocks, "standard 3x3 conv", exclude=f"at {expansion}C")
    ds = _row(blocks, "depthwise-separable")
    ir = _row(blocks, "inverted residual", exclude="SE")
    v3 = _row(blocks, "inverted residual", exclude="(V2)")
    wide = _row(blocks, f"standard 3x3 conv at {expansion}C")
    pred = predicted_ratios(channels, 3, expansion)
    saving = times(std.macs, ds.macs)
    speedup = times(std.latency_ratio, ds.latency_ratio)
    # the speed-up must hold at the slow end of the depthwise block's latency IQR, not just its median
    speedup_lo = times(std.latency_ratio, ds.get("latency_ratio_q3", ds.latency_ratio))
    w, r = exponents["width"], exponents["resolution"]
    law = WIDTH_EXPONENT_RANGE[0] <= w <= WIDTH_EXPONENT_RANGE[1] and abs(r - 2) <= RESOLUTION_TOL
    if saving > MIN_SAVING:
        verdict = "supported" if speedup_lo > MIN_SPEEDUP and law else "partly supported"
    else:
        verdict = "not supported"
    evidence = (
        f"Depthwise-separable cuts MACs {saving:.1f}x (formula {1 / pred['depthwise-separable']:.1f}x) but latency only "
        f"{speedup:.1f}x at C={channels} with BN folded; MACs scale as width^{w:.2f} x resolution^{r:.2f}."
    )
    takeaways = [
        f"MACs: depthwise-separable / standard = {ds.macs / std.macs:.4f}, the closed form 1/C + 1/9 gives "
        f"{pred['depthwise-separable']:.4f}; yet its latency is {ds.latency_ratio:.2f}x the standard conv's "
        f"(BN folded in both), because the depthwise half moves many bytes per MAC.",
        f"The inverted residual (t={expansion}, C->C) costs {ir.macs / std.macs:.2f}x a standard 3x3's MACs "
        f"(formula 2t/9 + t/C = {pred['inverted residual']:.2f}) and takes {ir.latency_ratio:.2f}x its time. "
        f"It wins as a design because its input and output are thin (C channels between blocks) while its 3x3 runs "
        f"depthwise at {expansion}C: a standard 3x3 at {expansion}C costs {wide.macs / ir.macs:.0f}x more MACs and "
        f"{times(wide.latency_ratio, ir.latency_ratio):.0f}x more time.",
        f"MobileNetV3's block (hard-swish + SE) costs {times(v3.macs, ir.macs):.2f}x the MACs and "
        f"{times(v3.latency_ratio, ir.latency_ratio):.2f}x the time of the V2 block: the SE pooling and gating "
        f"and hard-swish are element-wise work a MAC count barely sees.",
        f"Width and resolution multipliers: MACs ~ width^{w:.2f} x resolution^{r:.2f} "
        f"({'roughly' if law else 'not'} the quadratic law of the MobileNet paper; layers that keep their width, such as the stem, a fixed-width head and the classifier, pull the width exponent below 2).",
    ]
    key_numbers: dict[str, Any] = {
        "depthwise-separable MACs / standard": round(float(ds.macs / std.macs), 4),
        "depthwise-separable latency / standard (BN folded)": round(float(ds.latency_ratio), 3),
        f"inverted residual t={expansion} MACs / standard": round(float(ir.macs / std.macs), 3),
        "MAC exponent of width": round(w, 2),
        "MAC exponent of resolution": round(r, 2),
    }
    if table is not None and len(table):
        takeaways.append(accuracy_sentence(table, epochs=epochs, images=images))
        if too_short(table):
            key_numbers["training"] = "too short: accuracy ignored"
        else:
            best = table.loc[table.accuracy.idxmax()]
            key_numbers["best accuracy"] = {
                "value": round(float(best.accuracy), 2),
                "unit": f"% ({best['name']})",
            }
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)


def variants(family: list[str] | tuple[str, ...]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The trained models: every family member at 28 px (``small_input``), labelled by name.

    The notebook trains exactly these, and :func:`bank_entries` declares them to the report
    runner, so the two can never disagree.
    """
    return {name: (name, {"small_input": True}) for name in family}


def bank_entries(params: dict[str, Any]) -> list:
    """Model-bank entries the notebook needs for its effective ``params`` (built before it runs)."""
    from ..bank import BankEntry

    return [
        BankEntry(name, params["recipe"], seed, kwargs)
        for name, kwargs in variants(params["family"]).values()
        for seed in params["seeds"]
    ]
