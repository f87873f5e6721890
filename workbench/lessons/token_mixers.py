"""Verdict and takeaways of the ``token_mixers`` notebook.

MetaFormer (Yu et al., CVPR 2022): a block is ``x + mixer(norm(x))`` then ``x + mlp(norm(x))``;
the claim is that this skeleton, not the mixer, carries most of the accuracy. Per block on an
$H \\times W$ map with $C$ channels ($N = HW$ tokens): pooling costs $9NC$ additions, a $k \\times k$
depthwise conv $k^2NC$ MACs, global attention $2N^2C$ (plus $4NC^2$ for the projections), window
attention $2Nw^2C$, linear attention $2NdC$. Only global attention grows with $N^2$: in a hybrid
network that term is small at 224 px and grows with the square of the pixel count.

Rule (:func:`conclude`):

* skeleton half *holds* when pooling's accuracy is within ``max(ACCURACY_MARGIN, 2 x seed std)``
  of the best attention-type mixer; *fails* when testable and not; *untestable* when training is
  too short (below a linear classifier), with one seed, or without pooling / attention rows.
* resolution half *grows* when the hybrid whose share of token-by-token MACs rises most from the
  lowest to the highest resolution (global attention; a windowed one stays flat) has a latency
  ratio to the CNN baseline that rises by at least
  :data:`RATIO_GROWTH` from the lowest to the highest resolution (its lower quartile at the top
  above its upper quartile at the bottom); *flat* when testable and not; *untestable* with fewer
  than two resolutions or no hybrid whose token-matmul share grows.
* supported = holds + grows; partly supported = one of the two (the other failed or
  untestable); not supported = fails + flat; inconclusive = both untestable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .training import accuracy_sentence, max_spread, seeds_of, too_short
from .verdicts import Lesson, finite, seed_spread

CLAIM = (
    "In one fixed MetaFormer skeleton parameter-free pooling reaches the accuracy of the attention mixers "
    "within seed noise, while the mixers' latency differs more than their MACs; in hybrid CNN-attention "
    "models the quadratic attention term makes latency grow faster with resolution than a pure CNN's."
)
#: accuracy points within which pooling counts as matching the best attention mixer (or 2 stds).
ACCURACY_MARGIN = 1.0
#: relative rise of the hybrid / CNN latency ratio from the lowest to the highest resolution.
RATIO_GROWTH = 1.10
#: MetaFormer mixers that attend (token-by-token weights computed from the input).
ATTENTION_MIXERS = ("attention", "window_attention", "linear_attention", "cascaded_group_attention", "ssd")

#: the MetaFormer paper's ImageNet-1k rows at 224 px (Yu et al., CVPR 2022, Table 1):
#: top-1 %, params (M), MACs (G).
PAPER_ROWS = (
    {"model": "PoolFormer-S12 (pooling)", "top1": 77.2, "params_m": 11.9, "gmacs": 1.8},
    {"model": "ResMLP-S12 (MLP)", "top1": 76.6, "params_m": 15, "gmacs": 3.0},
    {"model": "DeiT-S (attention)", "top1": 79.8, "params_m": 22, "gmacs": 4.6},
    {"model": "PoolFormer-S24 (pooling)", "top1": 80.3, "params_m": 21.4, "gmacs": 3.4},
)


def mixer_of(name: str) -> str:
    """``'metaformer_tiny + pooling'`` -> ``'pooling'``."""
    return name.split(" + ")[-1]


def split_available(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(registered, missing)`` zoo names, in the given order (some come from other branches)."""
    from ..models import list_models

    zoo = set(list_models())
    return [n for n in names if n in zoo], [n for n in names if n not in zoo]


