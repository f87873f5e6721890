"""The weight-sharing supernet: children equal standalone builds, progressive shrinking, BN recalibration."""

from __future__ import annotations

import json

import pytest
import torch

import workbench as wb
from workbench.data.loaders import DataBundle, TensorLoader
from workbench.models.mb_space import MBArch, MBSpace
from workbench.search.supernet import (
    PHASES,
    ElasticInvertedResidual,
    Supernet,
    SupernetRecipe,
    recalibrate_bn,
)

# a tiny space: 3 stages, every elastic dimension present, a forward pass in milliseconds
SPACE = MBSpace(widths=(8, 16, 16), strides=(2, 2, 1), depths=((1, 2),) * 3, stem=8, first=8, head=32)
PX = 12  # inputs of 12 x 12 px keep every test step at milliseconds on a shared CPU


def _randomized(sn: Supernet) -> Supernet:
    # non-trivial BN statistics and kernel transforms, so a wrong slice or a skipped transform shows
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in sn.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) - 0.5)
        for n, p in sn.named_parameters():
            if "ktrans" in n:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return sn.eval()


def _data(n: int = 96, batch: int = 32) -> DataBundle:
    g = torch.Generator().manual_seed(1)
    y = torch.arange(n) % 10
    # class-dependent brightness, so a few steps can learn something
    x = (torch.rand(n, 1, PX, PX, generator=g) * 80 + y[:, None, None, None] * 17).to(torch.uint8)
    train = TensorLoader(x, y, batch_size=batch, shuffle=True, drop_last=True, mean=0.3, std=0.3)
    test = TensorLoader(x, y, batch_size=64, mean=0.3, std=0.3)
    return DataBundle(train, test, num_classes=10, class_names=tuple("0123456789"))


def test_subnet_matches_supernet_and_is_a_standalone_zoo_model():
    torch.manual_seed(0)
    sn = _randomized(Supernet(SPACE, width_mult=1.0))
    x = torch.randn(3, 1, PX, PX)
    outs = {}
    for seed in range(6):
        arch = sn.sample_active(seed)
        with torch.no_grad():
            ref = sn(x)
            sub = sn.subnet(arch).eval()
            out = sub(x)
        assert torch.allclose(out, ref, atol=1e-5), arch.key()
        outs[arch.key()] = ref
        # the same architecture built by the zoo: same tensors, same shapes
        zoo = wb.create_model("mbv2_space", arch=arch.key(), small_input=True, num_classes=10, in_chans=1)
        assert {k: v.shape for k, v in zoo.state_dict().items()} == {k: v.shape for k, v in sub.state_dict().items()}
    assert len(outs) > 1
    a, b = list(outs.values())[:2]
    assert not torch.allclose(a, b, atol=1e-3)  # different children compute different functions


def test_subnet_shares_no_storage_with_supernet():
    sn = Supernet(SPACE)
    arch = SPACE.largest()
    sub = sn.subnet(arch)
    ptrs = {t.untyped_storage().data_ptr() for t in sn.state_dict().values()}
    assert all(t.untyped_storage().data_ptr() not in ptrs for t in sub.state_dict().values())
    before = {k: v.clone() for k, v in sn.state_dict().items()}
    with torch.no_grad():
        for p in sub.parameters():
            p.add_(1.0)
    assert all(torch.equal(before[k], v) for k, v in sn.state_dict().items())


def test_largest_child_is_the_zoo_largest_network():
    sn = _randomized(Supernet(SPACE))
    zoo = wb.create_model("mbv2_space", arch=SPACE.largest().key(), small_input=True, num_classes=10, in_chans=1)
    state = {k[4:]: v for k, v in sn.state_dict().items() if k.startswith("net.") and "ktrans" not in k}
    zoo.load_state_dict(state)
    x = torch.randn(2, 1, PX, PX)
    with torch.no_grad():
        assert torch.allclose(zoo.eval()(x), sn.set_active(SPACE.largest())(x), atol=1e-5)


