"""Verdict and takeaways of the ``cheap_operators`` notebook.

A depthwise-separable block costs $HW(9C_{in} + C_{in}C_{out})$ MACs; the dense 1x1 term
dominates. Cheap operators attack it: a Ghost module computes half the outputs with the 1x1 and
the rest with a 3x3 depthwise "cheap operation" ($\\approx HW(C_{in}C_{out}/2 + 9C_{out}/2)$); a
$g$-group 1x1 plus a channel shuffle costs $HW\\,C_{in}C_{out}/g$; a shift replaces the depthwise
conv by a free permutation. Fast downsampling (FD-MobileNet) moves work to lower resolution.

Rule (:func:`conclude`) on the claim "at equal MACs cheap operators buy width, not speed":

* cost half: *slower* when every cheap operator at equal MACs has a deploy-form latency above the
  depthwise-separable baseline (its ratio's lower quartile above 1, i.e. higher latency per MAC);
  *not always slower* when one is faster (upper quartile below 1); *noise* otherwise.
* accuracy half: *gain* when training beats a linear classifier, there are >= 2 seeds and the best
  operator's gain over the baseline exceeds twice the largest seed std; *no gain* when testable
  but not; *untestable* otherwise.
* supported = slower and gain; partly supported = slower with no gain or untestable, or a gain
  without the slowdown; not supported = not always slower and no gain; inconclusive otherwise.

The fast-downsampling row (``fast_downsample=True``) is reported but not part of the rule: it
changes the schedule, not the operator.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .training import accuracy_sentence, max_spread, seeds_of, too_short
from .verdicts import Lesson, finite, seed_spread

CLAIM = (
    "At equal MACs, cheap operators (Ghost modules, group conv + channel shuffle, shift) buy width, not speed: "
    "on a CPU each is slower than the depthwise-separable block it replaces (higher latency per MAC), "
    "and any accuracy gain must beat the seed-to-seed spread."
)
BACKBONE = "cheapnet"
BASELINE = "dwsep"
FD = "dwsep + FD"


@functools.lru_cache(maxsize=64)
def _width(block: str, fast_downsample: bool, match: str, groups: int) -> float:
    from ..models.cheapnet import conv_macs, solve_width

    base = _build(BASELINE, 1.0, False, groups)
    target = (
        conv_macs(base, (1, 28, 28)) if match == "macs" else sum(p.numel() for p in base.parameters())
    )
    if block == BASELINE and not fast_downsample:
        return 1.0
    w = solve_width(target, match, block=block, fast_downsample=fast_downsample, groups=groups, num_classes=10)
    return round(w, 4)  # a stable bank key


def _build(block: str, width: float, fast_downsample: bool, groups: int):
    from ..models import create_model

    return create_model(BACKBONE, block=block, width_mult=width, fast_downsample=fast_downsample, groups=groups, num_classes=10)


def variants(
    blocks: Sequence[str], *, fast_downsample: bool = False, match: str = "macs", groups: int = 4
) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{label: ("cheapnet", create_model kwargs)}``, each width solved to the baseline's cost.

    Args:
        blocks: :data:`~workbench.layers.cheap_operators.CHEAP_BLOCKS` keys; the first must be
            ``'dwsep'`` (the baseline, width 1.0).
        fast_downsample: add ``'dwsep + FD'``, the baseline on FD-MobileNet's stride schedule.
        match: ``'macs'`` (equal MACs) or ``'params'`` (equal parameters) to the baseline.
        groups: groups of the ``'shuffle'`` block.

    Raises:
        ValueError: a first block other than ``'dwsep'``, an unknown block or ``match``.
    """
    from ..layers.cheap_operators import CHEAP_BLOCKS

    if not blocks or blocks[0] != BASELINE:
        raise ValueError(f"the first block must be the baseline {BASELINE!r}, got {list(blocks)}")
    unknown = [b for b in blocks if b not in CHEAP_BLOCKS]
    if unknown:
        raise ValueError(f"unknown block {unknown[0]!r}; valid: {', '.join(CHEAP_BLOCKS)}")
    if match not in ("macs", "params"):
        raise ValueError(f"unknown match {match!r}; valid: macs, params")
    rows = [(b, b, False) for b in blocks] + ([(FD, BASELINE, True)] if fast_downsample else [])
    return {
        label: (
            BACKBONE,
            {"block": b, "width_mult": _width(b, fd, match, groups), "fast_downsample": fd, "groups": groups, "small_input": True},
        )
        for label, b, fd in rows
    }


