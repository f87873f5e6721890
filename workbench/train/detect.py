"""Detector training on Fashion-MNIST mosaics, for :func:`workbench.bank.cached_train`.

:func:`train_detector` trains any detector of :mod:`workbench.models.detection` (they all have
``loss(outputs, targets)``) on freshly generated training mosaics with AdamW and a one-cycle
schedule, horizontal flips as the only augmentation, and returns a JSON history.
"""

from __future__ import annotations

import torch
from torch import nn

from ..data.mosaics import mosaics
from .loop import run_steps

__all__ = ["flip_targets", "train_detector"]


def flip_targets(targets: list[dict], size: int) -> list[dict]:
    """Boxes mirrored left-right on a ``size``-px canvas (``x -> size - x``)."""
    out = []
    for t in targets:
        b = t["boxes"].clone()
        b[:, [0, 2]] = size - t["boxes"][:, [2, 0]]
        out.append({"boxes": b, "labels": t["labels"]})
    return out


def train_detector(
    model: nn.Module, *, n_train: int = 2000, size: int = 96, steps: int = 300, batch_size: int = 32,
    lr: float = 3e-3, weight_decay: float = 1e-4, seed: int = 0, threads: int | None = None, log_every: int = 10,
) -> dict:  # fmt: skip
    """Train ``model`` in place on ``n_train`` training mosaics of ``size`` px for ``steps`` steps.

    Args:
        model: a detector with ``loss(outputs, targets)``; its input channels must be 1.
        n_train: training canvases (generated once, from the Fashion-MNIST training split).
        size: canvas side in pixels (the model's ``image_size``).
        steps: optimizer steps of ``batch_size`` canvases.
        lr: peak learning rate of the one-cycle schedule; weight_decay: AdamW decay.
        seed: seed of the batch order and flips (the canvases use the split's fixed seed).
        threads: intra-op threads during training.
        log_every: record the mean loss every this many steps.

    Returns:
        ``{"loss": [...], "loss_every": log_every, "steps", "images", "seconds", "images_per_s"}``.
    """
    if steps < 1 or batch_size < 1 or n_train < 1:
        raise ValueError(f"steps, batch_size and n_train must be >= 1, got {steps}, {batch_size}, {n_train}")
    data = mosaics(n_train, size=size, split="train")
    targets = data.targets()
    gen = torch.Generator().manual_seed(seed)
    def batch_loss(step: int) -> torch.Tensor:
        idx = torch.randint(len(data), (batch_size,), generator=gen)
        x, tg = data.images[idx], [targets[i] for i in idx.tolist()]
        if torch.rand((), generator=gen) < 0.5:  # one flip per batch: cheap, and boxes stay exact
            x, tg = x.flip(-1), flip_targets(tg, size)
        return model.loss(model(x), tg)

    return run_steps(model, batch_loss, steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                     log_every=log_every, threads=threads, task="detection")
