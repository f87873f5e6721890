"""Deployment runtimes: export a model and run it where it will run (ONNX Runtime, OpenVINO, ...).

Every runtime is wrapped as a plain callable ``tensor -> tensor`` so the interleaved latency
helpers of :mod:`workbench.measure` time it exactly like a PyTorch model, and numerical agreement
with the eager model is checked, not assumed.

Layering: beside ``compress`` (above ``train`` and ``measure``, below ``bank``).
"""

from .export import EXPORTERS, UnsupportedOpError, export_onnx
from .runtimes import (
    LABELS,
    RUNTIMES,
    TORCH_MODES,
    OnnxRuntimeModel,
    OpenVinoModel,
    RuntimeModel,
    TorchModel,
    agreement,
    build_runtime,
    onnxruntime_model,
    openvino_model,
    torch_model,
    with_threads,
)
from .zoo import ZOO_RUNTIMES, split_names, zoo_runtimes

__all__ = [
    "LABELS",
    "agreement", "build_runtime", "export_onnx", "EXPORTERS", "onnxruntime_model", "OnnxRuntimeModel",
    "openvino_model", "OpenVinoModel", "RUNTIMES", "RuntimeModel", "TORCH_MODES", "TorchModel",
    "torch_model", "UnsupportedOpError", "with_threads", "ZOO_RUNTIMES", "split_names", "zoo_runtimes",
]
