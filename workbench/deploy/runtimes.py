"""Runtimes wrapped as ``nn.Module`` callables ``tensor -> tensor``, timed like any PyTorch model.

Each wrapper is an ``nn.Module`` with no parameters whose ``forward`` runs the model on its
runtime, so :func:`workbench.measure.compare_latency` interleaves an ONNX Runtime session, an
OpenVINO compiled model and a PyTorch module in one run. The numpy conversion at the boundary is
zero-copy for contiguous float32 CPU tensors. Threads are fixed when the runtime is built (the
``threads`` argument of ``compare_latency`` only sets PyTorch's own pool).

Spinning: by default ONNX Runtime's worker threads busy-wait ("spin") after each run, waiting for
the next one. In an interleaved measurement that spinning burns the cores the NEXT model in the
round needs, so ORT looks fast and everyone after it slow. :func:`onnxruntime_model` therefore
turns spinning OFF (``session.intra_op.allow_spinning = 0`` and inter-op likewise); OpenVINO's
CPU plugin does not spin between inferences by default.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .export import export_onnx

#: Precisions a runtime can be asked for (int8 models come from ``workbench.compress.quantize``).
PRECISIONS = ("fp32", "bf16")


def _input_size_of(model) -> tuple[int, ...] | None:
    return getattr(model, "default_input_size", None)


class RuntimeModel(nn.Module):
    """Base of the wrappers: no parameters, a name, the source model's default input size."""

    runtime = "?"

    def __init__(self, default_input_size: tuple[int, ...] | None = None) -> None:
        super().__init__()
        if default_input_size is not None:
            self.default_input_size = tuple(default_input_size)

    def extra_repr(self) -> str:
        return f"runtime={self.runtime!r}"


class OnnxRuntimeModel(RuntimeModel):
    """An ONNX Runtime CPU session as a module (float32 in, float32 out)."""

    runtime = "onnxruntime"

    def __init__(self, onnx_path: str | Path, *, threads: int = 1, default_input_size=None) -> None:
        import onnxruntime as ort

        super().__init__(default_input_size)
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3  # errors only: ORT warns about every unused initializer
        # spinning OFF: see the module docstring (it distorts interleaved timing)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.threads = threads
        self.onnx_path = str(onnx_path)
        self.session = ort.InferenceSession(self.onnx_path, opts, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {self._input: np.ascontiguousarray(x.detach().float().numpy())})[0]
        return torch.from_numpy(out)


class OpenVinoModel(RuntimeModel):
    """An OpenVINO model compiled for the CPU plugin (latency hint, fixed threads)."""

    runtime = "openvino"

    def __init__(self, ov_model, *, threads: int = 1, precision: str = "fp32", default_input_size=None) -> None:
        import openvino as ov

        super().__init__(default_input_size)
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            # fp32 must be asked for: on a CPU with AVX512-BF16 the plugin would otherwise pick bf16
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        }
        self.threads, self.precision = threads, precision
        self.ov_model = ov_model  # kept so that with_threads() can recompile it
        self.compiled = ov.Core().compile_model(ov_model, "CPU", config)
        self._request = self.compiled.create_infer_request()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._request.infer({0: np.ascontiguousarray(x.detach().float().numpy())})
        return torch.from_numpy(np.array(out[0]))


class TorchModel(RuntimeModel):
    """A PyTorch module run eagerly, in channels_last, compiled or in bf16."""

    def __init__(self, model: nn.Module, *, mode: str = "eager") -> None:
        super().__init__(_input_size_of(model))
        if mode not in TORCH_MODES:
            raise ValueError(f"unknown PyTorch mode {mode!r}; valid: {', '.join(TORCH_MODES)}")
        self.runtime = {"eager": "eager"}.get(mode, mode)
        self.mode = mode
        m = model.eval()
        if mode == "channels_last":
            m = m.to(memory_format=torch.channels_last)
        if mode == "bf16":
            m = m.to(torch.bfloat16)
        self.inner = torch.compile(m) if mode == "compile" else m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        if self.mode == "bf16":
            return self.inner(x.to(torch.bfloat16)).float()
        return self.inner(x)


TORCH_MODES = ("eager", "channels_last", "compile", "bf16")


def _copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).eval()


def onnxruntime_model(
    model: nn.Module | str | Path,
    example_input: torch.Tensor | None = None,
    *,
    threads: int = 1,
    exporter: str = "dynamo",
    workdir: str | Path | None = None,
) -> OnnxRuntimeModel:
    """``model`` (a module, exported here, or an ``.onnx`` path) on ONNX Runtime's CPU EP.

    Args:
        model: module to export with :func:`export_onnx`, or an existing ONNX file.
        example_input: ``(B, C, H, W)`` for the export (B >= 2 keeps the batch dynamic).
        threads: intra-op threads (inter-op 1, sequential execution, spinning off).
        exporter: see :data:`workbench.deploy.export.EXPORTERS`.
        workdir: where the ONNX file goes (default: a fresh temporary folder).
    """
    if isinstance(model, (str, Path)):
        return OnnxRuntimeModel(model, threads=threads)
    if example_input is None:
        raise ValueError("onnxruntime_model needs example_input to export a module; got None")
    folder = Path(workdir or tempfile.mkdtemp(prefix="wb-onnx-"))
    path = export_onnx(model, example_input, folder / "model.onnx", exporter=exporter)
    return OnnxRuntimeModel(path, threads=threads, default_input_size=_input_size_of(model))


