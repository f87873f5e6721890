"""Several zoo models on several runtimes, for one interleaved latency run (does the ranking change?)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ..layers import reparameterize_model
from ..models import create_model
from .export import export_onnx
from .runtimes import OnnxRuntimeModel, openvino_model, torch_model

#: Runtimes :func:`zoo_runtimes` can put a zoo model on (fp32 all).
ZOO_RUNTIMES = ("eager", "onnxruntime", "openvino")
SEP = " | "


def zoo_runtimes(
    names: Sequence[str],
    runtimes: Sequence[str] = ZOO_RUNTIMES,
    *,
    resolution: int = 224,
    threads: int = 1,
    exporter: str = "torchscript",
    workdir: str | Path | None = None,
) -> dict[str, nn.Module]:
    """``{"<model> | <runtime>": module}``: each registry model (deploy form, untrained) on each runtime.

    One ONNX export per model serves both ONNX Runtime and OpenVINO (which reads the ONNX file), so
    the two see the same graph. ``exporter`` defaults to the faster TorchScript exporter: a zoo
    sweep exports many models and the exported graph does not depend on the exporter's speed.
    """
    unknown = [r for r in runtimes if r not in ZOO_RUNTIMES]
    if unknown:
        raise ValueError(f"unknown zoo runtime {unknown[0]!r}; valid: {', '.join(ZOO_RUNTIMES)}")
    folder = Path(workdir or tempfile.mkdtemp(prefix="wb-zoo-"))
    out: dict[str, nn.Module] = {}
    for name in names:
        model = reparameterize_model(create_model(name).eval())
        size = (model.default_input_size[0], resolution, resolution)
        x = torch.randn(2, *size)
        onnx = None
        if {"onnxruntime", "openvino"} & set(runtimes):
            onnx = export_onnx(model, x, folder / f"{name}.onnx", exporter=exporter)
        for rt in runtimes:
            if rt == "eager":
                m = torch_model(model, "eager")
            elif rt == "onnxruntime":
                m = OnnxRuntimeModel(onnx, threads=threads)
            else:
                m = openvino_model(onnx, threads=threads)
            m.default_input_size = size
            out[f"{name}{SEP}{rt}"] = m
    return out


def split_names(table: pd.DataFrame) -> pd.DataFrame:
    """A latency table of :func:`zoo_runtimes` names with ``model`` and ``runtime`` columns added."""
    parts = table.name.str.split(SEP, regex=False, expand=True)
    return table.assign(model=parts[0], runtime=parts[1])
