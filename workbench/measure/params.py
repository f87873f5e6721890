"""Parameter counting."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from torch import nn


@dataclass(frozen=True)
class ParamCount:
    """Parameters of a model.

    Attributes:
        total: number of parameters (shared parameters counted once).
        trainable: parameters with ``requires_grad``.
        buffers: elements in buffers (BatchNorm running stats etc.; not parameters).
        by_module: one row per module that *directly* owns parameters:
            ``module, type, params, trainable, buffers``.
    """

    total: int
    trainable: int
    buffers: int
    by_module: pd.DataFrame

    def __str__(self) -> str:
        return f"params {self.total:,} (trainable {self.trainable:,}; buffer elements {self.buffers:,})"


def count_params(model: nn.Module) -> ParamCount:
    """Count parameters and buffer elements, with a per-module table."""
    params = {id(p): p for p in model.parameters()}  # dedupe tied weights
    rows = []
    for name, mod in model.named_modules():
        own = list(mod.parameters(recurse=False))
        bufs = list(mod.buffers(recurse=False))
        if own or bufs:
            rows.append(
                {
                    "module": name or "(root)",
                    "type": type(mod).__name__,
                    "params": sum(p.numel() for p in own),
                    "trainable": sum(p.numel() for p in own if p.requires_grad),
                    "buffers": sum(b.numel() for b in bufs if b.is_floating_point()),
                }
            )
    return ParamCount(
        total=sum(p.numel() for p in params.values()),
        trainable=sum(p.numel() for p in params.values() if p.requires_grad),
        buffers=sum(b.numel() for b in model.buffers() if b.is_floating_point()),
        by_module=pd.DataFrame(rows, columns=["module", "type", "params", "trainable", "buffers"]),
    )
