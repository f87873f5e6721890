"""Notebooks cheap_operators and reparameterization: their backbones, blocks and verdict rules."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from _helpers import randomize_bn

import workbench as wb
from workbench.layers.cheap_operators import CHEAP_BLOCKS, Shift, cheap_block
from workbench.layers.reparameterization import RepVggBlock, deploy_difference, reparameterize_model
from workbench.lessons import cheap_operators as co
from workbench.lessons import reparameterization as rp
from workbench.models.cheapnet import conv_macs, solve_width


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    torch.manual_seed(0)




# --- blocks and backbone ------------------------------------------------------------------------
def test_shift_moves_each_group_one_pixel_and_has_no_weights():
    s = Shift(9)
    x = torch.zeros(1, 9, 5, 5)
    x[:, :, 2, 2] = 1.0  # one lit pixel in the centre of every channel
    y = s(x)
    assert sum(p.numel() for p in s.parameters()) == 0 and y.shape == x.shape
    # channel g moves by offset (dy, dx): the pixel read at (2 + dy, 2 + dx) lands at (2, 2),
    # so the lit pixel appears at (2 - dy, 2 - dx)
    for g, (dy, dx) in enumerate((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
        assert y[0, g, 2 - dy, 2 - dx] == 1.0 and y[0, g].sum() == 1.0
    with pytest.raises(ValueError, match="chs >= kernel_size"):
        Shift(4)


def test_cheap_block_rejects_unknown_names_and_bad_groups():
    with pytest.raises(ValueError, match="unknown cheap block 'ghosty'; valid: conv, dwsep, ghost"):
        cheap_block("ghosty", 8, 8)
    with pytest.raises(ValueError, match="divisible by groups=4"):
        cheap_block("shuffle", 6, 8, groups=4)


@pytest.mark.parametrize("block", list(CHEAP_BLOCKS))
def test_cheapnet_macs_hook_counter_matches_the_tracer(block):
    m = wb.create_model("cheapnet", block=block, num_classes=10)
    assert conv_macs(m, (1, 28, 28)) == wb.count_macs(m, (1, 28, 28)).macs
    with torch.inference_mode():
        assert m.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_cheapnet_ghost_halves_the_pointwise_macs_and_fd_cuts_macs():
    macs = {b: conv_macs(wb.create_model("cheapnet", block=b, num_classes=10), (1, 28, 28)) for b in ("dwsep", "ghost")}
    assert 0.55 < macs["ghost"] / macs["dwsep"] < 0.75  # 1x1 halves, depthwise terms stay
    fd = conv_macs(wb.create_model("cheapnet", fast_downsample=True, num_classes=10), (1, 28, 28))
    assert fd < 0.7 * macs["dwsep"]
    with pytest.raises(ValueError, match="unknown block 'x'; valid: conv, dwsep"):
        wb.create_model("cheapnet", block="x")


def test_solve_width_matches_macs_and_params():
    base = wb.create_model("cheapnet", num_classes=10)
    target = conv_macs(base, (1, 28, 28))
    w = solve_width(target, "macs", block="ghost", num_classes=10)
    got = conv_macs(wb.create_model("cheapnet", block="ghost", width_mult=w, num_classes=10), (1, 28, 28))
    assert w > 1.1 and abs(got / target - 1) < 0.05
    n = sum(p.numel() for p in base.parameters())
    wp = solve_width(n, "params", block="shift", num_classes=10)
    got_p = sum(p.numel() for p in wb.create_model("cheapnet", block="shift", width_mult=wp, num_classes=10).parameters())
    assert abs(got_p / n - 1) < 0.05
    with pytest.raises(ValueError, match="unknown metric 'flops'; valid: macs, params"):
        solve_width(1.0, "flops")


# --- re-parameterization blocks -----------------------------------------------------------------
def test_plain_repvgg_block_has_one_branch_and_folds_exactly():
    blk = randomize_bn(RepVggBlock(8, 8, branches="plain"))
    assert blk.scale is None and blk.identity is None and len(blk.convs) == 1
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        ref = blk(x)
        blk.reparameterize()
        assert (blk(x) - ref).abs().max() < 1e-5
    with pytest.raises(ValueError, match="unknown branches 'dual'; valid: rep, plain"):
        RepVggBlock(8, 8, branches="dual")


def test_repvgg_plain_twin_has_the_same_deploy_graph():
    kw = dict(width_mult=0.25, depths=[1, 2, 2, 1], small_input=True, num_classes=10, in_chans=1)
    rep, plain = (wb.create_model("repvgg_a0", branches=b, **kw) for b in ("rep", "plain"))
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(rep) > n(plain)
    d_rep, d_plain = reparameterize_model(rep), reparameterize_model(plain)
    assert n(d_rep) == n(d_plain)
    shapes = lambda m: [tuple(p.shape) for p in m.parameters()]  # noqa: E731
    assert shapes(d_rep) == shapes(d_plain)


def test_deploy_difference_is_tiny_for_a_correct_fold_and_large_for_a_broken_one(monkeypatch):
    m = randomize_bn(wb.create_model("repvgg_a0", width_mult=0.25, depths=[1, 1, 1, 1], small_input=True, num_classes=10, in_chans=1))
    x = torch.randn(4, 1, 28, 28)
    ok = deploy_difference(m, x)
    assert ok["max_abs_diff"] < rp.MAX_ABS_DIFF and ok["max_abs_output"] > 0
    original = RepVggBlock.reparameterize

    def broken(self):  # a fold that forgets the bias
        original(self)
        with torch.no_grad():
            self.reparam_conv.bias.zero_()

    monkeypatch.setattr(RepVggBlock, "reparameterize", broken)
    assert deploy_difference(m, x)["max_abs_diff"] > 1e-2


# --- cheap_operators verdict --------------------------------------------------------------------
def _cheap_table(lat, acc, std=0.2, seeds=2, iqr=0.02, names=("dwsep", "ghost", "shuffle")):
    n = len(names)
    return co.relative(pd.DataFrame({
        "name": list(names), "params": [100, 120, 150][:n], "macs": [1000, 1000, 990][:n],
        "macs_all_ops": [1100, 1200, 1250][:n], "peak_activation_bytes": [10, 13, 18][:n],
        "latency_ratio": lat, "latency_ratio_q1": [x - iqr for x in lat], "latency_ratio_q3": [x + iqr for x in lat],
        "accuracy": acc, "accuracy_std": [std if seeds > 1 else math.nan] * n, "seeds": [seeds] * n,
    }))  # fmt: skip


def test_cheap_supported_when_slower_and_gain_beyond_spread():
    lesson = co.conclude(_cheap_table([1.0, 1.3, 1.6], [88.0, 89.5, 88.2]), epochs=3, images=12000)
    assert lesson.verdict == "supported"
    assert "every cheap operator is slower" in lesson.evidence


def test_cheap_partly_when_slower_but_gain_within_spread_and_not_when_faster():
    assert co.conclude(_cheap_table([1.0, 1.3, 1.6], [88.0, 88.2, 88.1])).verdict == "partly supported"
    faster = co.conclude(_cheap_table([1.0, 0.8, 1.6], [88.0, 88.2, 88.1]))
    assert faster.verdict == "not supported" and "not every" in faster.evidence


def test_cheap_latency_within_iqr_is_noise():
    lesson = co.conclude(_cheap_table([1.0, 1.01, 1.02], [88.0, 88.1, 88.0], iqr=0.05))
    assert lesson.verdict == "inconclusive" and "within the noise" in lesson.evidence


def test_cheap_one_seed_and_short_training_are_untestable_and_never_nan():
    one = co.conclude(_cheap_table([1.0, 1.3, 1.6], [88.0, 95.0, 88.1], seeds=1))
    assert one.verdict == "partly supported" and "1 seed, no spread" in one.evidence
    assert "nan" not in " ".join(one.takeaways).lower() + one.evidence.lower()
    short = co.conclude(_cheap_table([1.0, 1.3, 1.6], [60.0, 70.0, 61.0]))
    assert "training too short" in short.evidence and short.verdict == "partly supported"
    with pytest.raises(ValueError, match="at least one cheap operator"):
        co.conclude(_cheap_table([1.0], [88.0], names=("dwsep",)))


def test_cheap_fd_row_is_reported_not_judged():
    t = _cheap_table([1.0, 1.3, 0.5], [88.0, 88.2, 80.0], names=("dwsep", "ghost", co.FD))
    lesson = co.conclude(t)
    assert lesson.verdict == "partly supported"  # the fast FD row does not make it "not always slower"
    assert any("Fast downsampling" in s and "saves more latency" in s for s in lesson.takeaways)


def test_cheap_variants_and_bank_entries():
    vs = co.variants(["dwsep", "shift"], fast_downsample=True)
    assert list(vs) == ["dwsep", "shift", co.FD]
    assert vs["dwsep"][1]["width_mult"] == 1.0 and vs[co.FD][1]["fast_downsample"] is True
    assert vs[co.FD][1]["width_mult"] > 1.1  # FD spends its MAC saving on width
    with pytest.raises(ValueError, match="first block must be the baseline 'dwsep'"):
        co.variants(["ghost", "dwsep"])
    with pytest.raises(ValueError, match="unknown block 'ghst'"):
        co.variants(["dwsep", "ghst"])
    entries = co.bank_entries({"blocks": ["dwsep", "shift"], "fast_downsample": False, "groups": 4, "recipe": "smoke", "seeds": [0, 1]})
    assert len(entries) == 4


# --- reparameterization verdict -----------------------------------------------------------------
def _profiles(speedups, iqr=0.02):
    rows = []
    for model, s in speedups.items():
        rows.append({"name": f"{model} train", "latency_ratio": 1.0, "latency_ratio_q1": 1.0, "latency_ratio_q3": 1.0,
                     "params": 110, "macs": 1000, "peak_activation_bytes": 30})
        r = 1 / s
        rows.append({"name": f"{model} deploy", "latency_ratio": r, "latency_ratio_q1": r - iqr, "latency_ratio_q3": r + iqr,
                     "params": 100, "macs": 1000, "peak_activation_bytes": 20})  # fmt: skip
    return pd.DataFrame(rows)


def _trained(rep, plain, std=0.2, seeds=2):
    return pd.DataFrame({"name": ["multi-branch", "plain twin"], "accuracy": [rep, plain],
                         "accuracy_std": [std if seeds > 1 else math.nan] * 2, "seeds": [seeds] * 2})  # fmt: skip


def test_speedups_from_interleaved_pairs():
    s = rp.speedups(_profiles({"repvgg_a0": 2.0, "mobileone_s0": 1.1}))
    assert list(s.model) == ["repvgg_a0", "mobileone_s0"]
    assert s.speedup.tolist() == pytest.approx([2.0, 1.1])
    assert s.speedup_lo.iloc[0] == pytest.approx(1 / 0.52) and s.meets_target.tolist() == [True, False]
    assert s.memory_ratio.iloc[0] == pytest.approx(20 / 30)
    with pytest.raises(ValueError, match="needs a train and a deploy row"):
        rp.speedups(_profiles({"x": 2.0}).iloc[:1])


def test_reparam_supported_partly_and_not_supported():
    speed = rp.speedups(_profiles({"repvgg_a0": 1.6, "mobileone_s0": 1.4}))
    equal = {"max_abs_diff": 2e-6, "max_abs_output": 10.0}
    assert rp.conclude(speed, equal, _trained(89.0, 87.5)).verdict == "supported"
    assert rp.conclude(speed, equal, _trained(88.0, 87.9)).verdict == "partly supported"
    differ = {"max_abs_diff": 1e-2, "max_abs_output": 10.0}
    lesson = rp.conclude(speed, differ, _trained(89.0, 87.5))
    assert lesson.verdict == "not supported" and "ABOVE" in lesson.evidence
    noisy = rp.speedups(_profiles({"repvgg_a0": 1.01}, iqr=0.05))
    lesson = rp.conclude(noisy, equal, _trained(88.0, 87.9))
    assert lesson.verdict == "inconclusive" and "noisy timing" in lesson.evidence
    assert rp.conclude(noisy, equal, _trained(89.0, 87.5)).verdict == "partly supported"
    slower = rp.speedups(_profiles({"repvgg_a0": 0.8}))
    lesson = rp.conclude(slower, equal, _trained(88.0, 87.9))
    assert lesson.verdict == "not supported" and "SLOWER" in lesson.evidence


def test_reparam_one_seed_is_untestable_and_never_nan():
    speed = rp.speedups(_profiles({"repvgg_a0": 1.6}))
    lesson = rp.conclude(speed, {"max_abs_diff": 0.0, "max_abs_output": 1.0}, _trained(89.0, 80.0, seeds=1))
    assert lesson.verdict == "partly supported" and "1 seed, no spread" in lesson.evidence
    assert "nan" not in (lesson.evidence + " ".join(lesson.takeaways)).lower()
    with pytest.raises(ValueError, match="'multi-branch' and 'plain twin'"):
        rp.conclude(speed, {"max_abs_diff": 0.0, "max_abs_output": 1.0}, _trained(89.0, 80.0).iloc[:1])


def test_reparam_variants_and_bank_entries():
    vs = rp.variants(0.25, [1, 2, 6, 1])
    assert vs["multi-branch"][1]["branches"] == "rep" and vs["plain twin"][1]["branches"] == "plain"
    assert vs["plain twin"][1]["depths"] == [1, 2, 6, 1]
    entries = rp.bank_entries({"width_mult": 0.25, "depths": [1, 2, 6, 1], "recipe": "smoke", "seeds": [0, 1]})
    assert len(entries) == 4
