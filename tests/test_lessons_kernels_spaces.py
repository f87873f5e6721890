"""The large_kernels and design_spaces notebooks' package code: pair data, backbones, ERF,
activations, design-space sampling, and both verdict rules on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import workbench as wb
from workbench.data.pairs import pair_canvases
from workbench.lessons import design_spaces as ds
from workbench.lessons import large_kernels as lk
from workbench.measure.erf import conv_activations, effective_receptive_field, erf_area
from workbench.models.design_space import (
    AnyNetConfig,
    anynet_macs,
    quantized_linear_widths,
    sample_space,
)
from workbench.report.record import _check_claim_result, _check_key_numbers

NAN = float("nan")


# --- pair data ------------------------------------------------------------------------------
def _items(n_per_class: int = 20, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic 28 px items: class c is a full square of value 10 * (c + 1)."""
    y = np.repeat(np.arange(classes), n_per_class)
    x = np.ones((len(y), 28, 28), np.uint8) * (10 * (y + 1))[:, None, None].astype(np.uint8)
    return x, y


def test_pair_canvases_balanced_far_apart_and_deterministic():
    x, y = _items()
    a, la, centres = pair_canvases(x, y, 200, canvas=64, min_gap=4, seed=3)
    b, lb, _ = pair_canvases(x, y, 200, canvas=64, min_gap=4, seed=3)
    c, _, _ = pair_canvases(x, y, 200, canvas=64, min_gap=4, seed=4)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)
    assert a.shape == (200, 64, 64) and la.sum() == 100  # exactly half "same"
    d = np.abs(centres[:, :2] - centres[:, 2:])
    assert (d.max(1) >= 28 + 4).all()  # separated along one axis by an item plus the gap
    # the two items' values tell their classes: same label <=> same value
    for img, lab in zip(a[:50], la[:50], strict=True):
        vals = set(np.unique(img)) - {0}
        assert (len(vals) == 1) == bool(lab)


def test_pair_canvases_class_subset_and_errors():
    x, y = _items()
    img, lab, _ = pair_canvases(x, y, 40, classes=[1, 3], seed=0)
    assert set(np.unique(img)) <= {0, 20, 40}
    with pytest.raises(ValueError, match="canvas must be >= 60"):
        pair_canvases(x, y, 4, canvas=58, min_gap=4)
    with pytest.raises(ValueError, match=r"classes must be >= 2 distinct labels from \[0, 1, 2, 3\]"):
        pair_canvases(x, y, 4, classes=[1, 9])


def test_fmnist_pairs_bundle_is_versioned():
    bundle = wb.data.pairs.fmnist_pairs(64, 32, classes=[1, 7], seed=0)
    xb, yb = next(iter(bundle.train))
    assert bundle.input_size == (1, 64, 64) and bundle.num_classes == 2
    assert xb.shape[1:] == (1, 64, 64) and set(yb.tolist()) <= {0, 1}
    assert bundle.version["classes"] == [1, 7] and bundle.version["dataset"] == "fmnist_pairs"
    assert wb.data.pairs.fmnist_pairs(64, 32, seed=1).version != bundle.version


# --- backbones ------------------------------------------------------------------------------
def test_lk_convnext_kernel_kwarg_and_validation():
    m = wb.create_model("lk_convnext", num_classes=2, kernel_size=13, dim=16, depth=2)
    assert all(b.conv_dw.kernel_size == (13, 13) for b in m.stages)
    assert m(torch.randn(2, 1, 64, 64)).shape == (2, 2)
    assert m.forward_features(torch.randn(1, 1, 64, 64)).shape[-1] == 8  # stride-8 stem
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        wb.create_model("lk_convnext", kernel_size=4)


@pytest.mark.parametrize("space", ["unconstrained", "constrained"])
def test_sampled_configs_in_range_match_counted_macs(space):
    cfgs = sample_space(space, 4, seed=1, macs_range=(2e6, 12e6))
    assert cfgs == sample_space(space, 4, seed=1, macs_range=(2e6, 12e6))
    assert cfgs[:2] == sample_space(space, 2, seed=1, macs_range=(2e6, 12e6))  # nested
    for cfg in cfgs[:2]:
        m = wb.create_model("tiny_anynet", num_classes=10, **cfg.kwargs())
        assert wb.count_macs(m, (1, 28, 28)).macs == anynet_macs(cfg)
        assert 2e6 <= anynet_macs(cfg) <= 12e6
    if space == "constrained":
        for c in cfgs:
            assert list(c.depths) == sorted(c.depths) and list(c.widths) == sorted(c.widths)
            assert len(set(c.expansions)) == 1


