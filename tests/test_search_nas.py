"""Search under a latency budget: the block latency table adds up exactly, searches obey the budget."""

from collections import Counter

import numpy as np
import pytest

import workbench as wb
from workbench.models import MBArch, MBSpace
from workbench.search import ArchLatency, LatencyPredictor, LatencyTable, detect_kernels

SIZE = (3, 64, 64)


def fake_timer(module, x):
    """Deterministic 'latency': elements in and parameters (no real timing in tests)."""
    return 1e-4 * x.numel() + 1e-5 * sum(p.numel() for p in module.parameters()) + 0.01


@pytest.fixture(scope="module")
def lut():
    archs = [MBArch.sample(i) for i in range(3)]
    kernels = [k for a in archs for k in detect_kernels(wb.create_model("mbv2_space", arch=a.key(), width_mult=0.35), SIZE)]
    table = LatencyTable.build(kernels, timer=fake_timer, threads=1, rounds=1, cache=False)
    pred = LatencyPredictor("lut", table, measure_missing=True, timer=fake_timer)
    return ArchLatency(pred, width_mult=0.35, input_size=SIZE)


@pytest.mark.parametrize("seed", [0, 7, 11])
def test_block_table_equals_the_built_network(lut, seed):
    arch = MBArch.sample(seed)
    model = wb.create_model("mbv2_space", arch=arch.key(), width_mult=0.35)
    whole = detect_kernels(model, SIZE)
    assert Counter(k.key() for k in lut.kernels(arch)) == Counter(k.key() for k in whole)
    assert lut.predict(arch) == pytest.approx(lut.predictor.predict(model, SIZE), rel=1e-9)


def test_macs_predictor_is_refused():
    with pytest.raises(ValueError, match="'lut' or 'regressor'"):
        ArchLatency(LatencyPredictor("macs"))


def _score(arch: MBArch) -> float:
    """A made-up accuracy: deeper, wider-kernel networks score higher (known optimum)."""
    return sum(sum(s.kernels) + 2 * sum(s.expansions) for s in arch.stages)


@pytest.mark.parametrize("search", ["random", "evolution"])
def test_searches_respect_the_budget_and_are_seeded(lut, search):
    space = MBSpace()
    budget = float(np.median([lut.predict(MBArch.sample(i, space)) for i in range(30)]))
    run = {"random": lambda s: wb.search.random_search(space, lut.predict, _score, budget, n=20, seed=s),
           "evolution": lambda s: wb.search.evolutionary_search(space, lut.predict, _score, budget, population=8, generations=3, seed=s)}[search]
    a, b = run(1), run(1)
    assert a.best is not None and lut.predict(a.best) <= budget
    assert (a.history.latency_ms <= budget).all()
    assert a.best_score == a.history.score.max() == _score(a.best)
    assert a.history.arch.tolist() == b.history.arch.tolist()
    assert a.history.arch.is_unique and a.history.best_so_far.is_monotonic_increasing


def test_evolution_beats_random_at_equal_cost_on_a_known_objective(lut):
    space, wins = MBSpace(), 0
    budget = float(np.quantile([lut.predict(MBArch.sample(i, space)) for i in range(30)], 0.7))
    for s in range(3):
        r = wb.search.random_search(space, lut.predict, _score, budget, n=40, seed=s)
        e = wb.search.evolutionary_search(space, lut.predict, _score, budget, population=8, generations=5, seed=s)
        assert len(e.history) <= 40
        wins += e.best_score >= r.best_score
    assert wins >= 2


def test_impossible_budget_returns_no_architecture(lut):
    r = wb.search.random_search(MBSpace(), lut.predict, _score, 1e-9, n=3, max_tries=20)
    assert r.best is None and r.history.empty and r.n_predicted == 20


@pytest.mark.parametrize("kw, match", [({"budget_ms": 0}, "budget_ms"), ({"population": 1}, "population"),
                                       ({"parent_ratio": 1.0}, "parent_ratio")])
def test_bad_search_settings_are_named(lut, kw, match):
    args = {"budget_ms": 1.0, **kw}
    with pytest.raises(ValueError, match=match):
        wb.search.evolutionary_search(MBSpace(), lut.predict, _score, **args)


def test_rank_agreement():
    assert wb.search.rank_agreement([1, 2, 3, 4], [10, 20, 30, 40]) == {"kendall_tau": 1.0, "spearman": 1.0}
    assert wb.search.rank_agreement([1, 2, 3], [3, 2, 1])["kendall_tau"] == -1.0
    with pytest.raises(ValueError, match=">= 3 candidates"):
        wb.search.rank_agreement([1, 2], [1, 2])


# --- the architecture_search lesson rule, on hand-made numbers ----------------------------------
import pandas as pd  # noqa: E402

from workbench.lessons import architecture_search as lesson  # noqa: E402


def _tables(found_acc=90.0, hand_acc=89.0, found_ms=5.0, hand_ms=5.0, evo=88.0, rnd=87.5, n=8):
    rows = [{"role": "searched", "supernet_acc": 88.0, "standalone_acc": found_acc, "predicted_ms": found_ms, "measured_ms": found_ms},
            {"role": "hand", "supernet_acc": 86.0, "standalone_acc": hand_acc, "predicted_ms": hand_ms * 1.05, "measured_ms": hand_ms}]
    rows += [{"role": "spread", "supernet_acc": 80.0 + i, "standalone_acc": 85.0 + i, "predicted_ms": 3.0 + i, "measured_ms": 3.0 + i}
             for i in range(n - 2)]
    searches = pd.DataFrame({"search": ["random", "evolution"], "evaluations": [64, 64], "best_acc": [rnd, evo], "best_ms": [4.9, 4.9]})
    return pd.DataFrame(rows), searches


