"""Effective receptive field (ERF) from input gradients, and activation counts.

ERF (Luo et al., NeurIPS 2016; the measure RepLKNet and UniRepLKNet plot): back-propagate from
the centre position of the last feature map (summed over channels) to the input, take
$|\\partial y_{centre} / \\partial x|$ averaged over a batch of real images, and look at where the
gradient mass lies. :func:`erf_area` summarizes a map as the share of input pixels needed to
hold a given share (90 %) of the mass: a wider ERF needs more pixels.

Activations (Dollar et al., "Fast and Accurate Model Scaling", CVPR 2021): the number of
elements in the output tensors of all convolution (and linear) layers of one forward pass,
the cost measure they find to predict GPU run time better than FLOPs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._inputs import make_input

__all__ = ["conv_activations", "effective_receptive_field", "erf_area"]


def effective_receptive_field(model: nn.Module, images: torch.Tensor) -> np.ndarray:
    """Mean absolute input gradient of the centre feature (an (H, W) map, normalized to sum 1).

    Args:
        model: a classifier with ``forward_features`` (image -> (B, C, h, w) map); its mode is
            restored afterwards, it is evaluated in eval mode (BatchNorm uses running stats).
        images: (B, C, H, W) real inputs (normalized as in training).

    Returns:
        float64 (H, W) map of $\\frac{1}{B} \\sum_b \\sum_c |\\partial y_{b, :, h/2, w/2} / \\partial x_{b, c}|$,
        divided by its sum.
    """
    was_training = model.training
    model.eval()
    x = images.detach().clone().float().requires_grad_(True)
    try:
        with torch.enable_grad():
            f = model.forward_features(x)
            if f.ndim != 4:
                raise ValueError(f"forward_features must return a (B, C, h, w) map, got shape {tuple(f.shape)}")
            f[:, :, f.shape[2] // 2, f.shape[3] // 2].sum().backward()
    finally:
        model.train(was_training)
    g = x.grad.abs().sum(1).mean(0).double().numpy()
    return g / g.sum() if g.sum() > 0 else g


def erf_area(erf: np.ndarray, mass: float = 0.9) -> float:
    """Share of pixels (0..1) that hold ``mass`` of the ERF's gradient mass, largest pixels first.

    >>> erf_area(np.array([[0.0, 0.0], [0.0, 1.0]]))
    0.25
    """
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass}")
    v = np.sort(np.asarray(erf, dtype=float).ravel())[::-1]
    if v.sum() <= 0:
        return float("nan")
    k = int(np.searchsorted(np.cumsum(v) / v.sum(), mass - 1e-12)) + 1
    return min(k, v.size) / v.size


def conv_activations(model: nn.Module, input_size=None, *, batch_size: int = 1) -> int:
    """Elements of every ``Conv2d`` and ``Linear`` output in one forward (Dollar et al.'s activations).

    Args:
        model: any module (its mode is restored); use the deploy form, where it matters not:
            BatchNorm and activations are not counted.
        input_size: ``(C, H, W)``; ``None`` = ``model.default_input_size``.
        batch_size: images per forward (the count scales linearly with it).
    """
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    total = {"n": 0}

    def hook(_m, _inputs, output) -> None:
        total["n"] += output.numel()

    handles = [m.register_forward_hook(hook) for m in layers]
    was_training = model.training
    try:
        with torch.inference_mode():
            model.eval()(make_input(model, input_size, batch_size))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total["n"]
