"""Quantization on tiny models: fake-quant math, calibration, sensitivity, QAT, real int8 backends, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.compress import (
    BackendUnavailable,
    QuantConfig,
    backend_status,
    qat,
    quantizable_layers,
    quantize,
)
from workbench.compress.quantize import accuracy, fake_quant, layer_sensitivity, qparams, qrange


class Tiny(nn.Module):
    default_input_size = (1, 12, 12)

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.pw = nn.Conv2d(8, 16, 1)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        return self.head(self.pw(self.dw(self.stem(x))).relu().mean((2, 3)))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    m = Tiny()
    m.train()
    with torch.no_grad():  # realistic BN statistics
        for _ in range(3):
            m(torch.randn(32, 1, 12, 12))
    return m.eval()


@pytest.fixture(scope="module")
def calib():
    return torch.randn(64, 1, 12, 12, generator=torch.Generator().manual_seed(1))


def test_fake_quant_grid_and_ste():
    x = torch.tensor([-1.0, -0.26, 0.0, 0.24, 1.0], requires_grad=True)
    s, z = qparams(x, 3, symmetric=True)  # qmax = 3: grid step 1/3
    assert float(s) == pytest.approx(1 / 3) and float(z) == 0
    y = fake_quant(x, s, z, *qrange(3, True))
    torch.testing.assert_close(y.detach(), torch.tensor([-1.0, -1 / 3, 0.0, 1 / 3, 1.0]))
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones(5))  # straight-through: identity gradient


def test_asymmetric_keeps_zero_exact_and_uses_full_range():
    x = torch.linspace(0, 5, 101)  # ReLU-like: symmetric wastes the negative half
    sa, za = qparams(x, 4, symmetric=False)
    ss, zs = qparams(x, 4, symmetric=True)
    err_a = (fake_quant(x, sa, za, *qrange(4, False)) - x).abs().max()
    err_s = (fake_quant(x, ss, zs, *qrange(4, True)) - x).abs().max()
    assert err_a < err_s
    assert float(fake_quant(torch.zeros(1), sa, za, *qrange(4, False))) == 0.0


def test_percentile_and_mse_clip_an_outlier():
    x = torch.cat([torch.randn(10000, generator=torch.Generator().manual_seed(0)), torch.tensor([50.0])])
    s_mm, _ = qparams(x, 4, symmetric=True, method="minmax")
    s_p, _ = qparams(x, 4, symmetric=True, method="percentile", percentile=99.9)
    s_mse, _ = qparams(x, 4, symmetric=True, method="mse")
    assert s_p < s_mm / 5 and s_mse < s_mm


def test_per_channel_scales_follow_each_channel():
    w = torch.stack([torch.full((3, 3), 0.01), torch.full((3, 3), 1.0)])
    s, _ = qparams(w, 8, symmetric=True, per_channel=True)
    assert s.shape == (2, 1, 1) and s[1, 0, 0] / s[0, 0, 0] == pytest.approx(100)


def test_fake_quant_8bit_is_close_and_2bit_is_not(tiny, calib):
    ref = tiny(calib)
    q8 = quantize(tiny, calib, config=QuantConfig(bits=8))
    q2 = quantize(tiny, calib, config=QuantConfig(bits=2))
    err8, err2 = (q8(calib) - ref).abs().max(), (q2(calib) - ref).abs().max()
    assert err8 < 0.05 * ref.abs().max() and err2 > 4 * err8
    assert tiny.stem[1].__class__ is nn.BatchNorm2d  # the caller's model is untouched


def test_layer_selection_and_sensitivity(tiny, calib):
    names = list(quantizable_layers(__import__("workbench").reparameterize_model(tiny)))
    only = quantize(tiny, calib, config=QuantConfig(bits=2))
    assert all(type(m).__name__ == "QuantLayer" for n, m in only.named_children() if n == "pw")
    y = tiny(calib).argmax(1)
    table = layer_sensitivity(tiny, calib, calib, y, QuantConfig(bits=2))
    assert set(table.layer) == set(names) and "depthwise" in set(table.kind)
    assert table.accuracy_drop.is_monotonic_decreasing
    with pytest.raises(ValueError, match="no quantizable layer 'nope'"):
        from workbench.compress import fake_quantize

        fake_quantize(tiny, calib, layers=["nope"])


def test_qat_recovers_low_bit_accuracy():
    g = torch.Generator().manual_seed(2)
    y = torch.randint(4, (1024,), generator=g)
    x = torch.randn(1024, 1, 12, 12, generator=g) * torch.tensor([0.25, 0.5, 1.0, 2.0])[y].view(-1, 1, 1, 1)
    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for i in range(150):  # a float model that solves the task (class = input scale)
        idx = torch.arange(i * 64, i * 64 + 64) % 1024
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    float_acc = accuracy(model, x, y)
    q = quantize(model, x[:256], config=QuantConfig(bits=2))
    before = accuracy(q, x, y)
    after = accuracy(qat(q, x, y, steps=150, lr=3e-3, batch_size=64), x, y)
    assert float_acc > 80 and before < float_acc - 10, (float_acc, before)
    assert after > before + 10, (before, after)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino", "bf16"])
def test_real_backends_run_and_stay_close(tiny, calib, backend, tmp_path):
    q = quantize(tiny, calib, backend, workdir=tmp_path)
    ref = tiny(calib)
    out = q(calib)
    assert out.shape == ref.shape and out.dtype == torch.float32
    # int8 / bf16 keep ~2 significant digits on this net: top-1 mostly agrees
    assert (out - ref).abs().max() < 0.1 * ref.abs().max() + 0.05
    assert (out.argmax(1) == ref.argmax(1)).float().mean() > 0.8


def test_pt2e_reports_why_not():
    status = backend_status()
    assert set(status) == {"fake", "onnxruntime", "openvino", "pt2e", "bf16"}
    if status["pt2e"] != "ok":
        with pytest.raises(BackendUnavailable, match="pt2e"):
            quantize(Tiny().eval(), torch.randn(4, 1, 12, 12), "pt2e")


def test_bad_calibration_and_options(tiny):
    with pytest.raises(ValueError, match=r"expected|must be \(N, 1, H, W\).*got \(8, 3, 12, 12\)"):
        quantize(tiny, torch.randn(8, 3, 12, 12))
    with pytest.raises(ValueError, match=r"got \(8, 144\)"):
        quantize(tiny, torch.randn(8, 144))
    with pytest.raises(ValueError, match="empty"):
        quantize(tiny, [])
    with pytest.raises(ValueError, match="valid: fake, onnxruntime"):
        quantize(tiny, torch.randn(4, 1, 12, 12), "tensorrt")
    with pytest.raises(ValueError, match="valid: minmax, percentile, mse"):
        QuantConfig(method="kl")
    with pytest.raises(ValueError, match="bits=1"):
        QuantConfig(bits=1)