def test_lesson_supported_when_all_parts_hold():
    sa, se = _tables()
    out = lesson.conclude(sa, se, tau=0.7, seconds_predict=1.0, n_predicted=2000)
    assert out.verdict == "supported"
    assert "+1.00 pts" in out.evidence and "2,000 per second" in out.takeaways[0]


@pytest.mark.parametrize("kw, tau, verdict, part", [
    ({"found_acc": 89.2}, 0.7, "partly supported", "(+0.20 pts) at 1.00x its measured latency -> fails"),  # gain 0.2 < 0.5
    ({"found_ms": 6.0}, 0.7, "partly supported", "at 1.20x its measured latency -> fails"),  # 1.2x slower: not equal latency
    ({"evo": 87.0}, 0.7, "partly supported", "(64 vs 64 distinct evaluations; repeats cost evolution nothing) -> fails"),
    ({}, 0.2, "partly supported", "Kendall tau 0.20 over 8 subnets -> fails"),
    ({"found_acc": 88.0, "evo": 87.0}, 0.2, "not supported", ""),
    ({"found_acc": 70.0, "hand_acc": 69.0}, 0.7, "partly supported", "training too short"),  # accuracy part untestable: never "supported"
    ({"n": 4}, 0.9, "partly supported", "over 4 subnets -> untestable"),
])
def test_lesson_parts(kw, tau, verdict, part):
    sa, se = _tables(**kw)
    out = lesson.conclude(sa, se, tau=tau, seconds_predict=1.0, n_predicted=10)
    assert out.verdict == verdict, out.evidence
    assert part in out.evidence


def test_lesson_needs_both_roles_and_searches():
    sa, se = _tables()
    with pytest.raises(ValueError, match="role 'searched' and 'hand'"):
        lesson.conclude(sa[sa.role != "hand"], se, tau=0.5, seconds_predict=1, n_predicted=1)
    with pytest.raises(ValueError, match="'random' and 'evolution'"):
        lesson.conclude(sa, se.iloc[:1], tau=0.5, seconds_predict=1, n_predicted=1)


def test_search_plots_draw_every_search_and_name_missing_columns():
    h = pd.DataFrame({"step": [0, 1, 2], "score": [0.8, 0.7, 0.85]})
    h["best_so_far"] = h.score.cummax()
    fig = wb.plots.search_progress({"random": h, "evolution": h})
    assert [t.name for t in fig.data] == ["random: best so far", "random: each candidate", "evolution: best so far", "evolution: each candidate"]
    assert list(fig.data[0].y) == [80.0, 80.0, 85.0]
    with pytest.raises(ValueError, match="lacks columns"):
        wb.plots.search_progress({"random": h.drop(columns="best_so_far")})
    d = pd.DataFrame({"a": [1, 2, 3], "b": [3, 1, 2]})
    assert list(wb.plots.rank_scatter(d, "a", "b").data[0].customdata[:, 0]) == [3, 2, 1]
    with pytest.raises(ValueError, match="lacks columns"):
        wb.plots.rank_scatter(d, "a", "c")


def test_hand_arch_is_the_mobilenetv2_rule_inside_the_space():
    space = MBSpace(widths=(16, 24), strides=(1, 2), depths=((1, 2, 3), (2, 3)), stem=16, first=8, head=64)
    arch = lesson.hand_arch(space)
    assert space.contains(arch)
    assert [s.depth for s in arch.stages] == [2, 3]
    assert {k for s in arch.stages for k in s.kernels} == {3} and {e for s in arch.stages for e in s.expansions} == {6}
    assert [s.depth for s in lesson.hand_arch(MBSpace()).stages] == [3, 3, 3, 3, 3, 1]
    with pytest.raises(ValueError, match="kernel 3 and expansion 6"):
        lesson.hand_arch(MBSpace(kernels=(5, 7)))


@pytest.mark.parametrize("profile", ["smoke", "default", "full"])
def test_architecture_search_shares_the_once_for_all_supernet(profile):
    """Both notebooks must key the same supernet bank entry in every profile (trained once)."""
    from workbench.report.plan import notebook_parameters
    from workbench.report.techniques import get_technique

    keys = []
    for slug in ("once_for_all", "architecture_search"):
        params = {**notebook_parameters(wb.paths.REPO_ROOT / "notebooks" / f"{slug}.ipynb"), **get_technique(slug).parameters(profile)}
        params["threads"] = None  # not keyed
        keys.append(wb.lessons.once_for_all.recipe(params).settings())
    assert keys[0] == keys[1]


def test_clear_predictions_follows_a_refit(lut):
    arch = MBArch.sample(3)
    before = lut.predict(arch)
    lut.predictor.overhead_terms["intercept_ms"] += 5.0
    assert lut.predict(arch) == before  # cached
    lut.clear_predictions()
    assert lut.predict(arch) == pytest.approx(before + 5.0)
    lut.predictor.overhead_terms["intercept_ms"] -= 5.0
    lut.clear_predictions()
