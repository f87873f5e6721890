"""Measurement core: closed-form MAC oracles, cross-checks, and sanity of latency/memory/peak."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import workbench as wb
from workbench.measure import MAC_OPS, count_macs, count_params, measure_memory
from workbench.measure.latency import measure_latency


class Attention(nn.Module):
    """Plain matmul attention over (B, heads, L, D) -- the textbook formula."""

    def __init__(self, sdpa: bool) -> None:
        super().__init__()
        self.sdpa = sdpa

    def forward(self, x):  # x: (B, C, H, W) -> tokens (B, heads=2, L=H*W, D=C/2)
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2).reshape(b, h * w, 2, c // 2).transpose(1, 2)
        if self.sdpa:
            return F.scaled_dot_product_attention(t, t, t)
        a = (t @ t.transpose(-2, -1) * (c // 2) ** -0.5).softmax(-1)
        return a @ t


B, C, H, W = 2, 8, 6, 5


@pytest.mark.parametrize(
    "module, expected",
    [
        (nn.Conv2d(C, 16, 3, padding=1, bias=False), B * 16 * C * 9 * H * W),
        (nn.Conv2d(C, 16, 3, padding=1), B * 16 * C * 9 * H * W),  # bias adds are not MACs
        (nn.Conv2d(C, C, 3, padding=1, groups=C), B * C * 9 * H * W),  # depthwise
        (nn.Conv2d(C, 16, 3, padding=1, groups=4), B * 16 * (C // 4) * 9 * H * W),  # grouped
        (nn.Conv2d(C, 4, 1, stride=2), B * 4 * C * 3 * 3),  # strided 1x1: 3x3 output
        (nn.Sequential(nn.Flatten(), nn.Linear(C * H * W, 7)), B * C * H * W * 7),
        (Attention(sdpa=False), 2 * B * 2 * (H * W) ** 2 * (C // 2)),  # QK^T + AV
        (Attention(sdpa=True), 2 * B * 2 * (H * W) ** 2 * (C // 2)),
    ],
    ids=["conv", "conv_bias", "depthwise", "grouped", "strided_1x1", "linear", "matmul_attn", "sdpa"],
)
def test_closed_form_macs(module, expected):
    r = count_macs(module, (B, C, H, W))
    assert r.macs == expected
    assert r.flops == 2 * r.macs
    assert not r.unsupported, r.unsupported


def test_linear_on_token_sequences():
    r = count_macs(nn.Linear(10, 5), torch.randn(3, 7, 10))
    assert r.macs == 3 * 7 * 10 * 5


def test_bn_and_activations_only_in_all_ops():
    m = nn.Sequential(nn.Conv2d(C, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.Hardswish())
    r = count_macs(m, (1, C, H, W))
    out = 16 * H * W
    assert r.macs == C * out  # BN folded away: not a MAC
    assert r.by_operator["norm"] == 2 * out  # eval BN: scale + shift
    assert r.by_operator["elementwise"] == 2 * out  # relu + hardswish, one op per element
    assert r.macs_all_ops == r.macs + 4 * out


def test_residual_add_pool_softmax_counted():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(C, C, 1)

        def forward(self, x):
            y = x + self.conv(x)
            return y.mean((2, 3)).softmax(-1)

    r = count_macs(Block(), (1, C, H, W))
    assert r.by_operator == {"conv": C * C * H * W, "elementwise": C * H * W, "pool": C * H * W, "softmax": 3 * C}
    assert not r.unsupported


def test_unsupported_ops_are_reported_not_zeroed():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.fft.rfft2(x).abs()

    r = count_macs(Odd(), (1, 2, 8, 8))
    assert r.unsupported, "an op nobody handles must show up"
    assert "unsupported" in str(r).lower() or "UNSUPPORTED" in str(r)


def test_by_module_attributes_macs():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 5, 1))
    r = count_macs(m, (1, 3, 10, 10))
    assert r.by_module["0"] == 4 * 3 * 9 * 64
    assert r.by_module["2"] == 5 * 4 * 64
    assert r.by_module[""] == r.macs == r.by_module["0"] + r.by_module["2"]
    assert m.training, "count_macs must restore the caller's mode"


@pytest.mark.parametrize(
    "model",
    [
        nn.Sequential(nn.Conv2d(3, 16, 3, stride=2), nn.Conv2d(16, 16, 3, groups=16), nn.Flatten(), nn.LazyLinear(10)),
        nn.Sequential(nn.Conv2d(3, 8, 5, groups=1, dilation=2), nn.Conv2d(8, 12, 3, groups=4)),
    ],
)
def test_matches_torch_flop_counter(model):
    x = torch.randn(2, 3, 32, 32)
    model(x)  # materialize lazy modules
    with FlopCounterMode(display=False) as fc:
        model(x)
    assert count_macs(model, x).flops == fc.get_total_flops()


def test_reference_mobilenet_v2_matches_literature():
    m = wb.create_model("torchvision:mobilenet_v2")
    r = count_macs(m)
    assert count_params(m).total == 3_504_872
    assert abs(r.macs - 300.8e6) / 300.8e6 < 0.005
    assert set(r.by_operator) - {"conv", "linear", "norm", "elementwise", "pool"} == set()
    assert not r.unsupported


def test_mac_ops_documented():
    assert {"conv", "linear", "matmul", "scaled_dot_product_attention"} <= MAC_OPS


def test_count_params_table_and_tied_weights():
    emb = nn.Embedding(10, 4)
    head = nn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    m = nn.Sequential(emb, nn.BatchNorm1d(4), head)
    m[2].weight.requires_grad_(True)
    p = count_params(m)
    assert p.total == 40 + 8  # tied matrix once + BN affine
    assert p.buffers == 8  # running mean/var (num_batches_tracked is an integer counter)
    assert set(p.by_module.columns) >= {"module", "type", "params"}
    m[1].weight.requires_grad_(False)
    assert count_params(m).trainable == 44


def test_peak_activation_closed_form():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(16, 4, 1))
    r = measure_memory(m, (3, 10, 10))
    f = 4 * 100  # bytes per channel-plane
    # the input is held by the caller throughout; the worst moment is conv2: x + y1 + y2.
    assert r.peak_activation_bytes == (3 + 8 + 16) * f
    assert r.param_bytes == 4 * sum(p.numel() for p in m.parameters())
    assert r.output_bytes == 4 * f and r.input_bytes == 3 * f


def test_inplace_relu_does_not_double_count():
    base = nn.Sequential(nn.Conv2d(3, 8, 1))
    inplace = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(inplace=True))
    outplace = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU())
    p = {k: measure_memory(v, (3, 4, 4)).peak_activation_bytes for k, v in [("b", base), ("i", inplace), ("o", outplace)]}
    assert p["i"] == p["b"] and p["o"] == p["b"] + 8 * 16 * 4


def test_latency_structure_and_thread_restore():
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    before = torch.get_num_threads()
    r = measure_latency(m, (3, 32, 32), threads=1, samples=7, sample_ms=2, warmup_s=0.01)
    assert torch.get_num_threads() == before
    assert r.n == 7 and len(r.samples_ms) == 7
    assert 0 < r.min_ms <= r.q1_ms <= r.median_ms <= r.q3_ms
    assert r.iqr_ms == pytest.approx(r.q3_ms - r.q1_ms)
    assert r.cv >= 0 and r.threads == 1 and r.batch_size == 1
    assert {"torch", "cpu", "isa", "threads"} <= set(r.env)
    assert m.training


def test_latency_batch_and_bad_args():
    m = nn.Conv2d(3, 4, 1)
    r = measure_latency(m, (3, 8, 8), batch_size=4, samples=3, sample_ms=1, warmup_s=0.0)
    assert r.batch_size == 4 and r.throughput > 0
    with pytest.raises(ValueError, match="backend"):
        measure_latency(m, (3, 8, 8), backend="tensorrt")
    with pytest.raises(ValueError, match="threads"):
        measure_latency(m, (3, 8, 8), threads=0)
    with pytest.raises(ValueError, match="input_size"):
        measure_latency(m, (3, -1, 8))


def test_compare_latency_ratios():
    small = nn.Conv2d(3, 4, 1)
    big = nn.Sequential(*[nn.Conv2d(32, 32, 3, padding=1) for _ in range(4)], nn.Conv2d(32, 4, 1))
    pre = nn.Conv2d(3, 32, 1)
    df = wb.compare_latency({"small": small, "same": small, "big": nn.Sequential(pre, big)}, (3, 32, 32), rounds=5, sample_ms=2, warmup_s=0.01)
    assert list(df.name) == ["small", "same", "big"]
    assert df.loc[0, "ratio"] == 1.0 and (df.baseline == "small").all()
    assert df.loc[2, "ratio"] > 3  # ~150x the MACs: any machine shows a large ratio
    assert (df.ratio_q1 <= df.ratio).all() and (df.ratio <= df.ratio_q3).all()
    assert "env" in df.attrs


def test_machine_peak_cached(tmp_path, monkeypatch):
    from workbench.measure import peak

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr(peak, "_gemm_gflops", lambda: calls.append(1) or 50.0)
    monkeypatch.setattr(peak, "_bandwidth_gbs", lambda: 10.0)
    a = peak.machine_peak(1)
    b = peak.machine_peak(1)
    assert (a.cached, b.cached) == (False, True) and len(calls) == 1
    assert b.gemm_gflops == 50.0 and b.ridge_macs_per_byte == pytest.approx(2.5)
    next(tmp_path.glob("machine_peak-*.json")).write_text("{not json")
    assert peak.machine_peak(1).cached is False  # a corrupt cache is measured again
    assert len(calls) == 2


def test_machine_peak_real_measurement_is_sane(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    p = wb.machine_peak(1)
    assert 0.5 < p.gemm_gflops < 1e5 and 0.1 < p.bandwidth_gbs < 1e4


def test_profile_row(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    m = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    m.default_input_size = (3, 32, 32)
    row = wb.profile(m, threads=1, samples=5, sample_ms=2, warmup_s=0.01)
    assert row.params == count_params(m).total
    assert row.flops == 2 * row.macs and row.macs_all_ops >= row.macs
    assert row.latency_ms > 0 and row.pct_of_peak > 0 and not row.unsupported_ops
    static = wb.profile(m, latency=False)
    assert math.isnan(static.latency_ms) and static.macs == row.macs


def test_profile_many_uses_interleaved_ratios(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    a = nn.Conv2d(3, 8, 1)
    b = nn.Conv2d(3, 64, 3)
    df = wb.profile_many({"a": a, "b": b}, (3, 16, 16), rounds=3, threads=1, sample_ms=2, warmup_s=0.01)
    assert list(df.name) == ["a", "b"] and df.loc[0, "latency_ratio"] == 1.0
    assert (df.baseline == "a").all() and df.loc[1, "macs"] > df.loc[0, "macs"]
