"""Latency predictor (issue 14): kernel detection, lookup tables, predictors, with a FAKE timer.

No test times anything real: the fake timer's latency is a closed form of the MACs and output
size of what it is given (depthwise MACs cost 4x, as memory-bound kernels do), so sums, caches and
fits can be checked exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import workbench as wb
from workbench.layers import SqueezeExcite
from workbench.search import (
    Kernel,
    KernelRegressor,
    LatencyPredictor,
    LatencyTable,
    detect_kernels,
    measure_models,
    model_info,
    predictor_report,
    table_path,
)


class FakeTimer:
    """ms = 0.01 + 1e-5 * MACs (x4 for depthwise) + 1e-6 * output elements; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, module: nn.Module, x: torch.Tensor) -> float:
        self.calls += 1
        macs = 0.0

        def hook(m, inp, out):
            nonlocal macs
            if isinstance(m, nn.Conv2d):
                per = m.in_channels // m.groups * math.prod(m.kernel_size)
                macs += out.numel() * per * (4 if m.groups > 1 and m.groups == m.in_channels else 1)
            elif isinstance(m, nn.Linear):
                macs += out.numel() * m.in_features

        hs = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        try:
            with torch.no_grad():
                out = module(x)
        finally:
            for h in hs:
                h.remove()
        out = out[0] if isinstance(out, (tuple, list)) else out
        return 0.01 + 1e-5 * macs + 1e-6 * out.numel()


def fake_sum(kernels) -> float:
    t = FakeTimer()
    return math.fsum(t(*k.build()) for k in kernels)


class Residual(nn.Module):
    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.act = nn.ReLU(inplace=True)
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.pw = nn.Conv2d(c, 2 * c, 1)
        self.grouped = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=4)
        self.se = SqueezeExcite(2 * c)

    def forward(self, x):
        y = self.act(self.bn(self.conv(x))) + x  # residual add: a functional kernel
        y = torch.relu(self.dw(y))  # functional activation fused into the depthwise conv
        return self.se(self.grouped(self.pw(y)))


def small_net(c: int = 8, k: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, c, k, stride=2, padding=k // 2, bias=False), nn.BatchNorm2d(c), nn.ReLU6(),
        nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU6(),
        nn.Conv2d(c, 2 * c, 1, bias=False), nn.BatchNorm2d(2 * c),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * c, 10),
    )  # fmt: skip


# -- detection ------------------------------------------------------------------------------------
def test_conv_bn_act_fuse_into_one_kernel():
    ks = detect_kernels(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()), (3, 16, 16))
    assert len(ks) == 1
    assert (ks[0].kind, ks[0].act, ks[0].in_shape, ks[0].out_shape) == ("conv_dense", "relu", (1, 3, 16, 16), (1, 8, 16, 16))
    # BN after the activation is not foldable: conv+act, then a norm kernel
    ks = detect_kernels(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.BatchNorm2d(8)), (3, 16, 16))
    assert [(k.kind, k.act) for k in ks] == [("conv_dense", "relu"), ("norm", "")]


def test_shared_module_is_recorded_once_per_call():
    act = nn.ReLU()
    net = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 1), act), nn.Sequential(nn.MaxPool2d(2), act))
    ks = detect_kernels(net, (3, 8, 8))
    assert [(k.kind, k.act) for k in ks] == [("conv_pointwise", "relu"), ("pool", ""), ("act", "")]


def test_fusion_follows_data_flow_not_module_order():
    class NotFed(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)

        def forward(self, x):
            return self.conv(x) + self.bn(x)  # the BN reads x, not the conv output

    kinds = [k.kind for k in detect_kernels(NotFed(), (4, 8, 8))]
    assert kinds == ["conv_pointwise", "norm", "functional"]


def test_conv_kinds_se_and_residual_add():
    ks = detect_kernels(Residual(), (8, 16, 16))
    assert [k.kind for k in ks] == ["conv_dense", "functional", "conv_depthwise", "conv_pointwise", "conv_grouped", "se"]
    assert ks[0].act == "relu" and ks[2].act == "relu" and ks[1].op == "add"
    assert ks[4].groups == 4 and ks[5].op == "SqueezeExcite" and ks[5].out_shape == (1, 16, 16, 16)