def test_design_space_errors_and_regnet_widths():
    with pytest.raises(ValueError, match="unknown space 'regnet'; valid: unconstrained, constrained"):
        sample_space("regnet", 2)
    with pytest.raises(ValueError, match="found only"):
        sample_space("constrained", 3, macs_range=(1, 2))
    w = quantized_linear_widths(24, 36, 2.5, 13)
    assert w == sorted(w) and all(v % 8 == 0 for v in w) and len(set(w)) <= 4
    assert AnyNetConfig((8, 16, 32), (1, 1, 1), (1.0, 1.0, 1.0)).kwargs()["widths"] == [8, 16, 32]


# --- ERF and activations --------------------------------------------------------------------
class _Conv(nn.Module):
    def __init__(self, k: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, k, padding=k // 2, bias=False)
        nn.init.constant_(self.conv.weight, 1.0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_erf_of_a_single_conv_is_its_kernel():
    x = torch.randn(4, 1, 17, 17)
    small, large = effective_receptive_field(_Conv(3), x), effective_receptive_field(_Conv(9), x)
    assert small.shape == (17, 17) and math.isclose(small.sum(), 1.0)
    assert np.count_nonzero(small) == 9 and np.count_nonzero(large) == 81
    assert erf_area(small, 1.0) == pytest.approx(9 / 289) and erf_area(large) > erf_area(small)
    with pytest.raises(ValueError, match="mass must be in"):
        erf_area(small, 0)


def test_conv_activations_counts_conv_and_linear_outputs():
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    assert conv_activations(m, (1, 8, 8)) == 4 * 64 + 8 * 16 + 10
    assert conv_activations(m, (1, 8, 8), batch_size=3) == 3 * (4 * 64 + 8 * 16 + 10)


# --- large_kernels verdict ------------------------------------------------------------------
def _cost(block_lat: float, dw_lat: float = 20.0) -> pd.DataFrame:
    rows = []
    for shape in ("96x56x56", "384x14x14"):
        rows += [
            {"shape": shape, "part": "block", "kernel": 3, "params": 1, "macs": 100, "macs_ratio": 1.0, "latency_ratio": 1.0},
            {"shape": shape, "part": "block", "kernel": 31, "params": 2, "macs": 220, "macs_ratio": 2.2, "latency_ratio": block_lat},
            {"shape": shape, "part": "dwconv", "kernel": 3, "params": 1, "macs": 1, "macs_ratio": 1.0, "latency_ratio": 1.0},
            {"shape": shape, "part": "dwconv", "kernel": 31, "params": 9, "macs": 107, "macs_ratio": 107.0, "latency_ratio": dw_lat},
        ]
    t = pd.DataFrame(rows)
    t["latency_per_mac"] = t.latency_ratio / t.macs_ratio
    return t


def _pairs(accs: list[float], std: float = 0.5, seeds: int = 2) -> pd.DataFrame:
    return pd.DataFrame({"name": [f"k={k}" for k in (3, 7, 13)], "accuracy": accs, "accuracy_std": std if seeds > 1 else NAN, "seeds": seeds})


ERF_WIDE = {"k=3": 0.05, "k=7": 0.12, "k=13": 0.30}


def _valid(lesson) -> None:
    _check_key_numbers(lesson.key_numbers)
    _check_claim_result(lesson.claim_result())
    assert "nan" not in lesson.evidence.lower() and all("nan" not in t for t in lesson.takeaways)


def test_large_kernels_supported_when_all_three_hold():
    lesson = lk.conclude(_cost(4.0), _pairs([50.0, 70.0, 90.0]), ERF_WIDE, epochs=3, images=8000)
    assert lesson.verdict == "supported" and "k=13 beats k=3" in lesson.evidence
    _valid(lesson)


def test_large_kernels_parts_fail_one_by_one():
    # latency grows less than MACs: cost half fails
    assert lk.conclude(_cost(1.5), _pairs([50.0, 70.0, 90.0]), ERF_WIDE).verdict == "partly supported"
    # gain within twice the seed spread
    no_gain = lk.conclude(_cost(1.5), _pairs([80.0, 80.5, 80.8], std=1.0), {"k=3": 0.1, "k=7": 0.1, "k=13": 0.12})
    assert no_gain.verdict == "not supported" and "within twice" in no_gain.evidence
    # one seed: accuracy untestable, never 'nan'
    one = lk.conclude(_cost(1.5), _pairs([50.0, 70.0, 90.0], seeds=1), {"k=3": 0.1, "k=13": 0.1})
    assert one.verdict == "inconclusive" and "1 seed, no spread" in one.evidence
    _valid(one)
    # stuck at chance: too short
    short = lk.conclude(_cost(4.0), _pairs([50.0, 50.5, 52.0]), ERF_WIDE)
    assert short.verdict == "partly supported" and "training too short" in short.evidence
    # the IQR's lower quartile decides "exceeds"
    noisy = _cost(4.0).assign(latency_ratio_q1=lambda d: d.latency_ratio.where(d.kernel == 3, 2.0))
    assert "does not always exceed" in lk.conclude(noisy, _pairs([50.0, 70.0, 90.0]), ERF_WIDE).evidence
    with pytest.raises(ValueError, match=">= 2 trained kernels"):
        lk.conclude(_cost(4.0), _pairs([50.0, 70.0, 90.0]).head(1), ERF_WIDE)


def test_large_kernels_names_the_latency_cliff_and_the_control():
    rows = [{"shape": "8x4x4", "part": "dwconv", "kernel": k, "params": 1, "macs": k * k, "macs_ratio": k * k / 9,
             "latency_ratio": lat} for k, lat in ((3, 1.0), (7, 2.0), (21, 200.0))]  # fmt: skip
    cost = pd.concat([_cost(4.0), pd.DataFrame(rows)], ignore_index=True)
    cost["latency_per_mac"] = cost.latency_ratio / cost.macs_ratio
    control = pd.DataFrame({"name": ["k=3", "k=13"], "accuracy": [80.0, 81.0], "accuracy_std": NAN, "seeds": 1})
    lesson = lk.conclude(cost, _pairs([50.0, 70.0, 90.0]), ERF_WIDE, control=control)
    text = " ".join(lesson.takeaways)
    assert "cheaper per MAC up to k=7" in text and "at k=21 its latency per MAC jumps to 4.1x" in text
    assert "+1.0 points (80.0% -> 81.0%, 1 seed, no spread)" in text
    # no cliff when the largest kernel stays cheap per MAC
    assert "jumps" not in " ".join(lk.conclude(_cost(4.0), _pairs([50.0, 70.0, 90.0]), ERF_WIDE).takeaways)


def test_large_kernels_variants_and_bank_entries():
    vs = lk.kernel_variants([3, 13], dim=24, depth=3)
    assert vs["k=13"] == ("lk_convnext", {"dim": 24, "depth": 3, "kernel_size": 13})
    with pytest.raises(ValueError, match="odd"):
        lk.kernel_variants([4], dim=8, depth=1)
    entries = lk.bank_entries({"control_kernels": [3, 13], "control_seeds": [0, 1], "dim": 8, "depth": 1, "recipe": "smoke"})
    assert len(entries) == 4 and all(dict(e.kwargs)["small_input"] for e in entries)


def test_cost_table_ratios_to_the_3x3():
    prof = pd.DataFrame({"name": ["block k=3", "block k=7", "dwconv k=3", "dwconv k=7"], "params": [1, 2, 3, 4],
                         "macs": [10, 20, 1, 5], "latency_ratio": [1.0, 3.0, 0.2, 0.6]})  # fmt: skip
    t = lk.cost_table({(8, 4): prof})
    dw7 = t[(t.part == "dwconv") & (t.kernel == 7)].iloc[0]
    assert dw7.macs_ratio == 5 and dw7.latency_ratio == pytest.approx(3.0) and dw7.latency_per_mac == pytest.approx(0.6)
    assert set(t["shape"]) == {"8x4x4"}


# --- design_spaces verdict ------------------------------------------------------------------
def _scaling(acts_rank_latency: bool = True, spread: float = 2.0) -> pd.DataFrame:
    rows = [{"name": "base", "strategy": "base", "s": 1.0, "macs": 100, "activations": 10, "latency_ratio": 1.0}]
    for s in (2.0, 4.0):
        for i, st in enumerate(ds.STRATEGIES):
            acts = 10 * s * (i + 1)
            lat = s * (1 + (spread - 1) * i / 4) if acts_rank_latency else s * (1 + (spread - 1) * (4 - i) / 4)
            # MACs equal up to rounding noise that is unrelated to latency
            rows.append({"name": f"{st} x{s:g}", "strategy": st, "s": s, "macs": 100 * s + (3, 0, 4, 1, 2)[i], "activations": acts, "latency_ratio": lat})
    return pd.DataFrame(rows)


def _spaces(c_err: list[float], u_err: list[float]) -> pd.DataFrame:
    names = [f"unconstrained #{i}" for i in range(len(u_err))] + [f"constrained #{i}" for i in range(len(c_err))]
    return ds.space_table(pd.DataFrame({"name": names, "accuracy": [100 - e for e in u_err + c_err]}))


GOOD, BAD = [10.0, 11, 12, 13, 14, 15], [14.0, 15, 16, 17, 18, 19]


def test_design_spaces_supported_and_partly():
    lesson = ds.conclude(_scaling(), _spaces(GOOD, BAD), epochs=2, images=10_000)
    assert lesson.verdict == "supported"
    _valid(lesson)
    # activations no better than MACs: cost half fails
    assert ds.conclude(_scaling(acts_rank_latency=False), _spaces(GOOD, BAD)).verdict == "partly supported"
    # equal-MAC networks that barely differ in latency: not "widely varying"
    assert ds.conclude(_scaling(spread=1.05), _spaces(GOOD, BAD)).verdict == "partly supported"


def test_design_spaces_reversed_untestable_and_too_short():
    rev = ds.conclude(_scaling(acts_rank_latency=False), _spaces(BAD, GOOD))
    assert rev.verdict == "not supported" and "only" in rev.evidence
    few = ds.conclude(_scaling(acts_rank_latency=False), _spaces(GOOD[:2], BAD[:2]))
    assert few.verdict == "inconclusive" and "fewer than" in few.evidence
    short = ds.conclude(_scaling(), _spaces([30.0] * 6, [40.0] * 6))
    assert short.verdict == "partly supported" and "too short" in short.evidence
    _valid(short)
    with pytest.raises(ValueError, match="scaled networks"):
        ds.conclude(_scaling().head(1), _spaces(GOOD, BAD))


def test_scaling_plan_keeps_macs_multiplier_near_s():
    plan = ds.scaling_plan(list(ds.STRATEGIES), [2, 4], width=1.0, depth=1.0, resolution=224)
    assert plan.iloc[0]["name"] == "base" and len(plan) == 11
    growth = plan.depth_mult * plan.width_mult**2 * (plan.resolution / 224) ** 2
    assert np.allclose(growth[1:], plan.s[1:], rtol=0.12)  # resolution rounded to 8 px, compound 1.92^phi
    with pytest.raises(ValueError, match="unknown strategy 'height'; valid: width, depth"):
        ds.scaling_plan(["height"], [2], width=1, depth=1, resolution=224)
    with pytest.raises(ValueError, match="scales must be > 1"):
        ds.scaling_plan(["width"], [1], width=1, depth=1, resolution=224)


def test_edf_auc_and_bank_entries():
    e, f = ds.edf([3.0, 1.0, 2.0])
    assert list(e) == [1, 2, 3] and list(f) == pytest.approx([1 / 3, 2 / 3, 1])
    assert ds.dominance_auc([1, 2], [2, 3]) == pytest.approx(0.875)
    params = {"space_samples": 3, "space_seed": 0, "macs_range": [2e6, 12e6], "recipe": "smoke", "seeds": [0]}
    entries = ds.bank_entries(params)
    assert len(entries) == 6 and {e.model for e in entries} == {"tiny_anynet"}
    assert len(set(entries)) == 6
