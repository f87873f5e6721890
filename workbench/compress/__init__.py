"""Compression that is measured, not assumed: pruning, quantization, distillation, low rank.

One module per technique, each usable on any zoo model (not just one), each returning a model
whose size, MACs and latency are measured like any other. The original model is never modified
in place unless asked.

Layering: ``compress`` sits above ``train`` (fine-tuning, QAT) and ``measure``, below ``bank``;
notebooks take trained models from the bank and hand them to these functions.
"""

# --- quantization notebook (issue 13, item 2): wb.compress.quantize(...) is the function; the
# module's other names are re-exported here because the function shadows the submodule name ---
from . import quantize as quantize_module  # noqa: E402  (before the function takes the name)
from .quantize import (  # noqa: E402
    BACKENDS,
    METHODS,
    BackendUnavailable,
    QuantConfig,
    accuracy,
    as_tensors,
    backend_status,
    fake_quantize,
    int8_runtimes,
    layer_kind,
    layer_sensitivity,
    qat,
    quantizable_layers,
    quantize,
    sweep,
)

__all__ = [*globals().get("__all__", []), "BACKENDS", "METHODS", "BackendUnavailable", "QuantConfig", "accuracy", "as_tensors",
           "backend_status", "fake_quantize", "int8_runtimes", "layer_kind", "layer_sensitivity", "qat",
           "quantizable_layers", "quantize", "quantize_module", "sweep"]  # fmt: skip