def test_timm_blocks_se_attention_and_bn_act():
    from timm.layers import Attention, BatchNormAct2d
    from timm.models._efficientnet_blocks import SqueezeExcite as TimmSE

    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), BatchNormAct2d(8), TimmSE(8))
    ks = detect_kernels(net, (3, 8, 8))
    assert [(k.kind, k.act) for k in ks] == [("conv_dense", "relu"), ("se", "")]
    ks = detect_kernels(nn.Sequential(nn.Linear(16, 16), nn.GELU(), Attention(16, num_heads=2)), torch.randn(1, 5, 16))
    assert [(k.kind, k.act) for k in ks] == [("linear", "gelu"), ("attention", "")]
    # heads are part of the key even though the parameter shapes are equal
    k2 = detect_kernels(Attention(16, num_heads=4), torch.randn(1, 5, 16))[0]
    assert k2.key() != ks[1].key()


def test_detect_rejects_non_modules_and_bad_sizes():
    with pytest.raises(ValueError, match="nn.Module"):
        detect_kernels("mobilenetv2_100", (3, 32, 32))
    with pytest.raises(ValueError, match="input_size"):
        detect_kernels(small_net(), (3, 0, 32))


@pytest.mark.parametrize("name", ["mobilenetv3_small_100", "reference_cnn", "repvgg_a0", "efficientvit_m0"])
def test_zoo_models_detect_and_every_kernel_rebuilds(name):
    model = wb.create_model(name, small_input=True, num_classes=10)
    info = model_info(model, macs=False)
    assert info.kernels and any(k.kind.startswith("conv") for k in info.kernels)
    if name == "repvgg_a0":  # deploy form: one 3x3 conv per block, no 1x1 branch left
        assert not any(k.kind == "conv_pointwise" for k in info.kernels)
    if name == "mobilenetv3_small_100":
        assert {"conv_depthwise", "se"} <= {k.kind for k in info.kernels}
    if name == "efficientvit_m0":
        assert any(k.kind == "attention" for k in info.kernels)
    with torch.inference_mode():
        for k in {k.key(): k for k in info.kernels}.values():
            mod, x = k.build()
            out = mod(x)
            out = out[0] if isinstance(out, (tuple, list)) else out
            assert tuple(out.shape) == k.out_shape, k.key()


# -- table ------------------------------------------------------------------------------------
def test_lut_sum_equals_sum_of_fake_kernel_times(tmp_path):
    kernels = detect_kernels(Residual(), (8, 16, 16)) * 2  # duplicates count twice, measured once
    timer = FakeTimer()
    table = LatencyTable.build(kernels, timer=timer, rounds=2, base=tmp_path)
    assert len(table) == len(kernels) // 2 and timer.calls == 2 * len(table)
    assert table.total_ms(kernels) == pytest.approx(fake_sum(kernels), rel=1e-9)
    pred = LatencyPredictor("lut", table, overhead="none")
    assert pred.predict(kernels) == pytest.approx(fake_sum(kernels), rel=1e-9)
    chunked = LatencyTable.build(kernels, timer=FakeTimer(), rounds=2, chunk=2, cache=False)
    assert chunked.entries == table.entries and chunked.path is None


def test_table_cache_round_trips_and_is_keyed_by_threads_and_batch(tmp_path):
    kernels = detect_kernels(small_net(), (3, 16, 16))
    table = LatencyTable.build(kernels, timer=FakeTimer(), threads=1, base=tmp_path)
    assert table.path == table_path(1, 1, base=tmp_path) and table.path.exists()
    assert len({table_path(1, 1, base=tmp_path), table_path(2, 1, base=tmp_path), table_path(1, 2, base=tmp_path)}) == 3
    loaded = LatencyTable.load(1, base=tmp_path)
    assert loaded.entries == table.entries and set(loaded.kernels) == set(table.entries)
    assert LatencyTable.load(2, base=tmp_path) is None and LatencyTable.load(1, 2, base=tmp_path) is None
    again = FakeTimer()  # a second build reads the cache and measures nothing
    assert LatencyTable.build(kernels, timer=again, base=tmp_path).entries == table.entries and again.calls == 0
    LatencyTable.build(kernels, timer=again, base=tmp_path, refresh=True)
    assert again.calls == 3 * len(table)
    # a restored kernel keeps its key and features (the regressor trains on a loaded table)
    for k in kernels:
        assert loaded.kernels[k.key()].key() == k.key() and loaded.kernels[k.key()].features() == k.features()
    table.path.write_text("{not json")
    assert LatencyTable.load(1, base=tmp_path) is None and not table.path.exists()