def test_kernel_transform_starts_as_centre_crop_and_is_learned():
    sn = Supernet(SPACE)
    b = sn.blocks()[0][0]
    assert isinstance(b, ElasticInvertedResidual)
    w = b.conv_dw[0].weight
    assert torch.equal(b.dw_weight(7), w)
    assert torch.allclose(b.dw_weight(5), w[:, :, 1:6, 1:6])
    assert torch.allclose(b.dw_weight(3), w[:, :, 2:5, 2:5])
    with torch.no_grad():
        b.ktrans_7to5.mul_(2.0)
    assert torch.allclose(b.dw_weight(5), 2 * w[:, :, 1:6, 1:6])
    assert torch.allclose(b.dw_weight(3), 2 * w[:, :, 2:5, 2:5])  # 3x3 comes from the transformed 5x5
    with pytest.raises(ValueError, match="valid: 3, 5, 7"):
        b.dw_weight(9)


def test_sort_channels_keeps_the_function_and_orders_importance():
    sn = _randomized(Supernet(SPACE))
    x = torch.randn(2, 1, PX, PX)
    with torch.no_grad():
        before = sn(x)
        sn.sort_channels()
        after = sn(x)
    assert torch.allclose(before, after, atol=1e-5)
    for blocks in sn.blocks():
        for b in blocks:
            imp = b.conv_pwl[0].weight.abs().sum(dim=(0, 2, 3))
            assert torch.all(imp[:-1] >= imp[1:])


def test_set_active_rejects_archs_outside_the_space():
    sn = Supernet(SPACE)
    other = MBSpace(widths=(8, 16, 24), strides=(2, 2, 1), depths=((1, 2),) * 3, stem=8, first=8, head=32).largest()
    with pytest.raises(ValueError, match="not a member"):
        sn.set_active(other)
    with pytest.raises(ValueError, match="not a member"):
        sn.subnet(other)
    too_deep = MBSpace(widths=SPACE.widths, strides=SPACE.strides, depths=((3,),) * 3, stem=8, first=8, head=32).largest()
    with pytest.raises(ValueError, match="not a member"):
        sn.set_active(too_deep.key())
    with pytest.raises(ValueError, match="space must be an MBSpace"):
        Supernet(space="mbv2")


def test_depth_skips_blocks_and_expansion_slices_channels():
    sn = Supernet(SPACE)
    arch = MBArch.from_key("stem8>8|8s2:k3e3|16s2:k5e4,k7e6|16s1:k7e3|head32")
    sn.set_active(arch)
    blocks = sn.blocks()
    assert [b.enabled for b in blocks[0]] == [True, False]
    assert blocks[1][1].active_kernel == 7 and blocks[1][1].active_mid == 16 * 6
    assert blocks[0][0].active_mid == 8 * 3 and blocks[0][0].active_kernel == 3


def test_train_supernet_progressive_shrinking_history_and_errors():
    torch.manual_seed(0)
    sn = Supernet(SPACE)
    data = _data()
    start = {k: v.clone() for k, v in sn.state_dict().items()}
    train_supernet = wb.search.train_supernet
    hist = train_supernet(sn, data, steps_per_phase=2, seed=0, lr=0.05, threads=1)
    json.dumps(hist)
    assert [p["phase"] for p in hist["phases"]] == list(PHASES)
    assert hist["images"] == 4 * 2 * 32
    assert not sn.training and sn.active == SPACE.largest()
    changed = [k for k, v in sn.state_dict().items() if v.dtype.is_floating_point and not torch.equal(v, start[k])]
    assert any("ktrans" in k for k in changed)  # the kernel phase trains the transformation matrices
    assert any("classifier" in k for k in changed)
    with pytest.raises(ValueError, match="unknown phase"):
        train_supernet(sn, data, phases=("largest", "width"), steps_per_phase=1)
    with pytest.raises(ValueError, match="order"):
        train_supernet(sn, data, phases=("depth", "kernel"), steps_per_phase=1)
    with pytest.raises(ValueError, match="steps_per_phase"):
        train_supernet(sn, data, phases=("largest",), steps_per_phase=0)


