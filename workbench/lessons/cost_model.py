"""Verdict and takeaways of the ``cost_model`` notebook: do MACs predict CPU latency?

Rule (:func:`conclude`): MACs must be judged where mobile architectures compete, among the
models under ``lightweight_macs``; a rank correlation needs at least :data:`MIN_MODELS` of them.

* supported -- Spearman rho(MACs, latency) in that band < :data:`RHO_MISPREDICTS` and a
  depthwise 3x3 runs at least :data:`DEPTHWISE_GAP` times below a dense 3x3 in GFLOP/s;
* partly supported -- one of the two;
* not supported -- neither;
* inconclusive -- fewer than :data:`MIN_MODELS` models in the band.

With ``rho_level`` (the notebook passes 0.95) the rho part uses its bootstrap interval over
models instead of the point value: it holds when the whole interval lies below
:data:`RHO_MISPREDICTS`, fails when it lies wholly above, and is undecided when it straddles
the threshold (then the depthwise gap alone decides between partly supported and not
supported, :func:`~workbench.lessons.verdicts.combine_parts`). A rho that moves with background
load from 0.84 to 0.45 then no longer flips the verdict by itself. A verdict measured on a busy
machine is marked by :func:`~workbench.lessons.verdicts.mark_contention` (``contention``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..measure.stats import spearman_ci
from .verdicts import Lesson, combine_parts, finite, interval_part, mark_contention, times

CLAIM = (
    "MACs alone mispredict CPU latency: depthwise and memory-bound layers run far below peak, "
    "so measured latency, not MACs, must rank mobile architectures."
)
MIN_MODELS = 5  # a Spearman rho over fewer points swings by +-0.3 with one swapped pair
RHO_MISPREDICTS = 0.8  # rho below this leaves several pairs of models misordered
DEPTHWISE_GAP = 3.0  # dense / depthwise GFLOP/s
EFFECT = 0.10  # a guideline "holds" when its variants differ by more than 10 % in latency


def _conv_dict(conv: Any) -> dict[str, Any]:
    return dict(conv) if isinstance(conv, Mapping) else conv.to_dict()


def spearman(df: pd.DataFrame, x: str = "macs", y: str = "latency_ms") -> float:
    """Spearman rank correlation of two columns (NaN for fewer than 3 rows)."""
    return float(df[x].corr(df[y], method="spearman")) if len(df) >= 3 else float("nan")


def guideline_findings(guidelines: pd.DataFrame) -> dict[str, str]:
    """One sentence per ShuffleNetV2 guideline: holds, reversed or no clear effect here.

    G1-G3 compare the slowest variant with the first (the guideline predicts > 1); G4 compares
    the bottleneck without ReLU and shortcut with the full one (the guideline predicts < 1).
    """
    out = {}
    for gid, g in guidelines.groupby("guideline", sort=True):
        g = g.reset_index(drop=True)
        base = g.variant.iloc[0]
        if gid == "G4":
            row = g[g.variant.str.contains("ReLU off, shortcut off")]
            if row.empty:
                continue
            ratio = float(row.latency_ratio.iloc[0])
            saved = 1 - ratio
            state = (
                "holds"
                if saved > EFFECT
                else "is reversed"
                if saved < -EFFECT
                else "shows no clear effect"
            )
            out[gid] = (
                f"G4 (element-wise ops are not free) {state} here: dropping ReLU and the shortcut changes bottleneck time by {-100 * saved:+.0f}% at equal MACs."
            )
            continue
        worst = g.iloc[1:].loc[g.latency_ratio.iloc[1:].idxmax()] if len(g) > 1 else g.iloc[0]
        ratio = float(worst.latency_ratio)
        state = (
            "holds"
            if ratio > 1 + EFFECT
            else "is reversed"
            if ratio < 1 - EFFECT
            else "shows no clear effect"
        )
        out[gid] = (
            f"{gid} ({g.claim.iloc[0]}) {state} here: '{worst.variant}' takes {ratio:.2f}x the time of '{base}' at equal MACs."
        )
    return out


def conv_sentence(conv: Mapping[str, Any], cpu: str = "") -> str:
    """What the dense 3x3 experiment showed about '> 100 % of the GEMM peak'."""
    c = conv
    alg = c.get("algorithm") or "unknown algorithm"
    pct, cached = c["pct_of_fresh_peak"], c.get("pct_of_cached_peak")
    head = (
        f"A dense 3x3 conv (C={c['channels']}, {c['size']} px) ran as oneDNN {c['implementation']} / {alg} "
        f"at {c['conv_gflops']:.0f} GFLOP/s = {pct:.0f}% of the GEMM peak measured now ({c['fresh_peak_gflops']:.0f} GFLOP/s); "
        f"the same conv as im2col + GEMM reached {c['im2col_gflops']:.0f} GFLOP/s."
    )
    if c.get("winograd"):
        why = " oneDNN chose Winograd, which performs fewer multiplies than the counted MACs, so counted-MAC throughput can exceed the GEMM peak."
    elif pct > 100 and "direct" not in alg:
        why = (
            f" oneDNN did not report a direct algorithm ({c['implementation']} / {alg}), so a fast algorithm cannot be ruled out; "
            "compare the library conv with im2col + GEMM, which does every counted MAC."
        )
    elif pct > 100:
        why = (
            " It was not Winograd (oneDNN reports a direct convolution) and the peak is fresh, so the GEMM benchmark "
            "(torch.mm) is not this machine's compute ceiling: the direct conv kernel uses the vector units better"
        )
        why += (
            " (on AMD CPUs MKL's GEMM is known to take a slower code path)."
            if "AMD" in cpu
            else "."
        )
    elif cached is not None and cached > 100:
        why = f" Against the stale cached peak it looked like {cached:.0f}%: the old '>100 %' came from the cache, not from the algorithm."
    else:
        why = " Nothing exceeds the peak in this run."
    return head + why


def _interval_numbers(zoo: pd.DataFrame) -> dict[str, Any]:
    """How well the zoo's latency ratios are known: the widest interval and whether the adaptive
    comparison reached its target (``profile_many``'s ``ci`` attrs), when recorded."""
    out: dict[str, Any] = {}
    if {"latency_ratio_ci_lo", "latency_ratio_ci_hi", "latency_ratio"} <= set(zoo.columns):
        half = 100 * (zoo.latency_ratio_ci_hi - zoo.latency_ratio_ci_lo) / 2 / zoo.latency_ratio
        if half.notna().any():
            out["widest zoo latency-ratio interval"] = {"value": round(float(half.max()), 1), "unit": "% (+-, 95 %)"}
    ci = zoo.attrs.get("ci") or {}
    if ci.get("target"):
        state = "reached" if ci.get("converged") else "not reached (time cap)"
        out[f"zoo ratios to +-{100 * ci['target']:.0f} %"] = f"{state} after {ci.get('rounds')} rounds"
    return out


def conclude(
    zoo: pd.DataFrame,
    layers: pd.DataFrame,
    guidelines: pd.DataFrame,
    conv: Any,
    *,
    lightweight_macs: float = 400e6,
    dram_gbs: float | None = None,
    cache_gbs: float | None = None,
    cpu: str = "",
    rho_level: float | None = None,
    contention: Any = None,
) -> Lesson:
    """The cost-model notebook's verdict and takeaways from its recorded tables.

    Args:
        zoo: :func:`profile_many` table of the zoo (``name, macs, latency_ms, latency_ratio,
            arithmetic_intensity`` in MACs per byte of compulsory traffic).
        layers: :func:`conv_efficiency` table (``kind, width, achieved_gflops,
            arithmetic_intensity``).
        guidelines: :func:`shufflenet_guidelines` table.
        conv: a :class:`workbench.measure.ConvAlgorithm` or its ``to_dict()``.
        lightweight_macs: upper MAC bound of the band where mobile models compete.
        dram_gbs, cache_gbs: measured DRAM and cache copy bandwidth (GB/s), optional.
        cpu: CPU model string (for the explanation of '> 100 % of peak').
        rho_level: coverage of the bootstrap intervals of rho (e.g. 0.95) that then decide the
            rho part of the verdict; ``None`` uses the point values.
        contention: :func:`workbench.measure.contention` around the latency runs (or its
            ``to_dict()``); a busy machine marks the verdict unreliable without changing it.
    """
    c = _conv_dict(conv)
    light = zoo[zoo.macs < lightweight_macs]
    rho, rho_light = spearman(zoo), spearman(light)
    width = layers.width.max()
    at = layers[layers.width == width].set_index("kind")
    dense, dw = at.loc["dense 3x3"], at.loc["depthwise 3x3"]
    gap = times(dense.achieved_gflops, dw.achieved_gflops)
    band = f"the {len(light)} models under {lightweight_macs / 1e6:.0f} M MACs"

    if len(light) < MIN_MODELS:
        verdict = "inconclusive"
        evidence = f"Only {len(light)} models under {lightweight_macs / 1e6:.0f} M MACs: a rank correlation needs at least {MIN_MODELS} (depthwise runs {gap:.1f}x below dense in GFLOP/s)."
    elif rho_level is None:
        mis, slow = rho_light < RHO_MISPREDICTS, gap >= DEPTHWISE_GAP
        verdict = (
            "supported" if mis and slow else "partly supported" if mis or slow else "not supported"
        )
        evidence = (
            f"Spearman rho(MACs, latency) = {rho_light:.2f} among {band} ({rho:.2f} over all {len(zoo)}); "
            f"a depthwise 3x3 at C={width} runs at {dw.achieved_gflops:.3g} GFLOP/s vs {dense.achieved_gflops:.3g} for a dense 3x3 ({gap:.1f}x)."
        )
    else:
        _, lo, hi = spearman_ci(light.macs, light.latency_ms, level=rho_level)
        rho_part = interval_part(lo, hi, RHO_MISPREDICTS)
        verdict = combine_parts([rho_part, "holds" if gap >= DEPTHWISE_GAP else "fails"])
        reading = {"holds": "wholly below", "fails": "wholly above", "untestable": "straddling"}[rho_part]
        evidence = (
            f"Spearman rho(MACs, latency) = {rho_light:.2f} among {band}, {100 * rho_level:.0f} % interval "
            f"[{lo:.2f}, {hi:.2f}] {reading} {RHO_MISPREDICTS} ({rho:.2f} over all {len(zoo)}); "
            f"a depthwise 3x3 at C={width} runs at {dw.achieved_gflops:.3g} GFLOP/s vs {dense.achieved_gflops:.3g} for a dense 3x3 ({gap:.1f}x)."
        )

    takeaways = []
    if len(light) < MIN_MODELS:
        takeaways.append(
            f"Over all {len(zoo)} models MACs rank-correlate with latency at rho = {rho:.2f}; {band} are too few (< {MIN_MODELS}) for a meaningful rank correlation: add models."
        )
    elif finite(rho_light):
        reading = (
            "MACs misorder them"
            if rho_light < RHO_MISPREDICTS
            else "MACs still rank them fairly well on this machine"
        )
        takeaways.append(
            f"Over all {len(zoo)} models MACs rank-correlate with latency at rho = {rho:.2f}; among {band} rho = {rho_light:.2f}: {reading}."
        )
    else:
        takeaways.append(
            f"Over all {len(zoo)} models MACs rank-correlate with latency at rho = {rho:.2f}; {band} are too few for a correlation."
        )
    ns = (1e6 * zoo.latency_ms / zoo.macs).rename(index=zoo.name)
    if len(ns) >= 2 and ns.notna().all():
        takeaways.append(
            f"One MAC costs {ns.max():.2f} ns in {ns.idxmax()} but {ns.min():.2f} ns in {ns.idxmin()}: "
            f"a {ns.max() / ns.min():.1f}x spread in cost per MAC that a MAC count cannot see."
        )
    takeaways.append(
        f"At C={width} a depthwise 3x3 does {dw.arithmetic_intensity:.2f} MACs per byte of compulsory traffic and runs at "
        f"{dw.achieved_gflops:.3g} GFLOP/s; a dense 3x3 does {dense.arithmetic_intensity:.1f} MACs/byte at "
        f"{dense.achieved_gflops:.3g} GFLOP/s ({gap:.1f}x faster per MAC)."
    )
    takeaways.append(conv_sentence(c, cpu))
    if dram_gbs and "arithmetic_intensity" in zoo:
        ridge = c["fresh_peak_gflops"] / 2 / dram_gbs
        below = int((zoo.arithmetic_intensity < ridge).sum())
        s = f"{below} of {len(zoo)} models lie below the DRAM ridge point ({ridge:.1f} MACs/byte) in arithmetic intensity"
        if cache_gbs and cache_gbs > dram_gbs:
            s += f"; but a cache-resident copy runs at {cache_gbs:.3g} GB/s ({cache_gbs / dram_gbs:.1f}x DRAM), so layers whose maps stay in cache can sit above the DRAM slope"
        elif cache_gbs:
            s += f"; a cache-resident copy ran at {cache_gbs:.3g} GB/s, no faster than DRAM ({dram_gbs:.3g} GB/s) in this run (a loaded machine?), so the DRAM slope applies"
        takeaways.append(s + ".")
    takeaways.extend(guideline_findings(guidelines).values())

    g4 = guidelines[
        (guidelines.guideline == "G4") & guidelines.variant.str.contains("ReLU off, shortcut off")
    ]
    key_numbers: dict[str, Any] = {
        "Spearman rho(MACs, latency), all": round(rho, 3) if finite(rho) else "n/a",
        f"rho within < {lightweight_macs / 1e6:.0f} M MACs ({len(light)} models)": round(
            rho_light, 3
        )
        if finite(rho_light) and len(light) >= MIN_MODELS
        else f"too few models (< {MIN_MODELS})",
        f"dense 3x3 C={width}": {"value": float(f"{dense.achieved_gflops:.3g}"), "unit": "GFLOP/s"},
        f"depthwise 3x3 C={width}": {
            "value": float(f"{dw.achieved_gflops:.3g}"),
            "unit": "GFLOP/s",
        },
        "dense 3x3 algorithm (oneDNN)": f"{c['implementation']} / {c.get('algorithm') or 'unknown'}",
        "dense 3x3 vs fresh GEMM peak": {"value": round(c["pct_of_fresh_peak"], 0), "unit": "%"},
    }
    if rho_level is not None:
        for label, df in (("all", zoo), (f"within < {lightweight_macs / 1e6:.0f} M MACs", light)):
            r, lo, hi = spearman_ci(df.macs, df.latency_ms, level=rho_level)
            key_numbers[f"rho {label}: {100 * rho_level:.0f} % interval"] = (
                f"[{lo:.2f}, {hi:.2f}]" if finite(lo) and finite(hi) else "n/a"
            )
    key_numbers.update(_interval_numbers(zoo))
    if not g4.empty:
        key_numbers["ReLU + shortcut share of bottleneck time (G4)"] = {
            "value": round(100 * (1 - float(g4.latency_ratio.iloc[0])), 1),
            "unit": "%",
        }
    return mark_contention(Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers), contention)
