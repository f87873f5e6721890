"""Search under a latency budget: a per-block latency lookup for the MobileNetV2-like space, and
random vs evolutionary search (issue 14, item 2).

* :class:`ArchLatency` -- ProxylessNAS's and FBNet's trick: the latency of a network of the
  space is the sum of its blocks' latencies, and a block's latency depends only on its
  configuration (input/output channels, stride, kernel, expansion, resolution). The kernels of
  every block configuration are detected once (:func:`~workbench.search.detect_kernels` on the
  block alone) and cached, so predicting a candidate is a table lookup: thousands per second
  instead of building and tracing each network. The prediction is EXACTLY what the
  :class:`~workbench.search.LatencyPredictor` would give for the whole built network (tested).
* :func:`random_search` and :func:`evolutionary_search` -- the two baselines every NAS paper
  compares: sample candidates under the budget and keep the best; or Once-for-All's evolution
  (population, the best fraction as parents, mutation + crossover, candidates over the budget
  rejected before they are scored). Both call ``score(arch)`` (e.g. the supernet's accuracy of
  that subnet) the same number of times, so their results are comparable at equal cost.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from torch import nn

from ..layers.conv import scale_channels
from ..models._builder import build_stages
from ..models.mb_space import MBArch, MBSpace, create_mbnet, mb_spec
from .kernels import Kernel, detect_kernels
from .predictor import LatencyPredictor

__all__ = ["ArchLatency", "SearchResult", "evolutionary_search", "random_search", "rank_agreement", "search_table"]


class ArchLatency:
    """Predicted latency (ms per image) of :class:`~workbench.models.MBArch` networks from a block table.

    Args:
        predictor: a kernel predictor (``"lut"`` or ``"regressor"``), fitted or not; its table
            and overhead terms are used as they are.
        width_mult: channel multiplier of the networks (as ``create_model('mbv2_space', ...)``).
        input_size: ``(C, H, W)`` at which latency is predicted (the real resolution, e.g.
            ``(3, 224, 224)``).
        num_classes: classifier outputs.

    Raises:
        ValueError: ``predictor`` uses the ``"macs"`` method (it has no kernels to sum).
    """

    def __init__(self, predictor: LatencyPredictor, *, width_mult: float = 1.0,
                 input_size: tuple[int, int, int] = (3, 224, 224), num_classes: int = 1000) -> None:  # fmt: skip
        if predictor.method == "macs":
            raise ValueError("ArchLatency sums kernels: use a 'lut' or 'regressor' LatencyPredictor, not 'macs'")
        self.predictor, self.width_mult = predictor, width_mult
        self.input_size, self.num_classes = tuple(input_size), num_classes
        self._blocks: dict[tuple, list[Kernel]] = {}
        self._fixed: dict[tuple, list[Kernel]] = {}
        self._ms: dict[str, float] = {}

    def _build(self, arch: MBArch) -> nn.Module:
        return create_mbnet(arch, num_classes=self.num_classes, in_chans=self.input_size[0], width_mult=self.width_mult)

    def _block_plan(self, arch: MBArch) -> list[tuple]:
        """(signature, row, in_chs, (H, W), act) of every searched block, in order."""
        spec = mb_spec(arch)
        in_chs = scale_channels(arch.stem, self.width_mult)
        in_chs = build_stages(spec.stages[:1], in_chs, width_mult=self.width_mult, act=spec.act)[1]
        h, w = -(-self.input_size[1] // 2), -(-self.input_size[2] // 2)  # stem stride 2; the first block keeps it
        plan = []
        for stage in spec.stages[1:]:  # stage 0 is the fixed expansion-1 block
            for row in stage:
                plan.append(((in_chs, row.k, row.s, row.c, row.e, h, w, spec.act), row, in_chs, (h, w), spec.act))
                in_chs = scale_channels(row.c, self.width_mult)
                h, w = -(-h // row.s), -(-w // row.s)
        return plan

    def _kernels_of_block(self, sig: tuple, row, in_chs: int, hw: tuple[int, int], act: str) -> list[Kernel]:
        if sig not in self._blocks:
            block, _ = build_stages([[row]], in_chs, width_mult=self.width_mult, act=act)
            self._blocks[sig] = detect_kernels(block, (in_chs, *hw))
        return self._blocks[sig]

    def _fixed_kernels(self, arch: MBArch) -> list[Kernel]:
        """Stem, fixed first block, head, pooling and classifier: the full network's kernels
        minus its searched blocks' (computed once per stem/head/stage-width layout)."""
        layout = (arch.stem, arch.first, arch.head, tuple((s.width, s.stride) for s in arch.stages))
        if layout not in self._fixed:
            detected = detect_kernels(self._build(arch), self.input_size)
            full, by_key = Counter(k.key() for k in detected), {k.key(): k for k in detected}
            for plan in self._block_plan(arch):
                full.subtract(k.key() for k in self._kernels_of_block(*plan))
            if any(v < 0 for v in full.values()):
                raise RuntimeError("block kernels do not add up to the network's: the builder changed")
            self._fixed[layout] = [by_key[key] for key, n in full.items() for _ in range(n)]
        return self._fixed[layout]

    def kernels(self, arch: MBArch | str) -> list[Kernel]:
        """The kernels of ``arch`` as :func:`~workbench.search.detect_kernels` would find them
        in the built network (same multiset; order: fixed parts first, then the blocks)."""
        arch = MBArch.from_key(arch) if isinstance(arch, str) else arch
        out = list(self._fixed_kernels(arch))
        for plan in self._block_plan(arch):
            out.extend(self._kernels_of_block(*plan))
        return out

    def predict(self, arch: MBArch | str) -> float:
        """Predicted latency of ``arch`` (ms per image), cached per arch."""
        key = arch if isinstance(arch, str) else arch.key()
        if key not in self._ms:
            self._ms[key] = float(self.predictor.predict(self.kernels(key)))
        return self._ms[key]

    def clear_predictions(self) -> None:
        """Forget the cached per-architecture predictions (call after re-fitting the predictor);
        the per-block kernels stay cached, since they do not depend on the fit."""
        self._ms.clear()

    def build(self, arch: MBArch | str) -> nn.Module:
        """The network of ``arch`` at this object's width and classes (to measure it for real)."""
        return self._build(MBArch.from_key(arch) if isinstance(arch, str) else arch)


