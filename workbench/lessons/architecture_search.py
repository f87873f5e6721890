"""Verdict and takeaways of the ``architecture_search`` notebook.

Hardware-aware NAS at our scale: candidates of the MobileNetV2-like space (``wb.models.MBArch``)
get a latency from the per-block kernel table of THIS machine (``wb.search.ArchLatency``) and an
accuracy from a weight-sharing supernet (``wb.search.Supernet``, BN recalibrated per subnet);
random and evolutionary search spend the same number of supernet evaluations under the latency
of the hand design -- MobileNetV2's rule (3x3 depthwise, expansion 6, the same depth in every
stage) applied inside the space (:func:`hand_arch`); the winner and a spread of subnets are then
trained stand-alone and measured.

The space and the supernet are the ``once_for_all`` notebook's (:data:`workbench.lessons.
once_for_all.SPACE`, a shared bank entry): ``mobilenetv2_050`` itself, with its 320-channel last
stage and 1280-channel head, would make the supernet too slow to train on two cores, so the
hand-designed reference is MobileNetV2's design rule at this space's widths.

Rule (:func:`conclude`), three parts, each *holds*, *fails* or *untestable*:

* *beats hand design*: the searched network, trained stand-alone with the same recipe, is at
  least :data:`MIN_GAIN_PTS` points more accurate than the hand design while its MEASURED latency
  is at most :data:`MAX_LATENCY_RATIO` times the hand design's (untestable when training is too
  short: both below :data:`LINEAR_BASELINE`);
* *evolution beats random*: evolutionary search's best supernet accuracy exceeds random search's
  at an equal number of evaluations;
* *supernet ranks*: Kendall tau between supernet and stand-alone accuracy over the stand-alone
  subnets is at least :data:`MIN_KENDALL` (untestable below :data:`MIN_SUBNETS` subnets).

Supported = all hold; not supported = none holds; partly supported otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..bank import BankEntry
from ..models.mb_space import MBArch, MBSpace, MBStage
from .verdicts import Lesson, combine_parts

CLAIM = (
    "Searching a MobileNetV2-like space under this machine's latency with a weight-sharing supernet finds a network "
    "more accurate than MobileNetV2's hand-design rule at equal measured latency; evolutionary search beats "
    "random search at equal cost; and the supernet ranks subnets as stand-alone training does (Kendall tau >= 0.5)."
)
HAND = "MobileNetV2 rule"  # the hand-designed reference's name in the tables
MIN_GAIN_PTS = 0.5  # accuracy points: the seed spread of ~0.3 points (fmnist nets) plus margin
MAX_LATENCY_RATIO = 1.05  # "equal latency": within the 5 % an interleaved ratio resolves
MIN_KENDALL = 0.5  # BossNAS reports 0.78 Spearman; "frustratingly hard" finds weak agreement
MIN_SUBNETS = 6  # fewer stand-alone subnets make tau too coarse (steps of 2/(n(n-1)/2))
LINEAR_BASELINE = 84.0  # % a linear classifier reaches on Fashion-MNIST


def hand_arch(space: MBSpace) -> MBArch:
    """MobileNetV2's design rule inside ``space``: 3x3 depthwise, expansion 6, the middle allowed depth per stage.

    Raises:
        ValueError: the space offers no 3x3 kernel or no expansion 6.
    """
    if 3 not in space.kernels or 6 not in space.expansions:
        raise ValueError(f"the MobileNetV2 rule needs kernel 3 and expansion 6; the space offers {space.kernels} and {space.expansions}")
    stages = [MBStage.uniform(w, sorted(d)[len(d) // 2], s, 3, 6) for w, s, d in zip(space.widths, space.strides, space.depths, strict=True)]
    return MBArch(tuple(stages), space.stem, space.first, space.head)


def bank_entries(params: Mapping[str, Any]) -> list[BankEntry]:
    """The hand design's stand-alone training and the shared supernet, declared ahead so ``workbench
    report`` builds them with the other bank entries; the searched network and the spread are known
    only after the search."""
    from . import once_for_all as ofa

    kw = ofa.scratch_kwargs(hand_arch(ofa.SPACE), params["width_mult"])
    return [BankEntry("mbv2_space", params["recipe"], params["seed"], kw), *ofa.bank_entries(params)]


def conclude(standalone: pd.DataFrame, searches: pd.DataFrame, *, tau: float, seconds_predict: float,
             n_predicted: int) -> Lesson:  # fmt: skip
    """The architecture-search verdict and takeaways.

    Args:
        standalone: one row per stand-alone trained subnet: ``role`` (``"searched"``,
            ``"hand"``, ``"spread"``), ``supernet_acc``, ``standalone_acc``
            (%), ``predicted_ms``, ``measured_ms`` (the latter interleaved in one run); ``role`` is
            ``"hand"`` for :func:`hand_arch`.
        searches: one row per search: ``search`` (``"random"``, ``"evolution"``), ``evaluations``,
            ``best_acc`` (supernet accuracy, %), ``best_ms`` (predicted).
        tau: Kendall tau between ``supernet_acc`` and ``standalone_acc`` over ``standalone``.
        seconds_predict: seconds spent predicting ``n_predicted`` candidates' latency.
        n_predicted: candidates whose latency was predicted.

    Raises:
        ValueError: a role or search is missing.
    """
    roles = set(standalone.role)
    if not {"searched", "hand"} <= roles:
        raise ValueError(f"standalone needs rows with role 'searched' and 'hand'; has {sorted(roles)}")
    if set(searches.search) != {"random", "evolution"}:
        raise ValueError(f"searches needs rows 'random' and 'evolution'; has {sorted(set(searches.search))}")
    found = standalone[standalone.role == "searched"].iloc[0]
    hand = standalone[standalone.role == "hand"].iloc[0]
    s = searches.set_index("search")
    gain = float(found.standalone_acc - hand.standalone_acc)
    ratio = float(found.measured_ms / hand.measured_ms)
    too_short = max(found.standalone_acc, hand.standalone_acc) < LINEAR_BASELINE
    beats = "untestable" if too_short else ("holds" if gain >= MIN_GAIN_PTS and ratio <= MAX_LATENCY_RATIO else "fails")
    evo = "holds" if s.loc["evolution", "best_acc"] > s.loc["random", "best_acc"] else "fails"
    n = len(standalone)
    ranks = "untestable" if n < MIN_SUBNETS or tau != tau else ("holds" if tau >= MIN_KENDALL else "fails")
    parts = {"beats hand design": beats, "evolution beats random": evo, "supernet ranks": ranks}
    verdict = combine_parts(parts.values())
    evidence = (
        f"searched net {found.standalone_acc:.2f} % vs the {HAND} {hand.standalone_acc:.2f} % stand-alone ({gain:+.2f} pts) "
        f"at {ratio:.2f}x its measured latency -> {beats}; evolution {s.loc['evolution', 'best_acc']:.2f} % vs random "
        f"{s.loc['random', 'best_acc']:.2f} % supernet accuracy ({int(s.loc['evolution', 'evaluations'])} vs {int(s.loc['random', 'evaluations'])} "
        f"distinct evaluations; repeats cost evolution nothing) -> {evo}; "
        f"Kendall tau {tau:.2f} over {n} subnets -> {ranks}."
    )
    if too_short:
        evidence = f"training too short (both below {LINEAR_BASELINE:.0f} %, a linear classifier): accuracy part untestable. " + evidence
    err = 100 * (standalone.predicted_ms - standalone.measured_ms) / standalone.measured_ms
    takeaways = (
        f"Latency of {n_predicted:,} candidates predicted in {seconds_predict:.1f} s "
        f"({n_predicted / max(seconds_predict, 1e-9):,.0f} per second) from the per-block kernel table.",
        f"Predicted vs measured on the {n} stand-alone subnets: {int((err.abs() <= 10).sum())} of {n} within +-10 %, "
        f"mean error {err.mean():+.1f} %, worst {err.abs().max():.1f} %.",
        f"The searched net runs at {ratio:.2f}x the {HAND}'s measured latency and is {gain:+.2f} points "
        f"{'more' if gain >= 0 else 'less'} accurate stand-alone.",
        f"Supernet vs stand-alone accuracy: Kendall tau {tau:.2f} over {n} subnets "
        f"(supernet accuracies span {standalone.supernet_acc.min():.1f}-{standalone.supernet_acc.max():.1f} %, "
        f"stand-alone {standalone.standalone_acc.min():.1f}-{standalone.standalone_acc.max():.1f} %).",
        f"Evolution vs random at equal cost: {s.loc['evolution', 'best_acc'] - s.loc['random', 'best_acc']:+.2f} points of supernet accuracy.",
    )
    key_numbers: dict[str, Any] = {
        f"searched vs {HAND} (stand-alone)": {"value": round(gain, 2), "unit": "points"},
        f"searched / {HAND} measured latency": {"value": round(ratio, 3), "unit": "x"},
        "evolution - random (supernet)": {"value": round(float(s.loc["evolution", "best_acc"] - s.loc["random", "best_acc"]), 2), "unit": "points"},
        "Kendall tau supernet vs stand-alone": round(float(tau), 3),
        "candidates predicted per second": round(n_predicted / max(seconds_predict, 1e-9)),
    }
    return Lesson(CLAIM, verdict, evidence, takeaways, key_numbers)