def openvino_model(
    model: nn.Module | str | Path,
    example_input: torch.Tensor | None = None,
    *,
    threads: int = 1,
    precision: str = "fp32",
) -> OpenVinoModel:
    """``model`` (a module, converted by ``openvino.convert_model``, or an ONNX/IR path) on OpenVINO's CPU plugin.

    Args:
        model: module, or an ``.onnx`` / ``.xml`` file (e.g. an int8 QDQ model).
        example_input: a ``(B, C, H, W)`` tensor for converting a module (the batch stays dynamic).
        threads: ``INFERENCE_NUM_THREADS``; the latency hint is always set.
        precision: ``'fp32'`` or ``'bf16'`` (``INFERENCE_PRECISION_HINT``).
    """
    import openvino as ov

    if isinstance(model, (str, Path)):
        ov_model, size = ov.Core().read_model(str(model)), None
    else:
        if example_input is None:
            raise ValueError("openvino_model needs example_input to convert a module; got None")
        shape = [-1, *example_input.shape[1:]]
        with warnings.catch_warnings():  # convert_model traces with torch.jit, which torch deprecates
            warnings.simplefilter("ignore")
            ov_model = ov.convert_model(_copy(model), example_input=example_input, input=[ov.PartialShape(shape)])
        size = _input_size_of(model)
    return OpenVinoModel(ov_model, threads=threads, precision=precision, default_input_size=size)


def torch_model(model: nn.Module, mode: str = "eager") -> TorchModel:
    """A copy of ``model`` as a :class:`TorchModel` (``mode`` in :data:`TORCH_MODES`)."""
    return TorchModel(_copy(model), mode=mode)


#: Runtime name -> builder ``(model, example_input, threads) -> module``. PyTorch modes use the
#: caller's torch threads (``compare_latency(threads=...)``); ORT and OpenVINO fix their own.
RUNTIMES: dict[str, Callable[..., nn.Module]] = {
    "eager": lambda m, x, threads: torch_model(m, "eager"),
    "channels_last": lambda m, x, threads: torch_model(m, "channels_last"),
    "compile": lambda m, x, threads: torch_model(m, "compile"),
    "eager_bf16": lambda m, x, threads: torch_model(m, "bf16"),
    "onnxruntime": lambda m, x, threads: onnxruntime_model(m, x, threads=threads),
    "openvino": lambda m, x, threads: openvino_model(m, x, threads=threads),
    "openvino_bf16": lambda m, x, threads: openvino_model(m, x, threads=threads, precision="bf16"),
}


def build_runtime(name: str, model: nn.Module, example_input: torch.Tensor, *, threads: int = 1) -> nn.Module:
    """``model`` on runtime ``name`` (a key of :data:`RUNTIMES`); the model is never modified."""
    if name not in RUNTIMES:
        raise KeyError(f"unknown runtime {name!r}; valid: {', '.join(RUNTIMES)}")
    return RUNTIMES[name](model, example_input, threads)


def agreement(
    reference: nn.Module | Callable,
    candidates: Mapping[str, nn.Module | Callable],
    inputs: torch.Tensor,
    *,
    batch_size: int = 256,
) -> list[dict]:
    """Numerical agreement of each candidate with ``reference`` on ``inputs``.

    Returns:
        one dict per candidate: ``name, max_abs_diff`` (largest |logit difference|),
        ``top1_agreement`` (% of inputs whose argmax matches the reference's).
    """
    with torch.inference_mode():
        ref = torch.cat([reference(b) for b in inputs.split(batch_size)]).float()
        rows = []
        for name, cand in candidates.items():
            out = torch.cat([cand(b) for b in inputs.split(batch_size)]).float()
            rows.append(
                {
                    "name": name,
                    "max_abs_diff": float((out - ref).abs().max()),
                    "top1_agreement": 100.0 * float((out.argmax(1) == ref.argmax(1)).float().mean()),
                }
            )
    return rows


def with_threads(model: nn.Module, threads: int) -> nn.Module:
    """The same runtime model with ``threads`` intra-op threads (ORT / OpenVINO are rebuilt; a
    PyTorch module is returned as is: its threads are the caller's ``torch.set_num_threads``)."""
    if isinstance(model, OnnxRuntimeModel):
        out = OnnxRuntimeModel(model.onnx_path, threads=threads)
    elif isinstance(model, OpenVinoModel):
        out = OpenVinoModel(model.ov_model, threads=threads, precision=model.precision)
    else:
        return model
    if hasattr(model, "default_input_size"):
        out.default_input_size = model.default_input_size
    return out


#: :data:`RUNTIMES` name -> ``"<runtime> <precision>"`` label used in the notebooks' tables.
LABELS = {
    "eager": "eager fp32", "channels_last": "channels_last fp32", "compile": "compile fp32",
    "eager_bf16": "eager bf16", "onnxruntime": "onnxruntime fp32", "openvino": "openvino fp32",
    "openvino_bf16": "openvino bf16",
}  # fmt: skip