@dataclass
class SearchResult:
    """What a search returns.

    Attributes:
        best: the best architecture found within the budget (``None`` if none fitted).
        best_score: its score.
        history: one row per scored candidate: ``step`` (scoring order), ``generation``
            (0 for random search), ``arch`` (key), ``latency_ms`` (predicted), ``score``,
            ``best_so_far``.
        n_predicted: candidates whose latency was predicted (including rejected ones).
        seconds: wall time of the search.
    """

    best: MBArch | None
    best_score: float
    history: pd.DataFrame = field(repr=False)
    n_predicted: int = 0
    seconds: float = 0.0


def _check(budget_ms: float, n: int, name: str) -> None:
    if not budget_ms > 0:
        raise ValueError(f"budget_ms must be > 0, got {budget_ms!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n!r}")


def _sample_under(space: MBSpace, latency: Callable[[MBArch], float], budget_ms: float,
                  rng: np.random.Generator, max_tries: int) -> tuple[MBArch | None, int]:  # fmt: skip
    for tries in range(1, max_tries + 1):
        arch = MBArch.sample(rng, space)
        if latency(arch) <= budget_ms:
            return arch, tries
    return None, max_tries


def _result(rows: list[dict], n_predicted: int, t0: float) -> SearchResult:
    hist = pd.DataFrame(rows, columns=["step", "generation", "arch", "latency_ms", "score"])
    hist["best_so_far"] = hist.score.cummax()
    if hist.empty:
        return SearchResult(None, float("nan"), hist, n_predicted, time.perf_counter() - t0)
    i = int(hist.score.idxmax())
    return SearchResult(MBArch.from_key(hist.arch[i]), float(hist.score[i]), hist, n_predicted, time.perf_counter() - t0)


def random_search(space: MBSpace, latency: Callable[[MBArch], float], score: Callable[[MBArch], float],
                  budget_ms: float, *, n: int = 100, seed: int = 0, max_tries: int = 1000) -> SearchResult:  # fmt: skip
    """Score ``n`` random members of ``space`` that fit the latency budget; keep the best.

    Args:
        space: the search space.
        latency: ``arch -> ms`` (e.g. :meth:`ArchLatency.predict`).
        score: ``arch -> float``, higher is better (e.g. supernet accuracy).
        budget_ms: latency budget; candidates above it are rejected before scoring.
        n: candidates scored.
        seed: RNG seed.
        max_tries: samples drawn per scored candidate before giving up (a budget below the
            space's fastest networks).

    Raises:
        ValueError: ``budget_ms <= 0`` or ``n < 1``.
    """
    _check(budget_ms, n, "n")
    t0, rng = time.perf_counter(), np.random.default_rng(seed)
    rows, n_pred, seen = [], 0, set()
    while len(rows) < n:
        arch, tries = _sample_under(space, latency, budget_ms, rng, max_tries)
        n_pred += tries
        if arch is None:
            break
        if arch.key() in seen:
            continue
        seen.add(arch.key())
        rows.append({"step": len(rows), "generation": 0, "arch": arch.key(), "latency_ms": latency(arch), "score": float(score(arch))})
    return _result(rows, n_pred, t0)


