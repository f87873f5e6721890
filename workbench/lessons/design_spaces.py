"""Verdict and takeaways of the ``design_spaces`` notebook.

Scaling a network's MACs by $s$ (Dollar et al., "Fast and Accurate Model Scaling", CVPR 2021):
MACs grow as $d\\,w^2 r^2$ (depth, width, resolution multipliers); activations (elements of all
conv outputs) as $d\\,w\\,r^2$. So at equal MACs $s$:

* width only ($w = \\sqrt{s}$): activations $\\times \\sqrt{s}$;
* depth only ($d = s$) and resolution only ($r = \\sqrt{s}$): activations $\\times s$;
* EfficientNet compound ($d = 1.2^\\phi$, $w = 1.1^\\phi$, $r = 1.15^\\phi$, $\\phi = \\log_2 s$):
  about $s^{0.8}$;
* fast compound (flops share $\\alpha = 0.8$ to width, 0.1 each to depth and resolution:
  $w = s^{0.4}$, $d = s^{0.1}$, $r = s^{0.05}$): $s^{0.6}$.

Design spaces (Radosavovic et al., CVPR 2020): compare two spaces by the empirical distribution
function (EDF) of the errors of networks sampled from them, $F(e) = \\frac{1}{n}\\sum_i
[e_i < e]$; a space whose EDF lies to the left (higher) is better.

Rule (:func:`conclude`) on the claim "at fixed MACs, scaling strategies differ widely in CPU
latency, and activation count ranks that latency better than MACs; a RegNet-style constrained
space has a better error EDF than the unconstrained one":

* cost half holds when, at batch 1, latency varies by at least :data:`MIN_VARIATION` among the
  strategies at some scale AND the mean within-scale Spearman correlation of latency with
  activations exceeds that with MACs by :data:`MIN_RHO_GAIN`;
* space half: *dominates* when the probability that a constrained network beats an
  unconstrained one (AUC) is >= :data:`AUC_DOMINATES`; *reversed* when <= 1 - that; *no
  difference* between; *untestable* when a space has fewer than :data:`MIN_SAMPLES` trained
  networks or no network beats a linear classifier (training too short);
* supported = both hold; partly supported = one holds; not supported = neither (space testable);
  inconclusive = no cost effect and space untestable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from torch import nn

from ..experiment import LINEAR_BASELINE_ACC
from ..models.design_space import SPACES, sample_space
from .verdicts import Lesson, finite

CLAIM = (
    "At fixed MACs, width, depth, resolution and compound scaling give networks of widely varying CPU "
    "latency, which activation count ranks better than MACs; and a RegNet-style constrained design space "
    "yields a better error distribution than the unconstrained space it comes from."
)
STRATEGIES = ("width", "depth", "resolution", "compound", "fast")
#: EfficientNet's compound coefficients (Tan & Le, ICML 2019, Sec. 3.3): depth, width, resolution.
EFFICIENTNET_ALPHA_BETA_GAMMA = (1.2, 1.1, 1.15)
#: Dollar et al.'s fast scaling: share of the flop increase given to width (the rest split evenly).
FAST_ALPHA = 0.8
MIN_VARIATION = 1.2
MIN_RHO_GAIN = 0.2
AUC_DOMINATES = 0.65
MIN_SAMPLES = 5


def scaling_plan(
    strategies: Sequence[str], scales: Sequence[float], *, width: float, depth: float, resolution: int
) -> pd.DataFrame:
    """Multipliers of each (strategy, scale) so the MACs grow by about ``s`` (module docstring).

    Returns:
        one row per network, the base first: ``name, strategy, s, width_mult, depth_mult, resolution``
        (resolution rounded to a multiple of 8 px).

    Raises:
        ValueError: an unknown strategy (naming the valid ones) or a scale <= 1.
    """
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad:
        raise ValueError(f"unknown strategy {bad[0]!r}; valid: {', '.join(STRATEGIES)}")
    if any(s <= 1 for s in scales):
        raise ValueError(f"scales must be > 1, got {list(scales)}")
    a, b, g = EFFICIENTNET_ALPHA_BETA_GAMMA
    e_w, e_dr = FAST_ALPHA / 2, (1 - FAST_ALPHA) / 2  # exponents of s on w and on d (r gets e_dr / 2)
    rows = [{"name": "base", "strategy": "base", "s": 1.0, "width_mult": width, "depth_mult": depth, "resolution": resolution}]
    for s in scales:
        phi = math.log2(s)
        mult = {
            "width": (s**0.5, 1.0, 1.0), "depth": (1.0, s, 1.0), "resolution": (1.0, 1.0, s**0.5),
            "compound": (b**phi, a**phi, g**phi), "fast": (s**e_w, s**e_dr, s ** (e_dr / 2)),
        }  # fmt: skip
        for st in strategies:
            w, d, r = mult[st]
            rows.append({"name": f"{st} x{s:g}", "strategy": st, "s": float(s), "width_mult": round(width * w, 4),
                         "depth_mult": round(depth * d, 4), "resolution": int(8 * round(resolution * r / 8))})  # fmt: skip
    return pd.DataFrame(rows)


def scaled_models(plan: pd.DataFrame, base_model: str) -> dict[str, nn.Module]:
    """``{name: deploy-form model}`` for each row of :func:`scaling_plan`, each with its own
    ``default_input_size`` (3, r, r), so latency and MACs are measured at its resolution."""
    from ..layers import reparameterize_model
    from ..models import create_model

    out = {}
    for row in plan.itertuples():
        m = reparameterize_model(create_model(base_model, width_mult=row.width_mult, depth_mult=row.depth_mult))
        m.default_input_size = (3, int(row.resolution), int(row.resolution))
        out[row.name] = m
    return out


def _spearman(x: pd.Series, y: pd.Series) -> float:
    if len(x) < 3 or x.nunique() < 2 or y.nunique() < 2:
        return float("nan")
    return float(x.rank().corr(y.rank()))


def rank_correlations(table: pd.DataFrame, latency: str = "latency_ratio") -> dict[str, float]:
    """Spearman correlations of ``latency`` with MACs and with activations.

    Returns:
        ``{"rho_macs", "rho_acts"}`` over all networks and ``{"rho_macs_within",
        "rho_acts_within"}``: the mean over scales of the correlation among the networks of one
        scale (equal MACs up to rounding), the comparison the fast-scaling paper makes.
    """
    within = {"macs": [], "activations": []}
    for _, g in table[table.s > 1].groupby("s"):
        for col in within:
            r = _spearman(g[col], g[latency])
            if finite(r):
                within[col].append(r)
    return {
        "rho_macs": _spearman(table.macs, table[latency]),
        "rho_acts": _spearman(table.activations, table[latency]),
        "rho_macs_within": float(np.mean(within["macs"])) if within["macs"] else float("nan"),
        "rho_acts_within": float(np.mean(within["activations"])) if within["activations"] else float("nan"),
    }


def space_variants(n: int, *, seed: int, macs_range: Sequence[float]) -> dict[str, tuple[str, dict]]:
    """``{"<space> #<i>": ("tiny_anynet", kwargs)}``: ``n`` sampled networks per space."""
    lo, hi = (float(v) for v in macs_range)
    return {
        f"{space} #{i}": ("tiny_anynet", cfg.kwargs())
        for space in SPACES
        for i, cfg in enumerate(sample_space(space, n, seed=seed, macs_range=(lo, hi)))
    }


def bank_entries(params: Mapping[str, Any]) -> list:
    """Bank entries of the design-space study (one training seed per sampled network, as RegNet)."""
    from ..bank import BankEntry

    vs = space_variants(params["space_samples"], seed=params["space_seed"], macs_range=params["macs_range"])
    return [BankEntry(m, params["recipe"], seed, kw) for m, kw in vs.values() for seed in params["seeds"]]


def edf(errors: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted errors and the EDF at each: $F(e_{(i)}) = i / n$."""
    e = np.sort(np.asarray(errors, dtype=float))
    return e, np.arange(1, len(e) + 1) / len(e)


