"""Verdict and takeaways of the ``attention_scaling`` notebook.

Softmax attention over $N$ tokens of width $D$ costs $2N^2D$ MACs and, written out, an
$h \\times N \\times N$ score matrix; window attention ($w$ tokens per window) $2NwD$; ReLU linear
attention $2NdD$; a selective state-space scan $O(NES)$ element-wise operations. So the fitted
exponent of latency against $N$ should be near 2 for attention and near 1 for the others.

Rule (:func:`conclude`) on the claim "attention's latency grows quadratically with the sequence
length and linear-time mixers' linearly, so the linear-time mixers win beyond a crossover length;
at equal parameters a state-space mixer matches attention's accuracy on sequential Fashion-MNIST":

* cost half *holds* when every quadratic mixer's exponent (fitted over ``N >= fit_min_tokens``)
  is at least :data:`QUADRATIC_MIN`, every linear-time mixer's at most :data:`LINEAR_MAX`, and
  the fused attention is slower than some linear-time mixer at the longest length both ran;
  *fails* when testable but not; *untestable* with fewer than two lengths to fit.
* accuracy half: *comparable* when the SSM's accuracy is within
  ``max(ACCURACY_MARGIN, 2 x seed std)`` of attention's; *differs* otherwise; *untestable* when
  training is too short (below a linear classifier) or there is one seed.
* supported = holds + comparable; partly supported = holds with differs/untestable, or
  comparable with fails; not supported = fails + differs; inconclusive = otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .training import accuracy_sentence, max_spread, seeds_of, too_short
from .verdicts import Lesson, finite, seed_spread

CLAIM = (
    "Softmax attention's latency grows about quadratically with sequence length while linear attention, "
    "window attention and a chunked state-space scan grow about linearly, so beyond a crossover length the "
    "linear-time mixers are faster; at equal parameters a state-space mixer matches attention's accuracy on "
    "sequential Fashion-MNIST."
)
#: a quadratic mixer's fitted exponent must reach this (2 in theory; overheads pull it down).
QUADRATIC_MIN = 1.6
#: a linear-time mixer's fitted exponent must stay below this (1 in theory; cache misses push it up).
LINEAR_MAX = 1.3
#: accuracy points within which two mixers count as comparable (also at least 2 seed stds).
ACCURACY_MARGIN = 1.0

#: mixer label -> (``layers.sequence_mixers`` class name, kwargs, kind). ``kind`` is
#: ``'quadratic'`` (judged against QUADRATIC_MIN), ``'linear'`` (against LINEAR_MAX) or
#: ``'scan'`` (reported only: no fused kernel exists here, see the notebook).
MIXERS: dict[str, tuple[str, dict[str, Any], str]] = {
    "linear attention": ("LinearAttention", {}, "linear"),
    "window attention": ("WindowAttention", {"window": 64}, "linear"),
    "attention (sdpa)": ("SoftmaxAttention", {"impl": "sdpa"}, "quadratic"),
    "attention (math)": ("SoftmaxAttention", {"impl": "math"}, "quadratic"),
    "ssd (chunked scan)": ("SSD", {}, "linear"),
    "ssm (parallel scan)": ("SelectiveSSM", {"scan": "parallel"}, "scan"),
    "ssm (sequential scan)": ("SelectiveSSM", {"scan": "sequential"}, "scan"),
}


def mixer_specs(names: Sequence[str]) -> dict[str, tuple[str, dict[str, Any], str]]:
    """The :data:`MIXERS` rows for ``names`` (in that order; the first is the latency baseline).

    Raises:
        KeyError: an unknown mixer label, naming the valid ones.
    """
    bad = [n for n in names if n not in MIXERS]
    if bad:
        raise KeyError(f"unknown mixer {bad[0]!r}; valid: {', '.join(MIXERS)}")
    return {n: MIXERS[n] for n in names}


def token_caps(names: Sequence[str], lengths: Sequence[int], *, heads: int, max_math_gb: float,
               max_quadratic_tokens: int) -> dict[str, int]:  # fmt: skip
    """Largest length each mixer runs at: written-out attention is capped by the bytes of its
    score matrices (``max_math_gb``), every quadratic mixer by ``max_quadratic_tokens``."""
    caps = {}
    for n in names:
        kind = MIXERS[n][2]
        if kind != "quadratic":
            continue
        cap = max_quadratic_tokens
        if MIXERS[n][1].get("impl") == "math":
            fits = [L for L in lengths if 2 * heads * L * L * 4 <= max_math_gb * 2**30]
            cap = min(cap, max(fits, default=0))
        caps[n] = cap
    return caps


def crossover(scaling: pd.DataFrame, quadratic: str, linear: str) -> int | None:
    """First length from which ``quadratic`` is slower than ``linear`` at every longer length both ran.

    Uses the interleaved ratios (both to the same baseline at each length), never absolute times.
    """
    a = scaling[scaling.mixer == quadratic].set_index("tokens").ratio
    b = scaling[scaling.mixer == linear].set_index("tokens").ratio
    both = sorted(set(a.index) & set(b.index))
    slower = [a[n] > b[n] for n in both]
    for i, n in enumerate(both):
        if all(slower[i:]):
            return int(n)
    return None


def conclude(
    exponents: Mapping[str, float],
    scaling: pd.DataFrame,
    accuracy: pd.DataFrame | None = None,
    *,
    attention: str = "sequence_tiny + attention",
    ssm: str = "sequence_tiny + ssd",
    fused: str = "attention (sdpa)",
    epochs: int = 0,
    images: int = 0,
) -> Lesson:
    """The attention-scaling verdict and takeaways.

    Args:
        exponents: mixer label -> fitted latency exponent (:func:`workbench.measure.fit_exponent`).
        scaling: :func:`workbench.measure.sequence_scaling` rows (``mixer, tokens, ratio, ...``).
        accuracy: train_compare table with ``name, accuracy, accuracy_std, seeds, params`` (or None).
        attention, ssm: the names of the attention and SSM rows of ``accuracy``.
        fused: the fused-attention label the crossover is found for.
        epochs, images: the training schedule.

    Raises:
        KeyError: an exponent for a mixer not in :data:`MIXERS`.
    """
    kinds = {n: MIXERS[n][2] for n in exponents}
    # a mixer with fewer than two lengths to fit (NaN) is reported, not judged
    quad = {n: e for n, e in exponents.items() if kinds[n] == "quadratic" and finite(e)}
    lin = {n: e for n, e in exponents.items() if kinds[n] == "linear" and finite(e)}
    judged = {**quad, **lin}
    cross = {n: crossover(scaling, fused, n) for n in lin} if fused in set(scaling.mixer) else {}
    if not quad or not lin:
        cost = "untestable"
    else:
        ok = all(e >= QUADRATIC_MIN for e in quad.values()) and all(e <= LINEAR_MAX for e in lin.values())
        cost = "holds" if ok and any(c is not None for c in cross.values()) else "fails"

    acc, delta, spread, n = "untestable", float("nan"), float("nan"), 1
    if accuracy is not None and {attention, ssm} <= set(accuracy.name):
        rows = accuracy.set_index("name")
        n, spread = seeds_of(accuracy), max_spread(accuracy)
        delta = float(rows.loc[ssm, "accuracy"] - rows.loc[attention, "accuracy"])
        if not too_short(accuracy) and n >= 2 and finite(spread):
            acc = "comparable" if abs(delta) <= max(ACCURACY_MARGIN, 2 * spread) else "differs"
    verdict = {
        ("holds", "comparable"): "supported", ("holds", "differs"): "partly supported",
        ("holds", "untestable"): "partly supported", ("fails", "comparable"): "partly supported",
        ("fails", "differs"): "not supported", ("fails", "untestable"): "inconclusive",
        ("untestable", "comparable"): "inconclusive", ("untestable", "differs"): "inconclusive",
        ("untestable", "untestable"): "inconclusive",
    }[(cost, acc)]  # fmt: skip

    exp_text = ", ".join(f"{k} {v:.2f}" for k, v in judged.items())
    why_cost = {
        "holds": f"exponents {exp_text} (quadratic >= {QUADRATIC_MIN}, linear <= {LINEAR_MAX})",
        "fails": f"exponents {exp_text} miss quadratic >= {QUADRATIC_MIN} / linear <= {LINEAR_MAX}"
        + ("" if any(c is not None for c in cross.values()) else ", or no crossover in the grid"),
        "untestable": "exponents untestable (fewer than two lengths to fit)",
    }[cost]
    why_acc = {
        "comparable": f"SSM - attention accuracy {delta:+.2f} points is within max({ACCURACY_MARGIN}, 2 x {seed_spread(spread, n)})",
        "differs": f"SSM - attention accuracy {delta:+.2f} points exceeds max({ACCURACY_MARGIN}, 2 x {seed_spread(spread, n)})",
        "untestable": "accuracy untestable: "
        + ("not trained" if accuracy is None else "training too short" if too_short(accuracy) else seed_spread(spread, n)),
    }[acc]
    evidence = f"Cost half {cost}: {why_cost}; {why_acc}."

    takeaways = []
    for name, e in exponents.items():
        kind = kinds[name]
        if not finite(e):
            takeaways.append(f"{name}: fewer than two lengths at or above the fit threshold, no exponent.")
            continue
        takeaways.append(
            f"{name}: latency ~ N^{e:.2f} over the fitted lengths"
            + {"quadratic": " (theory: 2).", "linear": " (theory: 1).",
               "scan": " (theory: 1 for the sequential loop, N log N work for the parallel scan; plain PyTorch ops, no fused kernel)."}[kind]
        )  # fmt: skip
    for name, c in cross.items():
        takeaways.append(
            f"{fused} is slower than {name} from N = {c:,} tokens on (interleaved ratios)."
            if c is not None
            else f"{fused} stayed faster than {name} at some length up to the longest measured: no crossover in this grid."
        )
    if accuracy is not None:
        takeaways.append(accuracy_sentence(accuracy, epochs=epochs, images=images))
        if {attention, ssm} <= set(accuracy.name) and "params" in accuracy:
            p = accuracy.set_index("name").params
            takeaways.append(
                f"Parameters: {ssm} {int(p[ssm]):,} vs {attention} {int(p[attention]):,} "
                f"({100 * (p[ssm] / p[attention] - 1):+.1f}%); accuracy difference {delta:+.2f} points."
            )

    key_numbers: dict[str, Any] = {f"{k} exponent": round(float(v), 2) for k, v in judged.items()}
    for name, c in cross.items():
        key_numbers[f"crossover vs {name}"] = {"value": c, "unit": "tokens"} if c is not None else "none in grid"
    key_numbers["SSM - attention accuracy"] = (
        {"value": round(delta, 2), "unit": "points"} if finite(delta) and acc != "untestable" else why_acc
    )
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)


def variants(mixers: Sequence[str], *, patch: int, mixer_kwargs: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{"sequence_tiny + <mixer>": ("sequence_tiny", create_model kwargs)}``, the trained models.

    Args:
        mixers: ``sequence_tiny`` mixer names (``'attention'``, ``'ssd'``, ...).
        patch: pixels per token side (4: 49 tokens).
        mixer_kwargs: mixer -> its keyword arguments (e.g. ``{"ssd": {"d_state": 24}}``).
    """
    from ..models.mixer_nets import SEQUENCE_MIXERS

    bad = [m for m in mixers if m not in SEQUENCE_MIXERS]
    if bad:
        raise ValueError(f"unknown sequence mixer {bad[0]!r}; valid: {', '.join(SEQUENCE_MIXERS)}")
    kw = mixer_kwargs or {}
    return {
        f"sequence_tiny + {m}": ("sequence_tiny", {"small_input": True, "mixer": m, "patch": patch, "mixer_kwargs": dict(kw.get(m, {}))})
        for m in mixers
    }


def bank_entries(params: Mapping[str, Any]) -> list:
    """Model-bank entries the notebook needs for its effective ``params``."""
    from ..bank import BankEntry

    vs = variants(params["train_mixers"], patch=params["patch"], mixer_kwargs=params["mixer_kwargs"])
    return [BankEntry(name, params["recipe"], seed, kw) for name, kw in vs.values() for seed in params["seeds"]]
