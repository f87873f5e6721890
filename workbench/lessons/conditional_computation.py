"""Verdict and takeaways of the ``conditional_computation`` notebook.

Early exits spend $\\bar{c} = \\sum_k s_k c_k$ per image ($s_k$: share leaving at exit $k$,
$c_k$: cost of reaching it); a top-$k$ MoE with $E$ experts holds about $E$ times the MLP
weights but runs $k$ of them per token.

Rule (:func:`conclude`) on the claim, tested in three parts:

* *exits*: holds when some threshold keeps accuracy within :data:`MAX_LOSS_POINTS` of the last
  exit and cuts mean MACs by at least :data:`MIN_MAC_SAVING_PCT`; fails otherwise; untestable
  when training is too short (the backbone below a linear classifier).
* *MoE cost*: holds when the MoE model has at least :data:`MIN_PARAM_RATIO` x the dense model's
  parameters and at most :data:`MAX_ACTIVE_MACS_RATIO` x its MACs.
* *balance*: holds when aux-loss-free bias balancing leaves the experts' load (max / mean on the
  test images) no worse than the auxiliary loss; fails otherwise.

:func:`~workbench.lessons.verdicts.combine_parts` turns the parts into the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..experiment import LINEAR_BASELINE_ACC
from .verdicts import Lesson, combine_parts, finite

CLAIM = (
    "Conditional computation spends compute per input: early exits cut mean MACs by at least a third at under "
    "1 point accuracy loss, a sparse MoE raises parameters without raising active MACs, and auxiliary-loss-free "
    "bias balancing spreads the load at least as evenly as an auxiliary loss."
)
MAX_LOSS_POINTS = 1.0  # "at under 1 point accuracy loss" (the claim)
MIN_MAC_SAVING_PCT = 100 / 3  # "at least a third" (the dynamic-computation map expects 40-60 % on FMNIST)
MIN_PARAM_RATIO = 1.5  # "raises parameters": a clear raise, not rounding
MAX_ACTIVE_MACS_RATIO = 1.05  # "without raising active MACs": the router's E*d per token is allowed

#: Published numbers quoted in the notebook (verbatim from the seed abstracts).
SEED_NUMBERS = {
    "Yuan 2.0-M32": "32 experts, 2 active: 3.7B active parameters of 40B, 7.4 GFlops per token",
    "Loss-free balancing": "better performance and better load balance than aux-loss balancing (up to 3B params, 200B tokens)",
    "CBNet": "up to 4.8x speedup in inference latency and 79 % reduction in energy (Raspberry Pi 4)",
    "Kangaroo": "speedups up to 1.68x, 88.7 % fewer additional parameters than Medusa-1",
}


def best_exit_threshold(sweep: pd.DataFrame, final_accuracy: float, *, max_loss: float = MAX_LOSS_POINTS) -> pd.Series | None:
    """The sweep row with the lowest mean MACs whose accuracy is within ``max_loss`` of the last exit.

    Returns None when no threshold keeps the accuracy (e.g. an empty sweep).
    """
    ok = sweep[sweep.accuracy >= final_accuracy - max_loss]
    return None if ok.empty else ok.loc[ok.mean_macs.idxmin()]


def _pct_saving(new: float, old: float) -> float:
    return 100.0 * (1 - new / old) if finite(new) and finite(old) and old else float("nan")


def conclude(
    exit_sweep: pd.DataFrame,
    *,
    exit_costs: Mapping[str, Sequence[float]],
    exit_accuracy: Sequence[float],
    oracle: Mapping[str, float],
    moe: pd.DataFrame,
    cascade: pd.DataFrame | None = None,
    cascade_models: pd.DataFrame | None = None,
    tokens: pd.DataFrame | None = None,
    epochs: int = 0,
    images: int = 0,
) -> Lesson:
    """The conditional-computation verdict and takeaways.

    Args:
        exit_sweep: :func:`workbench.search.conditional.threshold_sweep` with ``mean_macs`` and
            ``mean_latency_ratio`` columns.
        exit_costs: ``{"macs": [...], "latency_ratio": [...]}`` per exit (the last = the full model).
        exit_accuracy: accuracy (%) of every exit alone; the last is the backbone's.
        oracle: :func:`workbench.search.conditional.oracle_exit` (``accuracy``, ``mean_macs``).
        moe: one row per ViT variant: ``name, params, macs, latency_ratio, accuracy,
            max_over_mean`` (expert load on the test images; NaN for the dense model), with
            ``balance`` in ``{"dense", "aux", "bias"}``.
        cascade: :func:`workbench.search.conditional.cascade_sweep` (optional).
        cascade_models: the cascade's two models: ``name, accuracy, macs, latency_ratio``.
        tokens: token-dropping sweep: ``keep_rate, accuracy, macs, latency_ratio`` (optional).
        epochs, images: the backbone's training schedule (for the "too short" note).

    Raises:
        ValueError: an empty sweep, or an MoE table without a dense row.
    """
    if exit_sweep.empty or not len(exit_accuracy):
        raise ValueError("conclude needs a non-empty exit sweep and the per-exit accuracies")
    if "dense" not in set(moe.balance):
        raise ValueError(f"the MoE table needs a 'dense' row, got balance values {sorted(set(moe.balance))}")
    final_acc, full_macs = float(exit_accuracy[-1]), float(exit_costs["macs"][-1])
    short = not finite(final_acc) or final_acc < LINEAR_BASELINE_ACC
    best = best_exit_threshold(exit_sweep, final_acc)
    mac_saving = _pct_saving(best.mean_macs, full_macs) if best is not None else float("nan")
    lat_saving = (
        _pct_saving(best.mean_latency_ratio, exit_costs["latency_ratio"][-1])
        if best is not None and "mean_latency_ratio" in best
        else float("nan")
    )
    if short:
        exits = "untestable"
    else:
        exits = "holds" if finite(mac_saving) and mac_saving >= MIN_MAC_SAVING_PCT else "fails"

    dense = moe[moe.balance == "dense"].iloc[0]
    sparse = moe[moe.balance != "dense"]
    param_ratio = float(sparse.params.min() / dense.params) if len(sparse) else float("nan")
    macs_ratio = float(sparse.macs.max() / dense.macs) if len(sparse) else float("nan")
    moe_cost = (
        "untestable" if not len(sparse)
        else "holds" if param_ratio >= MIN_PARAM_RATIO and macs_ratio <= MAX_ACTIVE_MACS_RATIO else "fails"
    )  # fmt: skip
    by = {r.balance: r for r in sparse.itertuples()}
    if {"aux", "bias"} <= set(by) and finite(by["aux"].max_over_mean) and finite(by["bias"].max_over_mean):
        balance = "holds" if by["bias"].max_over_mean <= by["aux"].max_over_mean else "fails"
    else:
        balance = "untestable"
    verdict = combine_parts([exits, moe_cost, balance])

    why = []
    if exits == "untestable":
        why.append(f"exits untestable: training too short (last exit {final_acc:.1f}% < {LINEAR_BASELINE_ACC:.0f}%)")
    elif best is None:
        why.append(f"no threshold kept accuracy within {MAX_LOSS_POINTS:g} point of the last exit")
    else:
        why.append(
            f"early exits at threshold {best.threshold:g} save {mac_saving:.0f}% of the MACs "
            f"({'>=' if exits == 'holds' else '<'} {MIN_MAC_SAVING_PCT:.0f}%) at {best.accuracy - final_acc:+.2f} points of accuracy"
        )
    if moe_cost != "untestable":
        why.append(f"the MoE ViT has {param_ratio:.2f}x the dense parameters at {macs_ratio:.3f}x its MACs")
    if balance != "untestable":
        why.append(
            f"expert load max/mean {by['bias'].max_over_mean:.2f} with bias balancing vs {by['aux'].max_over_mean:.2f} with the aux loss"
        )
    evidence = "; ".join(why) + "."

    takeaways = [
        "Exit accuracies (first to last): " + ", ".join(f"{a:.1f}%" for a in exit_accuracy)
        + f"; the oracle exit reaches {oracle['accuracy']:.1f}% at {oracle['mean_macs'] / full_macs:.0%} of the full MACs: "
        "the bound no confidence threshold can beat."
    ]
    if best is not None and finite(lat_saving) and mac_saving > 0:
        takeaways.append(
            f"At threshold {best.threshold:g} the mean MACs fall by {mac_saving:.0f}% but the measured batch-1 latency by "
            f"{lat_saving:.0f}%: "
            + ("less than the MACs: every exit check costs a head, a softmax and a host-side branch, and the small early "
               "layers run below the CPU's peak." if lat_saving < mac_saving else
               "not less than the MACs here (on a shared machine compare the latency IQR in the exit-cost table).")
        )  # fmt: skip
    if cascade is not None and cascade_models is not None and len(cascade_models) == 2 and not cascade.empty:
        small, large = cascade_models.iloc[0], cascade_models.iloc[1]
        ok = cascade[cascade.accuracy >= large.accuracy - MAX_LOSS_POINTS]
        if ok.empty:
            takeaways.append(f"Cascade {small['name']} -> {large['name']}: no threshold came within {MAX_LOSS_POINTS:g} point of {large['name']} alone ({large.accuracy:.1f}%).")
        else:
            c = ok.loc[ok.mean_macs.idxmin()]
            takeaways.append(
                f"Cascade {small['name']} -> {large['name']}: at threshold {c.threshold:g} it defers {c.deferred_pct:.0f}% of the images and reaches "
                f"{c.accuracy:.1f}% (large alone {large.accuracy:.1f}%, small alone {small.accuracy:.1f}%) at "
                f"{c.mean_macs / large.macs:.0%} of the large model's MACs"
                + (f" and {c.mean_latency_ratio / large.latency_ratio:.0%} of its batch-1 latency." if "mean_latency_ratio" in c else ".")
            )
    if tokens is not None and len(tokens) > 1:
        full, low = tokens.iloc[0], tokens.iloc[-1]
        takeaways.append(
            f"Token dropping (no retraining): keeping {low.keep_rate:.0%} of the patch tokens gives {low.macs / full.macs:.0%} of the MACs, "
            f"{low.latency_ratio / full.latency_ratio:.0%} of the batch-1 latency and {low.accuracy - full.accuracy:+.1f} points."
        )
    vit_short = not finite(moe.accuracy.max()) or moe.accuracy.max() < LINEAR_BASELINE_ACC
    if vit_short:
        takeaways.append(
            f"The ViTs stay below a linear classifier (best {moe.accuracy.max():.1f}% < {LINEAR_BASELINE_ACC:.0f}%): "
            "their training is too short to compare accuracies; the load and cost columns still hold."
        )
    for r in sparse.itertuples():
        acc_note = "" if vit_short else (
            f"; accuracy {r.accuracy - dense.accuracy:+.1f} points vs dense (one run each: within seed noise unless large)"
        )
        takeaways.append(
            f"MoE ({r.balance}): {r.params / dense.params:.2f}x params, {r.macs / dense.macs:.3f}x MACs, "
            f"{r.latency_ratio / dense.latency_ratio:.2f}x batch-1 latency of the dense ViT; load max/mean {r.max_over_mean:.2f}"
            f"{acc_note}."
        )
    if short:
        takeaways.append(
            f"Training too short ({epochs} epoch(s) on {images:,} images): the backbone stays below a linear classifier, "
            "so the accuracy side of the exits is ignored."
        )

    key_numbers: dict[str, Any] = {
        "oracle exit accuracy": {"value": round(float(oracle["accuracy"]), 2), "unit": "%"},
    }
    if best is not None and finite(mac_saving):
        key_numbers["exit MAC saving at <1 pt loss"] = {"value": round(mac_saving, 1), "unit": "%"}
    if finite(lat_saving):
        key_numbers["exit latency saving (same threshold)"] = {"value": round(lat_saving, 1), "unit": "%"}
    if moe_cost != "untestable":
        key_numbers["MoE params / dense"] = {"value": round(param_ratio, 2), "unit": "x"}
        key_numbers["MoE active MACs / dense"] = {"value": round(macs_ratio, 3), "unit": "x"}
    if balance != "untestable":
        key_numbers["load max/mean aux / bias"] = f"{by['aux'].max_over_mean:.2f} / {by['bias'].max_over_mean:.2f}"
    key_numbers["training"] = "too short: exit accuracy ignored" if short else f"{epochs} epochs on {images:,} images"
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)


def variants(backbone: str, small_width: float, vit_balances: Sequence[str], *, num_experts: int, top_k: int,
             moe_blocks: int) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:  # fmt: skip
    """The notebook's bank models: ``{"cascade": {...}, "vit": {...}}`` of ``{label: (registry name, kwargs)}``.

    ``cascade`` is the small model (``width_mult=small_width``) and the full backbone (also the
    early-exit backbone); ``vit`` is the dense tiny ViT and one MoE ViT per balance mode.

    Raises:
        ValueError: an unknown balance mode.
    """
    from ..layers.moe import BALANCE_MODES

    bad = [b for b in vit_balances if b not in ("dense", *BALANCE_MODES)]
    if bad:
        raise ValueError(f"unknown balance {bad[0]!r}; valid: dense, {', '.join(BALANCE_MODES)}")
    vit = {
        b: ("cond_vit", {"small_input": True} if b == "dense" else
            {"small_input": True, "moe_blocks": moe_blocks, "num_experts": num_experts, "top_k": top_k, "balance": b})
        for b in vit_balances
    }  # fmt: skip
    return {
        "cascade": {
            f"{backbone} x{small_width:g}": (backbone, {"small_input": True, "width_mult": small_width}),
            backbone: (backbone, {"small_input": True}),
        },
        "vit": vit,
    }


def bank_entries(params: Mapping[str, Any]) -> list:
    """Model-bank entries the notebook needs for its effective ``params`` (built before it runs)."""
    from ..bank import BankEntry

    vs = variants(params["backbone"], params["small_width"], params["vit_balances"], num_experts=params["num_experts"],
                  top_k=params["top_k"], moe_blocks=params["moe_blocks"])  # fmt: skip
    return [
        BankEntry(name, params[recipe], seed, kw)
        for group, recipe in (("cascade", "recipe"), ("vit", "vit_recipe"))
        for name, kw in vs[group].values()
        for seed in params["seeds"]
    ]


def tradeoff_points(sweep: pd.DataFrame, cascade: pd.DataFrame, oracle: Mapping[str, float], exit_costs: pd.DataFrame,
                    cascade_models: pd.DataFrame) -> pd.DataFrame:  # fmt: skip
    """One long table for the accuracy-vs-cost plots: exit thresholds, cascade thresholds, oracle, single models.

    Returns:
        ``policy, label, accuracy, mean_macs, mean_latency``; ``mean_latency`` is a ratio to
        the full CNN (the last exit, the cascade's large model).
    """
    small, large = cascade_models.iloc[0], cascade_models.iloc[1]
    rows = [
        {"policy": "early exit", "label": f"t={r.threshold:g}", "accuracy": r.accuracy, "mean_macs": r.mean_macs,
         "mean_latency": r.mean_latency_ratio / exit_costs.latency_ratio.iloc[-1]}
        for r in sweep.itertuples()
    ] + [
        {"policy": "cascade", "label": f"t={r.threshold:g}", "accuracy": r.accuracy, "mean_macs": r.mean_macs,
         "mean_latency": r.mean_latency_ratio / large.latency_ratio}
        for r in cascade.itertuples()
    ] + [
        {"policy": "oracle exit", "label": "oracle", "accuracy": oracle["accuracy"], "mean_macs": oracle["mean_macs"],
         "mean_latency": oracle.get("mean_latency_ratio", float("nan")) / exit_costs.latency_ratio.iloc[-1]},
    ] + [
        {"policy": "single model", "label": str(m["name"]), "accuracy": m.accuracy, "mean_macs": m.macs,
         "mean_latency": m.latency_ratio / large.latency_ratio}
        for m in (small, large)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def load_table(loads: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The per-model expert loads (:func:`workbench.search.conditional.expert_load`) in one long table."""
    parts = [df.assign(model=name) for name, df in loads.items() if not df.empty]
    if not parts:
        return pd.DataFrame(columns=["layer", "expert", "tokens", "share_pct", "model"])
    return pd.concat(parts, ignore_index=True)


def models_table(cascade_models: pd.DataFrame, moe: pd.DataFrame, *, dataset: str, notes: str) -> pd.DataFrame:
    """The report's ``models`` table: the two CNNs and the ViT variants (latency ratios per group)."""
    cols = ["name", "params", "macs", "latency_ratio", "accuracy"]
    cnn = cascade_models[cols].assign(baseline=str(cascade_models.name.iloc[0]))
    vit = moe[cols].assign(name=[f"cond_vit {b}" for b in moe.balance], baseline=f"cond_vit {moe.balance.iloc[0]}")
    return pd.concat([cnn, vit], ignore_index=True).assign(dataset=dataset, notes=notes)