def dominance_auc(better: Sequence[float], worse: Sequence[float]) -> float:
    """P(an error from ``better`` < one from ``worse``), ties counted half (the Mann-Whitney AUC).

    >>> dominance_auc([1, 2], [3, 4])
    1.0
    """
    a, b = np.asarray(better, float)[:, None], np.asarray(worse, float)[None, :]
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(((a < b) + 0.5 * (a == b)).mean())


def space_table(table: pd.DataFrame) -> pd.DataFrame:
    """``train_compare`` table of the sampled networks with ``space`` and ``error`` (%) columns."""
    return table.assign(space=table.name.str.split(" #").str[0], error=100 - table.accuracy)


def edf_figure(spaces: pd.DataFrame) -> go.Figure:
    """Error EDFs of the sampled spaces (step curves), as in the RegNet paper's figures."""
    fig = go.Figure()
    for space, g in spaces.groupby("space", sort=False):
        e, f = edf(g.error)
        fig.add_trace(go.Scatter(x=e, y=f, mode="lines+markers", line_shape="hv", name=f"{space} (n={len(g)})"))
    fig.update_layout(title="Error EDF of networks sampled from each space (short training)",
                      xaxis_title="test error (%)", yaxis_title="cumulative share of networks", height=420)  # fmt: skip
    return fig