def test_table_refuses_bad_arguments(tmp_path):
    kernels = detect_kernels(small_net(), (3, 16, 16), batch_size=1)
    with pytest.raises(ValueError, match="not a multiple of the table's batch 2"):
        LatencyTable.build(kernels, timer=FakeTimer(), batch=2, base=tmp_path)  # kernels detected at batch 1
    # a kernel inside a reshape (heads folded into the leading dim) belongs to a batch-1 model
    folded = detect_kernels(small_net(), (3, 16, 16), batch_size=4)
    assert LatencyTable.build(folded, timer=FakeTimer(), batch=1, base=tmp_path / "folded").missing(folded) == []
    for bad in ({"threads": 0}, {"batch": 0}, {"rounds": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            LatencyTable.build(kernels, timer=FakeTimer(), base=tmp_path, **bad)
    with pytest.raises(KeyError, match="not in the table"):
        LatencyTable(threads=1)[kernels[0]]
    with pytest.raises(ValueError, match="no module"):
        Kernel("other", "Mystery", (1, 3), (1, 3)).build()


# -- regressor and predictors ---------------------------------------------------------------------
def _conv_kernels(configs) -> list[Kernel]:
    out = []
    for cin, cout, k, h, dw in configs:
        conv = nn.Conv2d(cin, cin if dw else cout, k, padding=k // 2, groups=cin if dw else 1)
        out += detect_kernels(conv, (cin, h, h))
    return out


def test_regressor_predicts_unseen_configurations():
    rng = np.random.default_rng(0)
    grid = [(c, co, k, h, dw) for c in (8, 16, 32) for co in (16, 32, 64) for k in (1, 3, 5) for h in (8, 16)
            for dw in (False, True) if not (dw and k == 1)]  # fmt: skip
    rng.shuffle(grid)
    kernels = _conv_kernels(grid)
    train, test = kernels[: int(0.75 * len(kernels))], kernels[int(0.75 * len(kernels)):]
    timer = FakeTimer()
    reg = KernelRegressor().fit(train, [timer(*k.build()) for k in train])
    true = np.array([timer(*k.build()) for k in test])
    rel = np.abs(reg.predict(test) / true - 1)
    assert np.median(rel) < 0.10 and np.mean(rel < 0.25) > 0.85
    # depthwise and dense are told apart: an unseen depthwise conv is not priced as a dense one
    dw, dense = _conv_kernels([(48, 48, 3, 16, True), (48, 48, 3, 16, False)])
    assert reg.predict([dw])[0] < 0.5 * reg.predict([dense])[0]
    with pytest.raises(ValueError, match="not fitted"):
        KernelRegressor().predict(test)


def test_lut_fills_missing_kernels_by_regressor_or_measurement(tmp_path):
    seen = [small_net(c, k) for c in (8, 16, 24) for k in (3, 5)]
    table = LatencyTable.build([k for m in seen for k in detect_kernels(m, (3, 32, 32))], timer=FakeTimer(),
                               rounds=1, base=tmp_path)  # fmt: skip
    unseen = detect_kernels(small_net(20, 3), (3, 32, 32))
    assert table.missing(unseen)
    guess = LatencyPredictor("lut", table, overhead="none")
    df = guess.kernel_ms(unseen)
    assert "regressor" in set(df.source) and guess.predict(unseen) == pytest.approx(fake_sum(unseen), rel=0.25)
    n = len(table)
    exact = LatencyPredictor("lut", table, overhead="none", measure_missing=True, timer=FakeTimer())
    assert exact.predict(unseen) == pytest.approx(fake_sum(unseen), rel=1e-9)
    assert len(table) > n and not table.missing(unseen)
    assert len(LatencyTable.load(1, base=tmp_path)) == len(table)  # measured kernels were cached


def test_overhead_and_macs_fits_recover_a_linear_truth(tmp_path):
    nets = {f"n{c}_{k}": small_net(c, k) for c in (8, 16, 32) for k in (3, 5)}
    infos = {n: model_info(m, (3, 32, 32)) for n, m in nets.items()}
    table = LatencyTable.build([k for i in infos.values() for k in i.kernels], timer=FakeTimer(), rounds=1,
                               base=tmp_path)  # fmt: skip
    measured = {n: 1.3 * fake_sum(i.kernels) + 0.4 for n, i in infos.items()}
    lut = LatencyPredictor("lut", table).fit(infos, measured)
    assert lut.overhead_terms == pytest.approx({"scale": 1.3, "per_kernel_ms": 0.0, "intercept_ms": 0.4})
    with_calls = {n: 1.3 * fake_sum(i.kernels) + 0.02 * len(i.kernels) + 0.4 for n, i in infos.items()}
    infos["deeper"] = model_info(nn.Sequential(small_net(8), nn.Linear(10, 10), nn.ReLU()), (3, 32, 32))
    with_calls["deeper"] = 1.3 * fake_sum(infos["deeper"].kernels) + 0.02 * len(infos["deeper"].kernels) + 0.4
    per = LatencyPredictor("lut", table, overhead="per_kernel", measure_missing=True, timer=FakeTimer())
    assert per.fit(infos, with_calls).overhead_terms == pytest.approx(
        {"scale": 1.3, "per_kernel_ms": 0.02, "intercept_ms": 0.4})
    del infos["deeper"]
    rep = predictor_report(lut.predict_many(infos), measured)
    assert rep.attrs["summary"]["within_5"] == 1.0
    macs_truth = {n: 2e-7 * i.macs + 0.3 for n, i in infos.items()}
    macs = LatencyPredictor("macs").fit(infos, macs_truth)
    assert macs.predict(infos["n16_3"]) == pytest.approx(macs_truth["n16_3"])
    # modules and registry-style inputs go through the same path as ModelInfo
    assert macs.predict(nets["n16_3"], (3, 32, 32)) == pytest.approx(macs_truth["n16_3"])


def test_measure_models_with_fake_timer_uses_deploy_form():
    nets = {"a": small_net(8), "b": small_net(16)}
    got = measure_models(nets, (3, 32, 32), timer=FakeTimer(), rounds=2)
    assert set(got) == {"a", "b"} and got["b"] > got["a"] > 0


def test_predictor_report_scores():
    measured = {"a": 10.0, "b": 20.0, "c": 40.0, "d": 80.0}
    predicted = {"a": 10.4, "b": 21.6, "c": 36.0, "d": 80.0}  # +4 %, +8 %, -10 %, 0 %
    rep = predictor_report(predicted, measured)
    s = rep.attrs["summary"]
    assert rep.error_pct.round(6).tolist() == [4.0, 8.0, -10.0, 0.0]
    assert (s["within_5"], s["within_10"], s["spearman"], s["n"]) == (0.5, 1.0, 1.0, 4)
    assert s["rmse_ms"] == pytest.approx(math.sqrt((0.16 + 2.56 + 16) / 4))
    swapped = predictor_report({**predicted, "a": 25.0}, measured).attrs["summary"]
    assert swapped["spearman"] < 1.0 and swapped["within_10"] == 0.75


def test_predictor_refuses_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="unknown method 'fast'; valid: lut, macs, regressor"):
        LatencyPredictor("fast")
    with pytest.raises(ValueError, match="unknown overhead"):
        LatencyPredictor("macs", overhead="per_call")
    with pytest.raises(ValueError, match="needs a LatencyTable"):
        LatencyPredictor("lut")
    with pytest.raises(ValueError, match="fitted first"):
        LatencyPredictor("macs").predict(detect_kernels(small_net(), (3, 16, 16)))
    with pytest.raises(ValueError, match="differ in names"):
        LatencyPredictor("macs").fit({"a": small_net()}, {"b": 1.0})
    with pytest.raises(ValueError, match="needs >= 2 models"):
        LatencyPredictor("macs").fit({"a": small_net()}, {"a": 1.0}, (3, 16, 16))
    with pytest.raises(ValueError, match="differ in names"):
        predictor_report({"a": 1.0}, {"b": 1.0})
    with pytest.raises(ValueError, match="> 0 ms"):
        predictor_report({"a": 1.0}, {"a": 0.0})


def test_evaluate_scores_unseen_models_without_leaking_them(tmp_path):
    from workbench.search import evaluate_latency_predictors

    def model_timer(model, x):  # the fake truth: 1.1 x the fake kernel sum + 0.2 ms
        return 1.1 * fake_sum(detect_kernels(model, x)) + 0.2

    train, test = ["mobilenetv1_050", "lcnet_050"], ["shufflenetv2_050"]
    out = evaluate_latency_predictors(train, test, threads=(1, 2), input_size=(3, 32, 32), timer=FakeTimer(),
                                      model_timer=model_timer, rounds=1, model_rounds=1, count_macs=False,
                                      base=tmp_path)  # fmt: skip
    assert len(out) == 2 * 4 * 2 and set(out.predictor) == {"lut", "lut_measured", "regressor", "macs"}
    row = out.set_index(["threads", "predictor", "split"])
    assert row.loc[(1, "lut_measured", "test"), "within_5"] == 1.0  # exact kernels + exact overhead fit
    assert out.attrs["terms"][(2, "lut")] == pytest.approx({"scale": 1.1, "per_kernel_ms": 0.0, "intercept_ms": 0.2})
    # the test model's kernels were timed alone and cached, but the plain table never saw them
    rep = out.attrs["reports"][(1, "lut")]
    assert set(rep.split) == {"train", "test"}
    cached = LatencyTable.load(1, base=tmp_path)
    shuffle_keys = {k.key() for k in model_info(wb.create_model("shufflenetv2_050"), (3, 32, 32), macs=False).kernels}
    assert shuffle_keys <= set(cached.entries)
    with pytest.raises(ValueError, match="both train and test"):
        evaluate_latency_predictors(train, train[:1], timer=FakeTimer(), base=tmp_path)


# --- the latency_prediction verdict rule ----------------------------------------------------------


def _summary(lut10=(0.95, 0.92), macs10=(0.4, 0.5), lut_rho=0.95, macs_rho=0.8, n=15):
    import pandas as pd

    rows = []
    for t, a, m in zip((1, 2), lut10, macs10, strict=True):
        rows += [
            dict(threads=t, predictor="lut_measured", split="test", n=n, within_10=a, within_5=a / 2, rmspe_pct=6.0, spearman=lut_rho),
            dict(threads=t, predictor="macs", split="test", n=n, within_10=m, within_5=m / 2, rmspe_pct=30.0, spearman=macs_rho),
            dict(threads=t, predictor="lut_measured", split="train", n=60, within_10=0.97, within_5=0.8, rmspe_pct=4.0, spearman=0.99),
        ]
    return pd.DataFrame(rows)


def test_latency_verdict_supported_partly_and_not():
    from workbench.lessons import latency_prediction as lp

    assert lp.conclude(_summary(), n_kernels=100, seconds=60).verdict == "supported"
    # one thread count below 90 %: the accuracy half fails, the MACs comparison still holds
    partly = lp.conclude(_summary(lut10=(0.95, 0.85)), n_kernels=100, seconds=60)
    assert partly.verdict == "partly supported" and "accurate fails" in partly.evidence
    # worse than MACs on both: not supported
    assert lp.conclude(_summary(lut10=(0.3, 0.3), macs10=(0.5, 0.5)), n_kernels=1, seconds=1).verdict == "not supported"
    # a tie on the share is not "better than MACs"
    tie = lp.conclude(_summary(lut10=(0.95, 0.95), macs10=(0.95, 0.95)), n_kernels=1, seconds=1)
    assert tie.verdict == "partly supported" and "beats MACs fails" in tie.evidence


def test_latency_verdict_too_few_models_and_missing_rows():
    from workbench.lessons import latency_prediction as lp

    few = lp.conclude(_summary(n=3), n_kernels=10, seconds=5)
    assert few.verdict == "inconclusive" and "too few" in few.evidence
    s = _summary()
    with pytest.raises(ValueError, match="macs"):
        lp.conclude(s[s.predictor != "macs"], n_kernels=1, seconds=1)


def test_stacked_reports_and_kernel_frame():
    import pandas as pd

    rep = wb.search.predictor_report({"a": 1.0, "b": 2.2}, {"a": 1.0, "b": 2.0})
    summary = pd.DataFrame([{"threads": 1, "predictor": "lut", "split": "test"}])
    summary.attrs["reports"] = {(1, "lut"): rep.assign(split="test")}
    out = wb.search.stacked_reports(summary)
    assert list(out.columns[:3]) == ["threads", "predictor", "split"] and len(out) == 2
    assert out.set_index("name").loc["b", "error_pct"] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="evaluate_latency_predictors"):
        wb.search.stacked_reports(pd.DataFrame())
    frame = wb.search.kernel_frame(wb.search.detect_kernels(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()), (3, 8, 8)))
    assert len(frame) == 1 and frame.kind.iloc[0] == "conv_dense" and frame.act.iloc[0] == "relu"


def test_overhead_fit_minimises_relative_error(tmp_path):
    """One large model off the line must not buy an intercept that ruins the small ones."""
    nets = {f"n{c}_{k}": small_net(c, k) for c in (8, 16, 32) for k in (3, 5)}
    infos = {n: model_info(m, (3, 32, 32)) for n, m in nets.items()}
    table = LatencyTable.build([k for i in infos.values() for k in i.kernels], timer=FakeTimer(), rounds=1, base=tmp_path)
    measured = {n: fake_sum(i.kernels) for n, i in infos.items()}
    big = max(measured, key=measured.get)
    measured[big] *= 1.5  # the largest model runs 50 % slower than its kernels say
    rep = predictor_report(LatencyPredictor("lut", table).fit(infos, measured).predict_many(infos), measured)
    others = rep[rep.name != big]
    assert others.error_pct.abs().max() < 10  # every other model stays within 10 %
