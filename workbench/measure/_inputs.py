"""Turn ``input_size`` arguments into example tensors, the same way for every measurement."""

from __future__ import annotations

import torch
from torch import nn


def resolve_input_size(model: nn.Module, input_size) -> tuple[int, ...]:
    """``(C, H, W)`` or ``(B, C, H, W)``; ``None`` means ``model.default_input_size``."""
    if input_size is None:
        input_size = getattr(model, "default_input_size", None)
        if input_size is None:
            raise ValueError("input_size not given and the model has no default_input_size")
    size = tuple(int(s) for s in input_size)
    if len(size) not in (3, 4) or any(s <= 0 for s in size):
        raise ValueError(f"input_size must be (C, H, W) or (B, C, H, W) with positive sizes, got {input_size}")
    return size


def make_input(model: nn.Module, input_size, batch_size: int = 1, *, channels_last: bool = False) -> torch.Tensor:
    """An example input on the model's device and dtype (seeded, so counts never vary)."""
    if isinstance(input_size, torch.Tensor):
        return input_size
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    size = resolve_input_size(model, input_size)
    if callable(getattr(model, "example_input", None)):  # token-id models (tiny_lm) make their own
        return model.example_input(size, batch_size)
    if len(size) == 3:
        size = (batch_size, *size)
    p = next(iter(model.parameters()), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(size, generator=gen).to(device=device, dtype=dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x
