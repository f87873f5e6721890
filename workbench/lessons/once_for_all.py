"""Verdict, takeaways and the supernet entry of the ``once_for_all`` notebook.

Once-for-All (Cai et al., ICLR 2020) trains one elastic network with progressive shrinking and
claims its sub-networks, taken without retraining, keep "the same level of accuracy as training
independently". Here: a supernet of a compact MobileNetV2-like space (:data:`SPACE`) trained on
Fashion-MNIST, three latency budgets (fractions of the largest child's latency predicted by this
machine's kernel table at 224 px), the best child per budget by a small random search, and the
same three architectures trained from scratch by the model bank.

Rule (:func:`conclude`), per budget: the child *holds* when its accuracy (BN re-estimated, no
retraining) is at least the from-scratch mean minus twice the larger of the seed std and the
binomial std of the test accuracy; *fails* otherwise; *untestable* with one scratch seed.
The parts are combined by :func:`~workbench.lessons.verdicts.combine_parts`; the verdict is
*inconclusive* when neither the children nor the scratch networks beat a linear classifier
(training too short).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..bank import TaskEntry, cached_train
from ..models import create_model
from ..models.mb_space import MBArch, MBSpace
from ..search.supernet import SupernetRecipe
from .training import LINEAR_BASELINE_ACC
from .verdicts import Lesson, combine_parts

CLAIM = (
    "Sub-networks taken from one once-for-all supernet trained with progressive shrinking, without retraining, "
    "match the accuracy of the same architectures trained from scratch (within noise) at three latency budgets."
)

#: The notebook's space: four stages of MobileNetV2-like inverted residuals, depth 1-3, kernel
#: 3/5/7, expansion 3/4/6 (OFA's choices), small enough that the supernet trains in minutes on a
#: CPU. With ``small_input=False`` the stride-2 stem puts the first stage at 14 px on 28 px images.
SPACE = MBSpace(widths=(16, 24, 40, 64), strides=(1, 2, 2, 1), depths=((1, 2, 3),) * 4, stem=16, first=8, head=256)

#: Published results (quoted from the abstracts in the seed corpus).
PAPER_RESULTS = (
    {"paper": "Once-for-All (Cai et al., ICLR 2020)", "result": "> 10^19 sub-networks at the same level of accuracy as "
     "training independently; up to 4.0% ImageNet top-1 over MobileNetV3, or same accuracy but 1.5x faster; "
     "80.0% top-1 under the mobile setting (<600M MACs)"},
    {"paper": "BigNAS (Yu et al., ECCV 2020)", "result": "child models of 200 to 1000 MFLOPs at 76.5% to 80.9% top-1 "
     "without extra retraining or post-processing"},
)  # fmt: skip


def recipe(params: Mapping[str, Any]) -> SupernetRecipe:
    """The :class:`~workbench.search.SupernetRecipe` of the notebook's effective ``params``.

    Keys used: ``width_mult, train_images, batch_size, steps_per_phase, lr, kd, seed``
    (and ``threads``, not keyed).
    """
    return SupernetRecipe(
        space=SPACE, width_mult=params["width_mult"], subset=params["train_images"], batch_size=params["batch_size"],
        steps_per_phase=tuple(params["steps_per_phase"]), lr=params["lr"], kd=params["kd"], small_input=False,
        test_subset=params.get("test_images", 5000), seed=params["seed"], threads=params.get("threads") or None,
    )  # fmt: skip


def supernet_entry(params: Mapping[str, Any], cache_dir=None):
    """The trained supernet of ``params`` (a :class:`~workbench.bank.TaskResult`), trained once.

    The exact call other notebooks reuse (``architecture_search``): the same ``params`` give the
    same bank entry. ``result.model`` is the :class:`~workbench.search.Supernet`.
    """
    return cached_train(**recipe(params).cache_kwargs("ofa_supernet"), cache_dir=cache_dir)


def deploy_model(arch: MBArch | str, width_mult: float) -> Any:
    """``arch`` as deployed at ImageNet resolution: 3 channels, 1000 classes, stride-2 stem."""
    key = arch.key() if isinstance(arch, MBArch) else arch
    return create_model("mbv2_space", arch=key, width_mult=width_mult, small_input=False, in_chans=3, num_classes=1000)


def latency_of(predictor, width_mult: float, px: int = 224):
    """``latency(arch) -> ms``: ``predictor``'s estimate for ``arch`` deployed at ``px`` pixels (see :func:`deploy_model`)."""
    return functools.partial(_predicted_ms, predictor, width_mult=width_mult, px=px)


