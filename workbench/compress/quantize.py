"""Quantization: simulated (fake-quant) at any bit-width, and real int8 through real runtimes.

Uniform affine quantization of a tensor $x$ with scale $s$ and zero point $z$ on $b$ bits:

$$x_q = \\text{clamp}(\\lfloor x / s \\rceil + z,\\ q_{min},\\ q_{max}), \\qquad \\hat{x} = s\\,(x_q - z)$$

symmetric: $z = 0$, $[q_{min}, q_{max}] = [-(2^{b-1}-1), 2^{b-1}-1]$, $s = \\max|x| / q_{max}$;
asymmetric: $[0, 2^b - 1]$, $s = (\\max x - \\min x) / (2^b - 1)$. The range $[\\min, \\max]$ comes
from the calibration ``method``: ``minmax`` (the observed extremes), ``percentile`` (clip the
tails) or ``mse`` (the clipping ratio that minimises $\\|x - \\hat{x}\\|^2$, Nagel et al., "A White
Paper on Neural Network Quantization", 2021, sec. 3.3). Weights per output channel or per tensor;
activations (the inputs of every conv / linear) always per tensor, as integer kernels need.

Backends of :func:`quantize` (:data:`BACKENDS`):

* ``fake`` -- simulated quantization in PyTorch (float kernels, so no speed-up): any bit-width,
  every option above; :func:`qat` fine-tunes it with the straight-through estimator.
* ``onnxruntime`` -- real int8: export to ONNX, ``onnxruntime.quantization.quantize_static``
  (QDQ format, per-channel int8 weights, uint8 activations) calibrated on our tensors.
* ``openvino`` -- real int8: ``nncf.quantize`` on the OpenVINO model, compiled for the CPU plugin.
* ``pt2e`` -- PyTorch 2 export quantization (x86 Inductor quantizer), when this torch offers it.
* ``bf16`` -- bfloat16 weights and activations in PyTorch eager (a data point, not int8).

BatchNorm is folded into the convolutions first (:func:`workbench.reparameterize_model`), as
every deployment does; the caller's model is never modified.
"""

from __future__ import annotations

import copy
import importlib.util
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..deploy import OnnxRuntimeModel, OpenVinoModel, export_onnx, torch_model
from ..layers import reparameterize_model

BACKENDS = ("fake", "onnxruntime", "openvino", "pt2e", "bf16")
METHODS = ("minmax", "percentile", "mse")
BITS = (2, 3, 4, 5, 6, 7, 8)
_MSE_RATIOS = torch.linspace(0.2, 1.0, 33)
_SAMPLE_PER_BATCH = 4096  # activation values kept per calibration batch (percentile / MSE)


class BackendUnavailable(RuntimeError):
    """A quantization backend that this installation does not offer (the message says why)."""


@dataclass(frozen=True)
class QuantConfig:
    """How to fake-quantize.

    Attributes:
        bits: weight bit-width (2..8).
        act_bits: activation bit-width; ``None`` = ``bits``; ``0`` leaves activations in float.
        per_channel: one scale per output channel for weights (else one per tensor).
        symmetric: zero point 0 and a range symmetric around 0 (else affine min..max).
        method: range calibration, one of :data:`METHODS`.
        percentile: for ``method='percentile'``, the kept central mass in % (99.99 clips 0.01 %).
    """

    bits: int = 8
    act_bits: int | None = None
    per_channel: bool = True
    symmetric: bool = True
    method: str = "minmax"
    percentile: float = 99.99

    def __post_init__(self) -> None:
        for name, b in (("bits", self.bits), ("act_bits", self.act_bits)):
            if b is not None and b not in BITS and not (name == "act_bits" and b == 0):
                raise ValueError(f"{name}={b} is not supported; valid: {', '.join(map(str, BITS))}")
        if self.method not in METHODS:
            raise ValueError(f"unknown calibration method {self.method!r}; valid: {', '.join(METHODS)}")
        if not 50 < self.percentile <= 100:
            raise ValueError(f"percentile must be in (50, 100], got {self.percentile}")


