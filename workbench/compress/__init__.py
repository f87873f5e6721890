"""Compression that is measured, not assumed: pruning, quantization, distillation, low rank.

One module per technique, each usable on any zoo model (not just one), each returning a model
whose size, MACs and latency are measured like any other. The original model is never modified
in place unless asked.

Layering: ``compress`` sits above ``train`` (fine-tuning, QAT) and ``measure``, below ``bank``;
notebooks take trained models from the bank and hand them to these functions.
"""

# --- quantization notebook (issue 13, item 2) ---
from .quantize import (  # noqa: E402
    BACKENDS,
    BackendUnavailable,
    QuantConfig,
    accuracy,
    backend_status,
    fake_quantize,
    layer_sensitivity,
    qat,
    quantizable_layers,
    quantize,
)