def test_train_supernet_is_deterministic_and_kd_changes_the_result():
    def run(kd):
        torch.manual_seed(0)
        sn = Supernet(SPACE)
        wb.search.train_supernet(sn, _data(), phases=("largest", "kernel"), steps_per_phase=2, seed=3, kd=kd, threads=1)
        return sn.state_dict()

    a, b, c = run(True), run(True), run(False)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_subnet_accuracy_recalibrates_bn_on_a_copy():
    torch.manual_seed(0)
    sn = Supernet(SPACE)
    data = _data()
    wb.search.train_supernet(sn, data, phases=("largest",), steps_per_phase=3, threads=1)
    before = {k: v.clone() for k, v in sn.state_dict().items()}
    arch = SPACE.smallest()
    acc = wb.search.subnet_accuracy(sn, arch, data, bn_batches=2)
    assert 0.0 <= acc <= 1.0
    assert all(torch.equal(before[k], v) for k, v in sn.state_dict().items())
    with pytest.raises(ValueError, match="bn_batches"):
        wb.search.subnet_accuracy(sn, arch, data, bn_batches=-1)


def test_recalibrate_bn_averages_the_given_batches():
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(1))
    x = torch.arange(64, dtype=torch.float32).reshape(4, 1, 4, 4)
    loader = [(x[:2], None), (x[2:], None), (x + 1000, None)]
    recalibrate_bn(model, loader, batches=2)
    assert not model.training
    assert model[0].running_mean.item() == pytest.approx(x.mean().item())


def test_recipe_trains_once_through_cached_train(tmp_path):
    recipe = SupernetRecipe(space=SPACE, subset=100, batch_size=20, steps_per_phase=(1, 1, 1, 1), threads=1)
    kw = recipe.cache_kwargs("tiny_supernet")
    json.dumps(kw["settings"])
    r1 = wb.bank.cached_train(**kw, cache_dir=tmp_path)
    r2 = wb.bank.cached_train(**recipe.cache_kwargs("tiny_supernet"), cache_dir=tmp_path)
    assert not r1.cache_hit and r2.cache_hit
    assert isinstance(r2.model, Supernet) and r2.history == r1.history
    other = SupernetRecipe(space=SPACE, subset=100, batch_size=20, steps_per_phase=(1, 1, 1, 2), threads=1)
    assert other.cache_kwargs()["settings"] != kw["settings"]


def test_budget_search_picks_the_best_scored_child_under_each_budget():
    torch.manual_seed(0)
    sn = Supernet(SPACE)
    data = _data()

    def fake_latency(arch):  # a deterministic stand-in for the predictor: total kernel x expansion
        return float(sum(k * e for st in arch.stages for k, e in zip(st.kernels, st.expansions, strict=True)))

    small, large = fake_latency(SPACE.smallest()), fake_latency(SPACE.largest())
    budgets = [small - 1, (small + large) / 2, large]
    search = wb.search.budget_search(sn, data, fake_latency, budgets, candidates=10, evaluate=2, bn_batches=1)
    assert (search.latency <= search.budget).all()
    assert set(search.budget) == set(budgets[1:])  # nothing fits under the smallest child's latency
    assert search.groupby("budget").chosen.sum().tolist() == [1, 1]
    for _, g in search.groupby("budget"):
        assert g.loc[g.chosen, "accuracy"].iloc[0] == g.accuracy.max()
    assert SPACE.largest().key() in set(search[search.budget == large].arch)  # the slowest under the budget first
    with pytest.raises(ValueError, match="candidates"):
        wb.search.budget_search(sn, data, fake_latency, budgets, candidates=0)