def qrange(bits: int, symmetric: bool) -> tuple[int, int]:
    """Integer range: symmetric ``[-(2^(b-1)-1), 2^(b-1)-1]`` (restricted), else ``[0, 2^b-1]``."""
    return (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if symmetric else (0, 2**bits - 1)


def fake_quant(x: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, qmin: int, qmax: int) -> torch.Tensor:
    """Quantize-dequantize ``x``; the gradient passes straight through (STE, identity)."""
    q = torch.clamp(torch.round(x / scale) + zero, qmin, qmax)
    return x + ((q - zero) * scale - x).detach()


def _scale_zero(lo: torch.Tensor, hi: torch.Tensor, bits: int, symmetric: bool):
    qmin, qmax = qrange(bits, symmetric)
    if symmetric:
        scale = torch.maximum(lo.abs(), hi.abs()) / qmax
        zero = torch.zeros_like(scale)
    else:
        lo, hi = torch.clamp(lo, max=0), torch.clamp(hi, min=0)  # 0 must be exact (padding, ReLU)
        scale = (hi - lo) / (qmax - qmin)
        zero = torch.round(qmin - lo / scale.clamp(min=1e-12))
    return scale.clamp(min=1e-12), zero


def qparams(x: torch.Tensor, bits: int, *, symmetric: bool, method: str = "minmax", per_channel: bool = False,
            percentile: float = 99.99) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Scale and zero point of ``x`` (per row of dim 0 when ``per_channel``, shaped to broadcast).

    Returns:
        ``(scale, zero)``, each of shape ``(C, 1, ...)`` per channel or ``()`` per tensor.
    """
    x = x.detach().float()
    rows = x.reshape(x.shape[0], -1) if per_channel else x.reshape(1, -1)
    if method == "percentile":
        if rows.shape[1] > 1_000_000:  # torch.quantile's input limit; a random sample keeps the tails
            rows = rows[:, torch.randperm(rows.shape[1], generator=torch.Generator().manual_seed(0))[:1_000_000]]
        p = percentile / 100
        lo, hi = torch.quantile(rows, 1 - p, dim=1), torch.quantile(rows, p, dim=1)
    else:
        lo, hi = rows.min(1).values, rows.max(1).values
    if method == "mse":
        qmin, qmax = qrange(bits, symmetric)
        best_err = torch.full_like(lo, float("inf"))
        best_lo, best_hi = lo.clone(), hi.clone()
        for r in _MSE_RATIOS:
            s, z = _scale_zero(lo * r, hi * r, bits, symmetric)
            err = ((fake_quant(rows, s[:, None], z[:, None], qmin, qmax) - rows) ** 2).mean(1)
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best_lo, best_hi = torch.where(better, lo * r, best_lo), torch.where(better, hi * r, best_hi)
        lo, hi = best_lo, best_hi
    scale, zero = _scale_zero(lo, hi, bits, symmetric)
    if per_channel:
        shape = (-1,) + (1,) * (x.dim() - 1)
        return scale.reshape(shape), zero.reshape(shape)
    return scale.reshape(()), zero.reshape(())


class QuantLayer(nn.Module):
    """A conv / linear whose weights and input are fake-quantized (see the module docstring).

    Weight ranges are recomputed at every training forward (QAT moves the weights) and cached in
    eval mode; the input range is calibrated once (:meth:`observe`, then :meth:`freeze`).
    """

    def __init__(self, layer: nn.Conv2d | nn.Linear, config: QuantConfig) -> None:
        super().__init__()
        self.layer, self.config = layer, config
        self.act_bits = config.bits if config.act_bits is None else config.act_bits
        self.observing = False
        self._samples: list[torch.Tensor] = []
        self._lo, self._hi = float("inf"), float("-inf")
        self.register_buffer("act_scale", torch.ones(()))
        self.register_buffer("act_zero", torch.zeros(()))
        self._wq: tuple[torch.Tensor, torch.Tensor] | None = None

    def observe(self, x: torch.Tensor) -> None:
        flat = x.detach().reshape(-1).float()
        self._lo, self._hi = min(self._lo, float(flat.min())), max(self._hi, float(flat.max()))
        if flat.numel() > _SAMPLE_PER_BATCH:
            flat = flat[torch.randint(flat.numel(), (_SAMPLE_PER_BATCH,), generator=torch.Generator().manual_seed(len(self._samples)))]
        self._samples.append(flat)

    def freeze(self) -> None:
        """Fix the activation range from what :meth:`observe` saw."""
        c = self.config
        if self.act_bits and self._samples:
            if c.method == "minmax":
                sample = torch.tensor([self._lo, self._hi])
            else:  # the extremes join the sample so min-max inside percentile/MSE is exact
                sample = torch.cat([*self._samples, torch.tensor([self._lo, self._hi])])
            s, z = qparams(sample, self.act_bits, symmetric=c.symmetric, method=c.method, percentile=c.percentile)
            self.act_scale.copy_(s)
            self.act_zero.copy_(z)
        self._samples, self.observing = [], False
        self._wq = None

    def _weight(self) -> torch.Tensor:
        c, w = self.config, self.layer.weight
        if self.training or self._wq is None:
            self._wq = qparams(w, c.bits, symmetric=c.symmetric, method=c.method,
                               per_channel=c.per_channel, percentile=c.percentile)  # fmt: skip
        s, z = self._wq
        return fake_quant(w, s, z, *qrange(c.bits, c.symmetric))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:  # calibration sees the float network, as post-training quantization does
            self.observe(x)
            return self.layer(x)
        if self.act_bits:
            x = fake_quant(x, self.act_scale, self.act_zero, *qrange(self.act_bits, self.config.symmetric))
        w, m = self._weight(), self.layer
        if isinstance(m, nn.Linear):
            return F.linear(x, w, m.bias)
        return m._conv_forward(x, w, m.bias)


def quantizable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Name -> every ``nn.Conv2d`` / ``nn.Linear`` of ``model`` (what the backends quantize)."""
    return {n: m for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


def layer_kind(layer: nn.Module) -> str:
    """``'depthwise'``, ``'pointwise'``, ``'conv KxK'`` or ``'linear'``."""
    if isinstance(layer, nn.Linear):
        return "linear"
    if layer.groups > 1 and layer.groups == layer.in_channels:
        return "depthwise"
    k = layer.kernel_size
    return "pointwise" if tuple(k) == (1, 1) else f"conv {k[0]}x{k[1]}"


def _batches(calibration) -> list[torch.Tensor]:
    if isinstance(calibration, torch.Tensor):
        return list(calibration.split(64))
    return [b[0] if isinstance(b, (tuple, list)) else b for b in calibration]


def check_calibration(model: nn.Module, calibration) -> list[torch.Tensor]:
    """The calibration batches, checked against the model's input (``ValueError`` naming both).

    Args:
        calibration: an ``(N, C, H, W)`` tensor, or an iterable of such tensors or of
            ``(x, y)`` batches.
    """
    batches = _batches(calibration)
    if not batches:
        raise ValueError("the calibration set is empty; give at least one (N, C, H, W) batch")
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    size = getattr(model, "default_input_size", None)
    chans = first.in_channels if first is not None else (size[0] if size else None)
    expected = f"(N, {chans if chans else 'C'}, H, W)" + (f", e.g. (N, {', '.join(map(str, size))})" if size else "")
    for b in batches:
        if not isinstance(b, torch.Tensor) or b.dim() != 4 or (chans and b.shape[1] != chans):
            got = tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
            raise ValueError(f"calibration batches must be {expected}; got {got}")
    return [b.float() for b in batches]


def fake_quantize(model: nn.Module, calibration, config: QuantConfig | None = None, *,
                  layers: Iterable[str] | None = None) -> nn.Module:  # fmt: skip
    """A BN-folded copy of ``model`` with its convs / linears fake-quantized and calibrated.

    Args:
        model: the float model (not modified).
        calibration: see :func:`check_calibration`.
        config: bit-widths, granularity, symmetry, range method (default :class:`QuantConfig`).
        layers: names (from :func:`quantizable_layers` of the folded model) to quantize; the
            others stay float. Default: all.

    Raises:
        ValueError: a bad calibration set, or a layer name that does not exist.
    """
    config = config or QuantConfig()
    batches = check_calibration(model, calibration)
    q = reparameterize_model(model)  # a folded copy
    targets = quantizable_layers(q)
    names = list(targets) if layers is None else list(layers)
    unknown = [n for n in names if n not in targets]
    if unknown:
        raise ValueError(f"no quantizable layer {unknown[0]!r}; valid: {', '.join(targets)}")
    wrapped = []
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = q.get_submodule(parent_name) if parent_name else q
        w = QuantLayer(targets[name], config)
        w.observing = True
        setattr(parent, attr, w)
        wrapped.append(w)
    q.eval()
    with torch.no_grad():
        for b in batches:
            q(b)
    for w in wrapped:
        w.freeze()
    return q


def qat(qmodel: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int = 200, lr: float = 1e-4,
        batch_size: int = 128, seed: int = 0) -> nn.Module:  # fmt: skip
    """Quantization-aware training: a short fine-tune of a :func:`fake_quantize` model (a copy).

    The forward uses the quantized weights and activations; the backward treats rounding as the
    identity (straight-through estimator), so the float weights move to where their quantized
    versions work. Activation ranges stay as calibrated.

    Args:
        qmodel: a fake-quantized model (not modified: a copy is trained and returned).
        x, y: training images ``(N, C, H, W)`` and labels ``(N,)``.
        steps: optimizer steps (Adam); lr: learning rate; batch_size: images per step.
        seed: batch order.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got steps={steps}, batch_size={batch_size}")
    m = copy.deepcopy(qmodel).train()
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(x), (batch_size,), generator=g)
        loss = F.cross_entropy(m(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 500) -> float:
    """Top-1 accuracy (%) of ``model`` on ``(x, y)``."""
    with torch.inference_mode():
        pred = torch.cat([model(b).argmax(1) for b in x.split(batch_size)])
    return 100.0 * float((pred == y).float().mean())


def layer_sensitivity(model: nn.Module, calibration, x: torch.Tensor, y: torch.Tensor,
                      config: QuantConfig | None = None, *, max_layers: int = 0) -> pd.DataFrame:  # fmt: skip
    """Accuracy with ONE layer quantized at a time (the others float): which layers hurt.

    ``max_layers > 0`` tests only the first ``max_layers`` layers (quick runs); 0 tests all.

    Returns:
        one row per layer: ``layer, kind`` (:func:`layer_kind`), ``params, accuracy, accuracy_drop``
        (points below the float model), sorted by ``accuracy_drop`` (worst first).
    """
    config = config or QuantConfig(bits=4)
    base = accuracy(reparameterize_model(model), x, y)
    rows = []
    layers = list(quantizable_layers(reparameterize_model(model)).items())
    for name, layer in layers[:max_layers] if max_layers > 0 else layers:
        acc = accuracy(fake_quantize(model, calibration, config, layers=[name]), x, y)
        rows.append({"layer": name, "kind": layer_kind(layer), "params": layer.weight.numel(), "accuracy": acc, "accuracy_drop": base - acc})
    return pd.DataFrame(rows).sort_values("accuracy_drop", ascending=False, ignore_index=True)


class _Reader:
    """``onnxruntime.quantization.CalibrationDataReader`` over our calibration batches."""

    def __init__(self, batches: Sequence[torch.Tensor], input_name: str) -> None:
        self._it = iter([{input_name: b.numpy()} for b in batches])

    def get_next(self):
        return next(self._it, None)

    def rewind(self):  # some calibrators read twice; ours are materialised once per quantize()
        raise NotImplementedError


def _onnxruntime_int8(model, batches, *, threads, per_channel, exporter, workdir) -> nn.Module:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32 = export_onnx(model, batches[0][:2], workdir / "fp32.onnx", exporter=exporter)
    pre = workdir / "fp32_pre.onnx"
    try:  # shape inference + graph optimisation, as ORT's quantization guide asks
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    except Exception:  # noqa: BLE001 -- pre-processing is an optimisation; quantize the plain export
        pre = fp32
    int8 = workdir / "int8.onnx"
    quantize_static(
        str(pre), str(int8), _Reader(batches, "input"), quant_format=QuantFormat.QDQ,
        per_channel=per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
    )  # fmt: skip
    return OnnxRuntimeModel(int8, threads=threads, default_input_size=getattr(model, "default_input_size", None))


def _openvino_int8(model, batches, *, threads) -> nn.Module:
    import nncf
    import openvino as ov

    x = batches[0]
    with warnings.catch_warnings():  # convert_model traces with torch.jit, which torch deprecates
        warnings.simplefilter("ignore")
        ov_model = ov.convert_model(model, example_input=x[:1], input=[ov.PartialShape([-1, *x.shape[1:]])])
    # The CPU plugin has no int8 kernel for a convolution reading ONE input channel (a grey-scale
    # stem: "No suitable implementations"), so such a layer stays float.
    one_chan = [
        op.get_friendly_name() for op in ov_model.get_ordered_ops()
        if op.get_type_name() == "Convolution" and op.input(0).get_partial_shape()[1] == 1
    ]  # fmt: skip
    samples = [b[i : i + 1].numpy() for b in batches for i in range(len(b))]
    q = nncf.quantize(
        ov_model, nncf.Dataset(samples), subset_size=len(samples),
        ignored_scope=nncf.IgnoredScope(names=one_chan) if one_chan else None,
    )  # fmt: skip
    return OpenVinoModel(q, threads=threads, default_input_size=getattr(model, "default_input_size", None))


def pt2e_status() -> str:
    """``'ok'`` when PyTorch 2 export quantization (x86 Inductor quantizer) is importable, else why not."""
    if importlib.util.find_spec("torch.ao.quantization.quantize_pt2e") is not None:
        return "ok"
    if importlib.util.find_spec("torchao") is not None:
        return "ok"
    return (
        f"torch {torch.__version__} has no torch.ao.quantization.quantize_pt2e (the PT2E flow moved to "
        "the torchao package, not installed): not measured"
    )


def backend_status() -> dict[str, str]:
    """Backend -> ``'ok'`` or the reason it cannot run here (for the notebooks' tables)."""
    status = {b: "ok" for b in BACKENDS}
    for backend, module in (("onnxruntime", "onnxruntime"), ("openvino", "nncf")):
        if importlib.util.find_spec(module) is None:
            status[backend] = f"{module} is not installed"
    status["pt2e"] = pt2e_status()
    return status


def quantize(
    model: nn.Module,
    calibration,
    backend: str = "fake",
    *,
    config: QuantConfig | None = None,
    threads: int = 1,
    exporter: str = "dynamo",
    workdir: str | Path | None = None,
) -> nn.Module:
    """A quantized, runnable copy of ``model``, measured like any other module.

    Args:
        model: the float model (never modified; BatchNorm is folded in the copy).
        calibration: an ``(N, C, H, W)`` tensor or an iterable of batches (see
            :func:`check_calibration`); a few hundred images are enough.
        backend: one of :data:`BACKENDS` (see the module docstring).
        config: for ``'fake'``: bits, granularity, symmetry, range method. The real backends are
            int8 per-channel symmetric weights with min-max calibration, regardless.
        threads: intra-op threads of the ORT / OpenVINO runtime.
        exporter: ONNX exporter for ``'onnxruntime'`` (``'dynamo'`` or ``'torchscript'``).
        workdir: folder for the ONNX files (default: a fresh temporary folder).

    Returns:
        an ``nn.Module`` taking and returning float32 tensors.

    Raises:
        ValueError: unknown backend, or a calibration set of the wrong shape.
        BackendUnavailable: the backend is not offered by this installation (says why).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend == "fake":
        return fake_quantize(model, calibration, config)
    batches = check_calibration(model, calibration)
    reason = backend_status()[backend]
    if reason != "ok":
        raise BackendUnavailable(f"backend {backend!r} is unavailable: {reason}")
    folded = reparameterize_model(model).eval()
    if backend == "bf16":
        return torch_model(folded, "bf16")
    if backend == "pt2e":  # pragma: no cover -- torch 2.14 here has no PT2E module (pt2e_status)
        raise BackendUnavailable("backend 'pt2e': the torchao PT2E flow is not wired up in this workbench")
    if backend == "onnxruntime":
        folder = Path(workdir or tempfile.mkdtemp(prefix="wb-int8-"))
        return _onnxruntime_int8(folded, batches, threads=threads, per_channel=True, exporter=exporter, workdir=folder)
    return _openvino_int8(folded, batches, threads=threads)


def sweep(model: nn.Module, calibration, x: torch.Tensor, y: torch.Tensor, configs: Iterable[QuantConfig]) -> pd.DataFrame:
    """Accuracy (%) of the fake-quantized model for each config, plus the float model's.

    Returns:
        one row per config: ``bits, act_bits, per_channel, symmetric, method, accuracy,
        accuracy_drop`` (points below float; the float row has ``bits = 32``).
    """
    base = accuracy(reparameterize_model(model), x, y)
    rows = [{"bits": 32, "act_bits": 32, "per_channel": None, "symmetric": None, "method": "float", "accuracy": base}]
    for c in configs:
        acc = accuracy(fake_quantize(model, calibration, c), x, y)
        rows.append({"bits": c.bits, "act_bits": c.bits if c.act_bits is None else c.act_bits, "per_channel": c.per_channel,
                     "symmetric": c.symmetric, "method": c.method, "accuracy": acc})  # fmt: skip
    df = pd.DataFrame(rows)
    df["accuracy_drop"] = base - df.accuracy
    return df


def int8_runtimes(model: nn.Module, calibration, *, backends: Sequence[str] = ("onnxruntime", "openvino", "bf16"),
                  threads: int = 1, exporter: str = "dynamo", workdir: str | Path | None = None,
                  ) -> tuple[dict[str, nn.Module], dict[str, str]]:  # fmt: skip
    """Float and quantized versions of ``model`` on each backend's own runtime, ready to time.

    Returns:
        ``({name: module}, {backend: "ok" or why not})`` with names ``"eager fp32"`` (the folded
        PyTorch model, first: the latency baseline), ``"<runtime> fp32"`` and ``"<runtime> int8"``
        for ``onnxruntime`` / ``openvino``, ``"eager bf16"`` for ``bf16``. A backend that is
        unavailable or fails is reported in the status, not raised.
    """
    from ..deploy import onnxruntime_model, openvino_model

    batches = check_calibration(model, calibration)
    folded = reparameterize_model(model).eval()
    folder = Path(workdir or tempfile.mkdtemp(prefix="wb-int8-"))
    status = backend_status()
    models: dict[str, nn.Module] = {"eager fp32": torch_model(folded, "eager")}
    for backend in backends:
        if backend not in BACKENDS or backend == "fake":
            raise ValueError(f"unknown real backend {backend!r}; valid: {', '.join(b for b in BACKENDS if b != 'fake')}")
        if status[backend] != "ok":
            continue
        try:
            if backend == "onnxruntime":
                int8 = quantize(folded, batches, "onnxruntime", threads=threads, exporter=exporter, workdir=folder)
                models["onnxruntime fp32"] = onnxruntime_model(folder / "fp32.onnx", threads=threads)
                models["onnxruntime int8"] = int8
            elif backend == "openvino":
                models["openvino fp32"] = openvino_model(folded, batches[0][:2], threads=threads)
                models["openvino int8"] = quantize(folded, batches, "openvino", threads=threads)
            elif backend == "bf16":
                models["eager bf16"] = quantize(folded, batches, "bf16")
        except Exception as e:  # noqa: BLE001 -- one broken backend must not hide the others' numbers
            status[backend] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
    for m in models.values():
        if getattr(model, "default_input_size", None) is not None:
            m.default_input_size = tuple(model.default_input_size)
    return models, status


def as_tensors(loader) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``(x, y)`` batches of a loader concatenated: ``(N, C, H, W)`` images, ``(N,)`` labels."""
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)