def _predicted_ms(predictor, arch: MBArch | str, width_mult: float, px: int) -> float:
    return float(predictor.predict(deploy_model(arch, width_mult), (3, px, px)))


def scratch_kwargs(arch: MBArch | str, width_mult: float) -> dict:
    """``create_model`` kwargs of a from-scratch bank entry of ``arch`` (as the supernet's children)."""
    return {"arch": arch.key() if isinstance(arch, MBArch) else arch, "small_input": False, "width_mult": width_mult}


def bank_entries(params: Mapping[str, Any]) -> list:
    """The supernet, declared so ``workbench report`` trains it in its bank phase (the notebook's
    :func:`supernet_entry` call then loads it); the from-scratch architectures are known only after
    the search."""
    return [TaskEntry("ofa_supernet", supernet_entry, (supernet_params(params),))]


def supernet_params(params: Mapping[str, Any]) -> dict:
    """The parameters :func:`recipe` keys on (what ``architecture_search`` mirrors), as a plain dict."""
    keys = ("width_mult", "train_images", "test_images", "batch_size", "steps_per_phase", "lr", "kd", "seed")
    return {k: params[k] for k in keys if k in params}


def budget_table(
    search: pd.DataFrame,
    budgets_pct: list[float],
    largest_latency: float,
    scratch: Mapping[str, list[float]],
    measured_ratio: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per budget from :func:`~workbench.search.budget_search`'s chosen children.

    Args:
        search: the search table (``budget`` in the latency unit, ``chosen`` flags).
        budgets_pct: the budgets as % of ``largest_latency``, in the order searched.
        largest_latency: the largest child's latency (same unit).
        scratch: arch key -> from-scratch accuracies (%), one per seed.
        measured_ratio: arch key -> measured latency / the largest child's, optional.

    Returns:
        Columns ``budget_pct, arch, predicted_ratio, measured_ratio, ofa_accuracy,
        scratch_accuracy, scratch_std, seeds`` (what :func:`conclude` reads).
    """
    rows = []
    chosen = search[search.chosen]
    for pct in budgets_pct:
        hit = chosen[(chosen.budget - pct / 100 * largest_latency).abs() < 1e-9 * max(largest_latency, 1.0)]
        if hit.empty:
            continue
        r = hit.iloc[0]
        accs = list(scratch.get(r.arch, []))
        s = pd.Series(accs, dtype=float)
        rows.append({
            "budget_pct": pct, "arch": r.arch, "predicted_ratio": r.latency / largest_latency,
            "measured_ratio": (measured_ratio or {}).get(r.arch, math.nan), "ofa_accuracy": r.accuracy,
            "scratch_accuracy": s.mean() if accs else math.nan, "scratch_std": s.std() if len(accs) > 1 else math.nan,
            "seeds": len(accs),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _noise(acc: float, std: float, n_test: int) -> float:
    p = min(max(acc / 100, 0.0), 1.0)
    binom = 100 * math.sqrt(p * (1 - p) / max(n_test, 1))
    return max(std if math.isfinite(std) else 0.0, binom)


def conclude(
    table: pd.DataFrame,
    *,
    supernet_images: int,
    supernet_seconds: float,
    scratch_images: int,
    test_images: int,
    largest_accuracy: float | None = None,
) -> Lesson:
    """The once-for-all verdict and takeaways.

    Args:
        table: one row per budget: ``budget_pct`` (of the largest child's predicted latency),
            ``arch``, ``predicted_ratio``, ``measured_ratio`` (latency / the largest child's,
            measured interleaved; NaN if not measured), ``ofa_accuracy`` (%),
            ``scratch_accuracy`` (mean %), ``scratch_std`` (NaN with one seed), ``seeds``.
        supernet_images, supernet_seconds: what training the supernet took (all children together).
        scratch_images: images each from-scratch network trained on.
        test_images: test images the accuracies are measured on (binomial noise).
        largest_accuracy: the largest child's accuracy (%), optional.

    Raises:
        ValueError: an empty table.
    """
    if table.empty:
        raise ValueError("conclude needs at least one budget row")
    best = max(table.ofa_accuracy.max(), table.scratch_accuracy.max())
    short = not math.isfinite(best) or best < LINEAR_BASELINE_ACC
    parts, gaps = [], []
    for _, r in table.iterrows():
        gap = r.ofa_accuracy - r.scratch_accuracy
        tol = 2 * _noise(r.scratch_accuracy, r.scratch_std, test_images)
        gaps.append((r.budget_pct, gap, tol))
        if r.seeds < 2:
            parts.append("untestable")
        else:
            parts.append("holds" if gap >= -tol else "fails")
    verdict = combine_parts(parts, inconclusive=short)
    n = int(table.seeds.min())
    gap_text = "; ".join(f"{b:g}% budget: {g:+.2f} points (tolerance {t:.2f})" for b, g, t in gaps)
    if short:
        evidence = f"Training too short: the best network reaches {best:.1f}% (a linear classifier ~{LINEAR_BASELINE_ACC:.0f}%); accuracy ignored. Gaps: {gap_text}."
    elif n < 2:
        evidence = f"1 seed, no spread: the scratch spread is unknown. Child minus scratch: {gap_text}."
    else:
        held = sum(p == "holds" for p in parts)
        evidence = f"{held} of {len(parts)} budgets: the child is within noise of (or above) the same architecture trained from scratch ({gap_text})."

    takeaways = [
        f"One supernet training ({supernet_images:,} images, {supernet_seconds:.0f} s) served all {len(table)} budgets; "
        f"each from-scratch network took {scratch_images:,} images of its own ({len(table) * scratch_images * max(n, 1):,} in total for {n} seed(s)).",
    ]
    for _, r in table.iterrows():
        meas = f", measured {r.measured_ratio:.2f}" if math.isfinite(r.measured_ratio) else ""
        takeaways.append(
            f"Budget {r.budget_pct:g}% of the largest child's latency: chosen child at predicted {r.predicted_ratio:.2f}{meas} x the largest; "
            f"{r.ofa_accuracy:.2f}% without retraining vs {r.scratch_accuracy:.2f}% from scratch ({r.ofa_accuracy - r.scratch_accuracy:+.2f} points)."
        )
    if largest_accuracy is not None and math.isfinite(largest_accuracy):
        takeaways.append(f"The largest child reaches {largest_accuracy:.2f}%: the ceiling the smaller children are distilled towards.")
    if table.measured_ratio.notna().sum() >= 2:
        order_ok = list(table.sort_values("budget_pct").measured_ratio) == sorted(table.measured_ratio)
        takeaways.append(
            "Measured latencies rank the chosen children as the budgets do." if order_ok
            else "Measured latencies do NOT rank the chosen children as the predicted budgets do: the predictor misorders them here."
        )
    if short:
        takeaways.append("Training too short: read the accuracies as a smoke test, not as evidence.")

    key_numbers: dict[str, Any] = {
        f"child - scratch at {b:g}% budget": {"value": round(float(g), 2), "unit": "points"} for b, g, _ in gaps
    }
    key_numbers["supernet training"] = {"value": round(supernet_seconds), "unit": f"s ({supernet_images:,} images)"}
    key_numbers["scratch seeds"] = n if n >= 2 else "1 seed, no spread"
    key_numbers["training"] = "too short: accuracy ignored" if short else f"scratch: {scratch_images:,} images per network"
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)