def bank_entries(params: Mapping[str, Any]) -> list:
    """Model-bank entries the notebook trains for its effective ``params`` (equal-MACs variants)."""
    from ..bank import BankEntry

    vs = variants(params["blocks"], fast_downsample=params["fast_downsample"], groups=params["groups"])
    return [BankEntry(name, params["recipe"], seed, kw) for name, kw in vs.values() for seed in params["seeds"]]


def deploy_models(variants: Mapping[str, tuple[str, dict[str, Any]]]) -> dict:
    """``{label: deploy-form model}`` (10 classes, 1 channel, BN folded) of untrained variants."""
    from ..layers import reparameterize_model
    from ..models import create_model

    return {
        label: reparameterize_model(create_model(name, num_classes=10, in_chans=1, **kw))
        for label, (name, kw) in variants.items()
    }


def relative(table: pd.DataFrame, variants: Mapping[str, tuple[str, dict]] | None = None) -> pd.DataFrame:
    """``table`` with costs relative to its first row (the baseline).

    Adds ``params_ratio, macs_ratio, all_ops_ratio, memory_ratio`` (peak activation bytes) and
    ``latency_per_mac`` = latency ratio / MAC ratio (above 1: each MAC costs more time than
    the baseline's); ``accuracy_delta`` (points) when the table has accuracies; ``width_mult``
    of each row when ``variants`` (:func:`variants`) are given.
    """
    t = table.copy()
    if variants is not None:
        t["width_mult"] = [variants[n][1].get("width_mult", 1.0) for n in t.name]
    base = t.iloc[0]
    t["params_ratio"] = t.params / base.params
    t["macs_ratio"] = t.macs / base.macs
    t["all_ops_ratio"] = t.macs_all_ops / base.macs_all_ops
    t["memory_ratio"] = t.peak_activation_bytes / base.peak_activation_bytes
    t["latency_per_mac"] = t.latency_ratio / base.latency_ratio / t.macs_ratio
    if "accuracy" in t:
        t["accuracy_delta"] = t.accuracy - base.accuracy
    return t


def _cost_state(ops: pd.DataFrame, base_ratio: float) -> str:
    lo = ops.latency_ratio_q1 if "latency_ratio_q1" in ops else ops.latency_ratio
    hi = ops.latency_ratio_q3 if "latency_ratio_q3" in ops else ops.latency_ratio
    if (lo / base_ratio > 1).all():
        return "slower"
    if (hi / base_ratio < 1).any():
        return "not always slower"
    return "noise"


_VERDICT = {
    ("slower", "gain"): "supported", ("slower", "no gain"): "partly supported", ("slower", "untestable"): "partly supported",
    ("not always slower", "gain"): "partly supported", ("not always slower", "no gain"): "not supported",
    ("not always slower", "untestable"): "inconclusive",
    ("noise", "gain"): "partly supported", ("noise", "no gain"): "inconclusive", ("noise", "untestable"): "inconclusive",
}  # fmt: skip