def mixer_overheads(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with MAC and latency ratios to its first row (the baseline mixer)."""
    t = table.copy()
    t["macs_ratio"] = t.macs / t.macs.iloc[0]
    t["latency_per_mac"] = t.latency_ratio / t.macs_ratio
    t["accuracy_delta"] = t.accuracy - t.accuracy.iloc[0]
    return t


def conclude(
    table: pd.DataFrame,
    resolution: pd.DataFrame | None = None,
    *,
    epochs: int = 0,
    images: int = 0,
) -> Lesson:
    """The token-mixer verdict and takeaways.

    Args:
        table: :func:`mixer_overheads` of the trained MetaFormer variants (``name`` ends in
            ``" + <mixer>"``; columns ``accuracy, accuracy_std, seeds, macs, latency_ratio``).
        resolution: :func:`workbench.measure.resolution_scaling` rows (first model: the CNN).
        epochs, images: the training schedule.
    """
    if len(table) < 2:
        raise ValueError(f"conclude needs at least two mixers, got {list(table.name)}")
    mixers = table.assign(mixer=table.name.map(mixer_of)).set_index("mixer")
    att = [m for m in mixers.index if m in ATTENTION_MIXERS]
    n, spread = seeds_of(table), max_spread(table)
    skeleton, gap, best = "untestable", float("nan"), None
    if "pooling" in mixers.index and att:
        best = max(att, key=lambda m: mixers.loc[m, "accuracy"])
        gap = float(mixers.loc[best, "accuracy"] - mixers.loc["pooling", "accuracy"])
        if not too_short(table) and n >= 2 and finite(spread):
            skeleton = "holds" if gap <= max(ACCURACY_MARGIN, 2 * spread) else "fails"

    growth, hybrid, res = "untestable", None, resolution
    if res is not None and res.resolution.nunique() >= 2:
        base = res.model.iloc[0]
        top, low = res.resolution.max(), res.resolution.min()
        others = res[res.model != base]
        # the quadratic term shows as a token-matmul share that GROWS with resolution (global
        # attention); windowed attention keeps a flat share however large it is
        rise = (others[others.resolution == top].set_index("model").token_matmul_pct
                - others[others.resolution == low].set_index("model").token_matmul_pct)  # fmt: skip
        if len(rise) and rise.max() > 0:
            hybrid = rise.idxmax()
            h = res[res.model == hybrid].set_index("resolution")
            rises = h.loc[top, "ratio"] >= RATIO_GROWTH * h.loc[low, "ratio"] and h.loc[top, "ratio_q1"] > h.loc[low, "ratio_q3"]
            growth = "grows" if rises else "flat"
    verdict = {
        ("holds", "grows"): "supported", ("holds", "flat"): "partly supported", ("holds", "untestable"): "partly supported",
        ("fails", "grows"): "partly supported", ("untestable", "grows"): "partly supported",
        ("fails", "flat"): "not supported", ("fails", "untestable"): "inconclusive",
        ("untestable", "flat"): "inconclusive", ("untestable", "untestable"): "inconclusive",
    }[(skeleton, growth)]  # fmt: skip

    why_skel = {
        "holds": f"the best attention-type mixer ({best}) beats pooling by {gap:+.2f} points, within max({ACCURACY_MARGIN}, 2 x {seed_spread(spread, n)})",
        "fails": f"the best attention-type mixer ({best}) beats pooling by {gap:+.2f} points, beyond max({ACCURACY_MARGIN}, 2 x {seed_spread(spread, n)})",
        "untestable": "skeleton half untestable: "
        + ("training too short" if too_short(table) else seed_spread(spread, n) if best else "no pooling or attention row"),
    }[skeleton]
    if hybrid is not None:
        h = res[res.model == hybrid].set_index("resolution")
        why_res = (
            f"{hybrid} / {res.model.iloc[0]} latency ratio {h.ratio.iloc[0]:.2f} at {h.index[0]} px -> "
            f"{h.ratio.iloc[-1]:.2f} at {h.index[-1]} px (token-matmul MACs {h.token_matmul_pct.iloc[0]:.1f}% -> "
            f"{h.token_matmul_pct.iloc[-1]:.1f}%): {growth}"
        )
    else:
        why_res = "resolution half untestable (fewer than two resolutions or no hybrid whose token-matmul share grows)"
    evidence = f"{why_skel}; {why_res}."

    takeaways = []
    base_mixer = mixers.index[0]
    for m, r in mixers.iterrows():
        if m == base_mixer:
            continue
        takeaways.append(
            f"{m}: {r.macs_ratio:.2f}x the MACs of {base_mixer}, {r.latency_ratio:.2f}x its latency "
            f"({r.latency_per_mac:.2f}x latency per MAC), accuracy {r.accuracy_delta:+.2f} points."
        )
    takeaways.append(accuracy_sentence(table, epochs=epochs, images=images))
    if res is not None and res.resolution.nunique() >= 2:
        base = res.model.iloc[0]
        for model, g in res[res.model != base].groupby("model", sort=False):
            g = g.sort_values("resolution")
            takeaways.append(
                f"{model}: latency {g.ratio.iloc[0]:.2f}x {base} at {g.resolution.iloc[0]} px, {g.ratio.iloc[-1]:.2f}x at "
                f"{g.resolution.iloc[-1]} px; token-by-token matmuls {g.token_matmul_pct.iloc[0]:.1f}% -> {g.token_matmul_pct.iloc[-1]:.1f}% of its MACs."
            )

    key_numbers: dict[str, Any] = {
        "best attention - pooling accuracy": {"value": round(gap, 2), "unit": f"points ({best})"}
        if finite(gap) and skeleton != "untestable"
        else why_skel,
        "seed spread": {"value": round(spread, 2), "unit": "points"} if n >= 2 and finite(spread) else seed_spread(spread, n),
    }
    for m, r in mixers.iterrows():
        if m != base_mixer:
            key_numbers[f"{m}: latency / MACs vs {base_mixer}"] = f"{r.latency_ratio:.2f}x / {r.macs_ratio:.2f}x"
    if hybrid is not None:
        h = res[res.model == hybrid].set_index("resolution")
        key_numbers[f"{hybrid} / CNN latency, {h.index[0]} -> {h.index[-1]} px"] = f"{h.ratio.iloc[0]:.2f}x -> {h.ratio.iloc[-1]:.2f}x"
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)


def variants(mixers: Sequence[str], *, width_mult: float) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{"metaformer_tiny + <mixer>": ("metaformer_tiny", create_model kwargs)}``.

    Raises:
        ValueError: an unknown mixer, naming the valid ones.
    """
    from ..layers import list_token_mixers

    bad = [m for m in mixers if m not in list_token_mixers()]
    if bad:
        raise ValueError(f"unknown token mixer {bad[0]!r}; valid: {', '.join(list_token_mixers())}")
    return {
        f"metaformer_tiny + {m}": ("metaformer_tiny", {"small_input": True, "mixer": m, "width_mult": width_mult})
        for m in mixers
    }


def bank_entries(params: Mapping[str, Any]) -> list:
    """Model-bank entries the notebook needs for its effective ``params``."""
    from ..bank import BankEntry

    vs = variants(params["mixers"], width_mult=params["width_mult"])
    return [BankEntry(name, params["recipe"], seed, kw) for name, kw in vs.values() for seed in params["seeds"]]