def evolutionary_search(space: MBSpace, latency: Callable[[MBArch], float], score: Callable[[MBArch], float],
                        budget_ms: float, *, population: int = 16, generations: int = 5, parent_ratio: float = 0.25,
                        mutation_ratio: float = 0.5, mutate_prob: float = 0.1, seed: int = 0,
                        max_tries: int = 1000) -> SearchResult:  # fmt: skip
    """Once-for-All's evolutionary search under a latency budget.

    Generation 0 is ``population`` random members under the budget; every later generation
    keeps the best ``parent_ratio`` share as parents and fills the rest with mutants
    (``mutation_ratio`` of the children, :meth:`MBArch.mutate` with ``mutate_prob``) and
    crossovers of two parents (:meth:`MBArch.crossover`); a child over the budget is redrawn.
    Every new architecture is scored once (repeats reuse their score and cost nothing), so
    ``population * generations`` bounds the number of ``score`` calls.

    Args:
        space, latency, score, budget_ms, seed, max_tries: as :func:`random_search`.
        population: candidates per generation (>= 2).
        generations: generations including the random first one (>= 1).
        parent_ratio: share of the population kept as parents, in (0, 1).
        mutation_ratio: share of the children made by mutation (the rest by crossover), in [0, 1].
        mutate_prob: per-gene mutation probability.

    Raises:
        ValueError: a ratio outside its range, ``population < 2`` or ``generations < 1``.
    """
    _check(budget_ms, generations, "generations")
    if population < 2:
        raise ValueError(f"population must be >= 2, got {population!r}")
    if not 0 < parent_ratio < 1 or not 0 <= mutation_ratio <= 1:
        raise ValueError(f"parent_ratio must be in (0, 1) and mutation_ratio in [0, 1], got {parent_ratio!r}, {mutation_ratio!r}")
    t0, rng = time.perf_counter(), np.random.default_rng(seed)
    scores: dict[str, float] = {}
    rows: list[dict] = []
    n_pred = 0

    def evaluate(arch: MBArch, gen: int) -> float:
        k = arch.key()
        if k not in scores:
            scores[k] = float(score(arch))
            rows.append({"step": len(rows), "generation": gen, "arch": k, "latency_ms": latency(arch), "score": scores[k]})
        return scores[k]

    pop = []
    for _ in range(population):
        arch, tries = _sample_under(space, latency, budget_ms, rng, max_tries)
        n_pred += tries
        if arch is None:
            return _result(rows, n_pred, t0)
        pop.append((evaluate(arch, 0), arch))
    n_parents = max(1, int(round(parent_ratio * population)))
    n_mutants = int(round(mutation_ratio * (population - n_parents)))
    for gen in range(1, generations):
        parents = [a for _, a in sorted(pop, key=lambda p: -p[0])[:n_parents]]
        children = []
        for i in range(population - n_parents):
            for _ in range(max_tries):
                if i < n_mutants or len(parents) < 2:
                    child = parents[int(rng.integers(len(parents)))].mutate(rng, mutate_prob, space)
                else:
                    a, b = rng.choice(len(parents), size=2, replace=False)
                    child = parents[int(a)].crossover(parents[int(b)], rng)
                n_pred += 1
                if latency(child) <= budget_ms:
                    break
            else:
                child = parents[0]  # nothing under the budget nearby: keep a parent
            children.append(child)
        pop = [(scores[a.key()], a) for a in parents] + [(evaluate(c, gen), c) for c in children]
    return _result(rows, n_pred, t0)


def search_table(results: dict[str, SearchResult]) -> pd.DataFrame:
    """Best-so-far score against scored candidates, one column per search (for a line plot)."""
    return pd.concat({name: r.history.set_index("step").best_so_far for name, r in results.items()}, axis=1)


def rank_agreement(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Kendall tau and Spearman rho between two scorings of the same candidates.

    The "NAS evaluation is frustratingly hard" check: does the supernet's ranking of subnets
    agree with the ranking of the same networks trained stand-alone?

    Raises:
        ValueError: different lengths or fewer than 3 candidates.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) != len(b) or len(a) < 3:
        raise ValueError(f"rank_agreement needs two equally long scorings of >= 3 candidates, got {len(a)} and {len(b)}")
    ra, rb = pd.Series(a).rank(), pd.Series(b).rank()
    n, conc, disc = len(a), 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            s = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
            conc += s > 0
            disc += s < 0
    return {"kendall_tau": float((conc - disc) / (n * (n - 1) / 2)), "spearman": float(np.corrcoef(ra, rb)[0, 1])}