def scaling_figure(table: pd.DataFrame) -> go.Figure:
    """Latency ratio vs activations (log-log) per strategy: the fast-scaling paper's plot."""
    fig = go.Figure()
    for st, g in table.groupby("strategy", sort=False):
        fig.add_trace(go.Scatter(x=g.activations, y=g.latency_ratio, mode="markers+text", text=g.s.map(lambda s: f"x{s:g}"),
                                 textposition="top center", name=st))  # fmt: skip
    fig.update_layout(title="Latency (batch 1, ratio to base) vs activations at equal MACs per scale",
                      xaxis_title="activations (conv outputs, elements)", yaxis_title="latency ratio",
                      xaxis_type="log", yaxis_type="log", height=440)  # fmt: skip
    return fig


def conclude(scaling: pd.DataFrame, spaces: pd.DataFrame, *, epochs: int = 0, images: int = 0) -> Lesson:
    """The design-space verdict and takeaways.

    Args:
        scaling: one row per scaled network: ``name, strategy, s, macs, activations,
            latency_ratio`` (batch 1, interleaved), optionally ``latency_ratio_b<N>`` columns.
        spaces: :func:`space_table` of the sampled, trained networks.
        epochs, images: the training schedule of the sampled networks.

    Raises:
        ValueError: no scaled network beyond the base.
    """
    scaled = scaling[scaling.s > 1]
    if scaled.empty:
        raise ValueError("conclude needs scaled networks (s > 1) in the scaling table")
    rho = rank_correlations(scaling)
    spread = scaled.groupby("s").latency_ratio.agg(lambda v: v.max() / v.min())
    varies = bool((spread >= MIN_VARIATION).any())
    acts_better = finite(rho["rho_acts_within"]) and (
        not finite(rho["rho_macs_within"]) or rho["rho_acts_within"] - rho["rho_macs_within"] >= MIN_RHO_GAIN
    )
    cost_holds = varies and acts_better

    counts = spaces.space.value_counts()
    short = not finite(spaces.accuracy.max()) or spaces.accuracy.max() < LINEAR_BASELINE_ACC
    have = all(counts.get(s, 0) >= MIN_SAMPLES for s in SPACES)
    err = {s: spaces.error[spaces.space == s] for s in SPACES}
    auc = dominance_auc(err["constrained"], err["unconstrained"])
    if short or not have:
        space_state = "untestable"
    elif auc >= AUC_DOMINATES:
        space_state = "dominates"
    elif auc <= 1 - AUC_DOMINATES:
        space_state = "reversed"
    else:
        space_state = "no difference"
    space_holds = space_state == "dominates"
    if cost_holds and space_holds:
        verdict = "supported"
    elif cost_holds or space_holds:
        verdict = "partly supported"
    else:
        verdict = "inconclusive" if space_state == "untestable" else "not supported"

    med = {s: float(np.median(e)) if len(e) else float("nan") for s, e in err.items()}
    cost_txt = (
        f"within-scale Spearman rho of batch-1 latency with activations {rho['rho_acts_within']:.2f} vs with MACs "
        f"{rho['rho_macs_within']:.2f}; latency spread at equal MACs up to {spread.max():.2f}x"
    )
    space_txt = {
        "untestable": "design spaces untestable: "
        + ("training too short (no network beats a linear classifier)" if short else f"fewer than {MIN_SAMPLES} networks per space"),
        "dominates": f"constrained beats unconstrained with probability {auc:.2f} (median error {med['constrained']:.1f}% vs {med['unconstrained']:.1f}%)",
        "reversed": f"constrained beats unconstrained with probability only {auc:.2f} (median error {med['constrained']:.1f}% vs {med['unconstrained']:.1f}%)",
        "no difference": f"constrained beats unconstrained with probability {auc:.2f}, within {1 - AUC_DOMINATES:.2f}-{AUC_DOMINATES:.2f} "
        f"(median error {med['constrained']:.1f}% vs {med['unconstrained']:.1f}%)",
    }[space_state]
    evidence = f"{'Activations rank' if acts_better else 'Activations do not rank'} latency better than MACs ({cost_txt}); {space_txt}."

    takeaways = []
    for s, g in scaled.groupby("s"):
        fastest, slowest = g.loc[g.latency_ratio.idxmin()], g.loc[g.latency_ratio.idxmax()]
        takeaways.append(
            f"At {s:g}x the base MACs ({g.macs.min() / 1e6:.0f}-{g.macs.max() / 1e6:.0f} M), {fastest.strategy} scaling is fastest "
            f"({fastest.latency_ratio:.2f}x the base latency, {fastest.activations / 1e6:.1f} M activations) and {slowest.strategy} "
            f"slowest ({slowest.latency_ratio:.2f}x, {slowest.activations / 1e6:.1f} M activations)."
        )
    takeaways.append(
        f"Over all {len(scaling)} networks: Spearman rho of latency with MACs {rho['rho_macs']:.2f}, with activations "
        f"{rho['rho_acts']:.2f}; within one scale (equal MACs) {rho['rho_macs_within']:.2f} vs {rho['rho_acts_within']:.2f}."
    )
    for col in [c for c in scaling.columns if c.startswith("latency_ratio_b")]:
        r = rank_correlations(scaling, col)
        takeaways.append(
            f"At batch {col.removeprefix('latency_ratio_b')}: within-scale rho with MACs {r['rho_macs_within']:.2f}, "
            f"with activations {r['rho_acts_within']:.2f}."
        )
    if short:
        takeaways.append(
            f"Training too short: the best sampled network reaches {spaces.accuracy.max():.1f}%, below a linear classifier "
            f"(~{LINEAR_BASELINE_ACC:.0f}%), so the EDFs are not compared."
        )
    else:
        takeaways.append(
            f"Sampled networks after {epochs} epoch(s) on {images:,} images: median error constrained {med['constrained']:.1f}%, "
            f"unconstrained {med['unconstrained']:.1f}%; best {spaces.error.min():.1f}%, worst {spaces.error.max():.1f}% "
            f"({counts.to_dict()} networks, one seed each: single runs are noisy, EDFs over many are not)."
        )
    key_numbers: dict[str, Any] = {
        "rho(latency, activations) within scale": round(rho["rho_acts_within"], 2) if finite(rho["rho_acts_within"]) else "n/a",
        "rho(latency, MACs) within scale": round(rho["rho_macs_within"], 2) if finite(rho["rho_macs_within"]) else "n/a",
        "latency spread at equal MACs": {"value": round(float(spread.max()), 2), "unit": "x"},
        "P(constrained beats unconstrained)": round(auc, 2) if space_state != "untestable" else space_txt,
        "training": "too short: EDFs not compared" if short else f"{epochs} epoch(s) on {images:,} images, 1 seed per network",
    }  # fmt: skip
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)
