"""Export a PyTorch model to ONNX through ``torch.onnx.export``, with a clear error for unsupported ops."""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from pathlib import Path

import torch
from torch import nn

#: Exporters of ``torch.onnx.export``: ``'dynamo'`` (``torch.export`` based, the default since
#: PyTorch 2.9) and ``'torchscript'`` (the legacy tracer: deprecated, but about 3x faster to export).
EXPORTERS = ("dynamo", "torchscript")
OPSET = 18
INPUT_NAME, OUTPUT_NAME = "input", "output"

_OP_PATTERNS = (
    re.compile(r"No ONNX function found for <OpOverload\(op='([^']+)'"),
    re.compile(r"[Uu]nsupported.*?operator '?([\w:.]+)'?"),
    re.compile(r"Exporting the operator '?([\w:.]+)'? to ONNX"),
)


class UnsupportedOpError(ValueError):
    """The model holds an operator that ``torch.onnx`` cannot translate (named in the message)."""


def _unsupported_op(message: str) -> str | None:
    for pattern in _OP_PATTERNS:
        hit = pattern.search(message)
        if hit:
            return hit.group(1)
    return None


def export_onnx(
    model: nn.Module,
    example_input: torch.Tensor,
    path: str | os.PathLike,
    *,
    exporter: str = "dynamo",
    dynamic_batch: bool = True,
    opset: int = OPSET,
) -> Path:
    """Write ``model`` (in eval mode, on CPU) as an ONNX file with one input and one output.

    Args:
        model: the module; it is not modified (its train/eval mode is restored).
        example_input: ``(B, C, H, W)`` tensor traced through the model. With ``dynamic_batch``
            the batch dimension stays symbolic (use B >= 2: ``torch.export`` specializes B = 1).
        path: the ``.onnx`` file to write (parent folders are created).
        exporter: one of :data:`EXPORTERS`.
        dynamic_batch: keep the batch size free, so one file serves batch 1 and batch 8.
        opset: ONNX opset version.

    Returns:
        the path written. The graph's input is named ``"input"``, its output ``"output"``.

    Raises:
        ValueError: unknown ``exporter``.
        UnsupportedOpError: an operator has no ONNX translation (names the op and the opset).
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown exporter {exporter!r}; valid: {', '.join(EXPORTERS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    kwargs: dict = {"input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME], "opset_version": opset}
    if exporter == "dynamo":
        kwargs |= {"dynamo": True, "verbose": False}
        if dynamic_batch:
            kwargs["dynamic_shapes"] = ({0: torch.export.Dim.DYNAMIC},)
    else:
        kwargs |= {"dynamo": False, "do_constant_folding": True}
        if dynamic_batch:
            kwargs["dynamic_axes"] = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
    try:
        # the dynamo exporter prints its progress; a library function returns data, it does not print
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example_input,), str(path), **kwargs)
    except Exception as e:  # torch.onnx raises several types; re-raise the unsupported-op case clearly
        op = _unsupported_op(str(e))
        if op is None:
            raise
        raise UnsupportedOpError(
            f"cannot export operator {op!r} to ONNX opset {opset} with the {exporter} exporter; "
            "supported: the ATen ops torch.onnx translates (register an ONNX function or replace the op)"
        ) from e
    finally:
        model.train(was_training)
    return path