def conclude(
    table: pd.DataFrame,
    *,
    equal_params: pd.DataFrame | None = None,
    zoo: pd.DataFrame | None = None,
    epochs: int = 0,
    images: int = 0,
) -> Lesson:
    """The cheap-operators verdict and takeaways.

    Args:
        table: :func:`relative` of the trained equal-MACs variants (deploy-form latency), first
            row ``'dwsep'``; an optional ``'dwsep + FD'`` row is reported, not judged.
        equal_params: :func:`relative` of the equal-parameter variants (untrained), optional.
        zoo: :func:`relative` of zoo models at their real resolution, first row the
            depthwise-separable reference (MobileNetV1), optional.
        epochs, images: the training schedule.

    Raises:
        ValueError: fewer than two operators besides the FD row.
    """
    ops_all = table[table.name != FD]
    if len(ops_all) < 2:
        raise ValueError(f"conclude needs the baseline and at least one cheap operator, got {list(table.name)}")
    ops = ops_all.iloc[1:]
    base_ratio = float(table.latency_ratio.iloc[0])
    cost = _cost_state(ops, base_ratio)
    n, spread = seeds_of(table), max_spread(table)
    best = ops.loc[ops.accuracy_delta.idxmax()]
    if too_short(table) or n < 2 or not finite(spread):
        acc = "untestable"
    else:
        acc = "gain" if best.accuracy_delta > 2 * spread else "no gain"
    verdict = _VERDICT[(cost, acc)]
    lat = "; ".join(f"{r['name']} {r.latency_ratio / base_ratio:.2f}x" for _, r in ops.iterrows())
    why_acc = {
        "gain": f"best accuracy gain {best.accuracy_delta:+.2f} points ({best['name']}) exceeds twice the {seed_spread(spread, n)}",
        "no gain": f"best accuracy gain {best.accuracy_delta:+.2f} points ({best['name']}) is within twice the {seed_spread(spread, n)}",
        "untestable": "accuracy untestable: " + ("training too short" if too_short(table) else seed_spread(spread, n)),
    }[acc]
    state = {"slower": "every cheap operator is slower than", "not always slower": "not every cheap operator is slower than",
             "noise": "the latencies are within the noise of"}[cost]  # fmt: skip
    evidence = f"At equal MACs {state} the depthwise-separable baseline (latency ratios, BN folded: {lat}); {why_acc}."

    takeaways = []
    for _, r in ops_all.iloc[1:].iterrows():
        takeaways.append(
            f"{r['name']} at equal MACs (width x{r.get('width_mult', 1.0):.2f}): {r.params_ratio:.2f}x params, "
            f"{r.all_ops_ratio:.2f}x all ops, {r.memory_ratio:.2f}x activation memory, "
            f"{r.latency_ratio / base_ratio:.2f}x latency, accuracy {r.accuracy_delta:+.2f} points vs dwsep."
        )
    fd = table[table.name == FD]
    if len(fd):
        r = fd.iloc[0]
        takeaways.append(
            f"Fast downsampling at equal MACs (width x{r.get('width_mult', 1.0):.2f}): {r.latency_ratio / base_ratio:.2f}x latency, "
            f"{r.memory_ratio:.2f}x activation memory, accuracy {r.accuracy_delta:+.2f} points vs dwsep: "
            + ("it saves more latency than MACs." if r.latency_ratio / base_ratio < 1 else "no latency saving here.")
        )
    if equal_params is not None and len(equal_params) > 1:
        ep = equal_params.iloc[1:]
        takeaways.append(
            "At equal parameters: "
            + "; ".join(f"{r['name']} {r.macs_ratio:.2f}x MACs, {r.latency_ratio / equal_params.latency_ratio.iloc[0]:.2f}x latency" for _, r in ep.iterrows())
            + "."
        )
    if zoo is not None and len(zoo) > 1:
        z0 = zoo.iloc[0]
        takeaways.append(
            f"Zoo models at their real resolution, latency per MAC relative to {z0['name']}: "
            + "; ".join(f"{r['name']} {r.latency_per_mac:.2f}x ({r.macs_ratio:.2f}x MACs)" for _, r in zoo.iloc[1:].iterrows())
            + "."
        )
    takeaways.append(accuracy_sentence(table, epochs=epochs, images=images))

    key_numbers: dict[str, Any] = {
        f"{r['name']}: latency at equal MACs": {"value": round(float(r.latency_ratio / base_ratio), 2), "unit": "x dwsep"}
        for _, r in ops.iterrows()
    }
    if len(fd):
        key_numbers["dwsep + FD: latency at equal MACs"] = {
            "value": round(float(fd.iloc[0].latency_ratio / base_ratio), 2), "unit": "x dwsep"
        }
    key_numbers["seed spread"] = (
        {"value": round(spread, 2), "unit": "points"} if n >= 2 and finite(spread) else seed_spread(spread, n)
    )
    key_numbers["training"] = "too short: accuracy ignored" if too_short(table) else f"{epochs} epochs on {images:,} images"
    if acc != "untestable":
        key_numbers["best accuracy delta"] = {"value": round(float(best.accuracy_delta), 2), "unit": f"points ({best['name']})"}
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)
