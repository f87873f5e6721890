"""Deployment runtimes on a tiny CNN: export runs, every runtime agrees with eager, bad input fails clearly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.deploy import (
    RUNTIMES,
    UnsupportedOpError,
    agreement,
    build_runtime,
    export_onnx,
    onnxruntime_model,
)
from workbench.measure import compare_latency


class Tiny(nn.Module):
    """Conv-BN-ReLU, a depthwise conv, a residual add and a linear head: the ops our zoo uses."""

    default_input_size = (3, 16, 16)

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.dw(x).relu()
        return self.head(x.mean((2, 3)))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    m = Tiny().eval()
    with torch.no_grad():  # non-trivial BN statistics, so a wrong fold would show
        m.stem[1].running_mean.uniform_(-0.5, 0.5)
        m.stem[1].running_var.uniform_(0.5, 2.0)
    return m


def test_export_writes_dynamic_batch_onnx(tiny, tmp_path):
    path = export_onnx(tiny, torch.randn(2, 3, 16, 16), tmp_path / "sub" / "tiny.onnx")
    assert path.exists() and path.stat().st_size > 0
    ort_model = onnxruntime_model(path)
    for batch in (1, 8):  # one file serves both batch sizes
        x = torch.randn(batch, 3, 16, 16)
        torch.testing.assert_close(ort_model(x), tiny(x), atol=1e-4, rtol=1e-4)
    assert tiny.training is False


def test_torchscript_exporter_too(tiny, tmp_path):
    x = torch.randn(2, 3, 16, 16)
    path = export_onnx(tiny, x, tmp_path / "ts.onnx", exporter="torchscript")
    torch.testing.assert_close(onnxruntime_model(path)(x), tiny(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["eager", "channels_last", "onnxruntime", "openvino", "eager_bf16", "openvino_bf16"])
def test_runtimes_agree_with_eager(tiny, name):
    x = torch.randn(8, 3, 16, 16)
    rt = build_runtime(name, tiny, x[:2], threads=1)
    out = rt(x)
    assert out.shape == (8, 5) and out.dtype == torch.float32
    # fp32 runtimes agree to float rounding; bf16 keeps ~3 significant digits (8-bit mantissa)
    tol = 5e-2 if "bf16" in name else 1e-4
    torch.testing.assert_close(out, tiny(x), atol=tol, rtol=tol)
    assert rt.default_input_size == tiny.default_input_size


def test_runtime_wrappers_are_timed_interleaved(tiny):
    x = torch.randn(2, 3, 16, 16)
    models = {n: build_runtime(n, tiny, x) for n in ("eager", "onnxruntime", "openvino")}
    df = compare_latency(models, rounds=2, sample_ms=2, warmup_s=0)
    assert list(df.name) == ["eager", "onnxruntime", "openvino"]
    assert (df.ratio > 0).all() and df.ratio.iloc[0] == 1.0


def test_spinning_is_off(tiny):
    rt = onnxruntime_model(tiny, torch.randn(2, 3, 16, 16), threads=2)
    cfg = rt.session.get_session_options().get_session_config_entry
    assert cfg("session.intra_op.allow_spinning") == "0"
    assert cfg("session.inter_op.allow_spinning") == "0"


def test_agreement_detects_a_disagreeing_runtime(tiny):
    x = torch.randn(32, 3, 16, 16)

    def flipped(inp):
        return -tiny(inp)

    rows = {r["name"]: r for r in agreement(tiny, {"same": tiny, "flipped": flipped}, x)}
    assert rows["same"]["max_abs_diff"] == 0 and rows["same"]["top1_agreement"] == 100.0
    assert rows["flipped"]["top1_agreement"] < 50 and rows["flipped"]["max_abs_diff"] > 0


@torch.library.custom_op("wbtest::mystery", mutates_args=())
def _mystery(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


@_mystery.register_fake
def _(x):
    return torch.empty_like(x)


class WithMystery(nn.Module):
    def forward(self, x):
        return _mystery(x) + 1


def test_unsupported_op_names_the_op(tmp_path):
    with pytest.raises(UnsupportedOpError, match=r"wbtest\.mystery.*opset"):
        export_onnx(WithMystery().eval(), torch.randn(2, 3), tmp_path / "m.onnx", dynamic_batch=False)


def test_bad_names(tiny, tmp_path):
    with pytest.raises(KeyError, match="valid: eager"):
        build_runtime("tensorrt", tiny, torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match="valid: dynamo, torchscript"):
        export_onnx(tiny, torch.randn(2, 3, 16, 16), tmp_path / "x.onnx", exporter="jit")
    assert "compile" in RUNTIMES


def test_with_threads_rebuilds_exported_runtimes(tiny):
    from workbench.deploy import with_threads

    x = torch.randn(4, 3, 16, 16)
    for name in ("onnxruntime", "openvino"):
        rt = build_runtime(name, tiny, x[:2], threads=1)
        two = with_threads(rt, 2)
        assert two is not rt and two.threads == 2 and rt.threads == 1
        torch.testing.assert_close(two(x), rt(x), atol=1e-5, rtol=1e-5)
    eager = build_runtime("eager", tiny, x[:2])
    assert with_threads(eager, 2) is eager  # PyTorch threads are the caller's
