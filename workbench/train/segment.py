"""Segmenter training on Fashion-MNIST mosaics, for :func:`workbench.bank.cached_train`.

:func:`train_segmenter` trains any ``(B, C, H, W) -> (B, K, H, W)`` segmenter with per-pixel
cross-entropy on the mosaics' semantic masks (0 = background, ``label + 1`` = item), AdamW and a
one-cycle schedule, horizontal flips as the only augmentation, and returns a JSON history.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data.mosaics import mosaics
from .loop import run_steps

__all__ = ["train_segmenter"]


def train_segmenter(
    model: nn.Module, *, n_train: int = 2000, size: int = 96, steps: int = 200, batch_size: int = 16,
    lr: float = 3e-3, weight_decay: float = 1e-4, seed: int = 0, threads: int | None = None, log_every: int = 10,
) -> dict:  # fmt: skip
    """Train ``model`` in place on ``n_train`` training mosaics of ``size`` px for ``steps`` steps.

    Args:
        model: maps (B, 1, size, size) to (B, 11, size, size) logits.
        n_train: training canvases (from the Fashion-MNIST training split).
        size: canvas side in pixels.
        steps: optimizer steps of ``batch_size`` canvases.
        lr: peak learning rate of the one-cycle schedule; weight_decay: AdamW decay.
        seed: seed of the batch order and flips.
        threads: intra-op threads during training.
        log_every: record the mean loss every this many steps.

    Returns:
        ``{"loss": [...], "loss_every", "steps", "images", "seconds", "images_per_s"}``.
    """
    if steps < 1 or batch_size < 1 or n_train < 1:
        raise ValueError(f"steps, batch_size and n_train must be >= 1, got {steps}, {batch_size}, {n_train}")
    data = mosaics(n_train, size=size, split="train")
    gen = torch.Generator().manual_seed(seed)
    def batch_loss(step: int) -> torch.Tensor:
        idx = torch.randint(len(data), (batch_size,), generator=gen)
        x, y = data.images[idx], data.semantic[idx]
        if torch.rand((), generator=gen) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        return F.cross_entropy(model(x), y)

    return run_steps(model, batch_loss, steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                     log_every=log_every, threads=threads, task="segmentation")