def _budgets(ofa_acc, scratch, std, seeds=2):
    import pandas as pd

    return pd.DataFrame({
        "budget_pct": [40, 60, 80], "arch": ["a", "b", "c"], "predicted_ratio": [0.4, 0.6, 0.8],
        "measured_ratio": [0.45, 0.62, 0.85], "ofa_accuracy": ofa_acc, "scratch_accuracy": scratch,
        "scratch_std": [std] * 3, "seeds": [seeds] * 3,
    })  # fmt: skip


def test_once_for_all_verdict_rule():
    conclude = wb.lessons.once_for_all.conclude
    kw = dict(supernet_images=50_000, supernet_seconds=200.0, scratch_images=20_000, test_images=5000)
    assert conclude(_budgets([88.0, 89.0, 90.0], [88.2, 89.1, 89.5], 0.3), **kw).verdict == "supported"
    assert conclude(_budgets([84.0, 85.0, 86.0], [88.2, 89.1, 89.5], 0.3), **kw).verdict == "not supported"
    assert conclude(_budgets([84.0, 89.0, 90.0], [88.2, 89.1, 89.5], 0.3), **kw).verdict == "partly supported"
    # the binomial noise of 5000 test images (~0.45 points at 88 %) sets the tolerance when seeds agree
    assert conclude(_budgets([87.5, 89.0, 90.0], [88.2, 89.1, 89.5], 0.0), **kw).verdict == "supported"
    one = conclude(_budgets([88.0, 89.0, 90.0], [88.2, 89.1, 89.5], float("nan"), seeds=1), **kw)
    assert one.verdict == "inconclusive" and "1 seed, no spread" in one.evidence
    short = conclude(_budgets([60.0, 61.0, 62.0], [70.0, 71.0, 72.0], 0.3), **kw)
    assert short.verdict == "inconclusive" and "too short" in short.evidence
    lesson = conclude(_budgets([88.0, 89.0, 90.0], [88.2, 89.1, 89.5], 0.3), **kw, largest_accuracy=91.0)
    recs = lesson.records()
    assert set(recs) == {"key_numbers", "claim_result"}
    assert any("rank the chosen children as the budgets do" in t for t in lesson.takeaways)
    with pytest.raises(ValueError, match="at least one budget"):
        conclude(_budgets([88.0, 89.0, 90.0], [88.2, 89.1, 89.5], 0.3).iloc[:0], **kw)


def test_budget_table_joins_search_scratch_and_measurements():
    import pandas as pd

    search = pd.DataFrame({"budget": [4.0, 4.0, 8.0], "arch": ["a", "b", "c"], "latency": [3.0, 3.5, 7.0],
                           "accuracy": [80.0, 82.0, 85.0], "chosen": [False, True, True]})  # fmt: skip
    t = wb.lessons.once_for_all.budget_table(search, [40, 80], 10.0, {"b": [81.0, 83.0], "c": [86.0]}, {"b": 0.3})
    assert list(t.arch) == ["b", "c"]
    assert t.predicted_ratio.tolist() == [0.35, 0.7]
    assert t.scratch_accuracy.tolist() == [82.0, 86.0] and t.seeds.tolist() == [2, 1]
    assert t.scratch_std.iloc[0] == pytest.approx(2**0.5) and t.scratch_std.isna().iloc[1]
    assert t.measured_ratio.iloc[0] == 0.3 and t.measured_ratio.isna().iloc[1]


def test_supernet_entry_params_key_the_recipe():
    ofa = wb.lessons.once_for_all
    p = dict(width_mult=0.5, train_images=1000, batch_size=32, steps_per_phase=[1, 1, 1, 1], lr=0.05, kd=True, seed=0)
    r = ofa.recipe(p)
    assert r.mb_space() == ofa.SPACE and not r.small_input
    assert ofa.recipe({**p, "threads": 2}).settings() == r.settings()  # threads change speed, not the entry
    assert ofa.recipe({**p, "lr": 0.1}).settings() != r.settings()
