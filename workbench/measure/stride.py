"""A network's total stride, and the rule that an input must not be smaller than it.

A classifier with total stride 32 (MobileNetV2) turns a 224 px image into a 7 x 7 feature map.
Fed a 1 x 1 image, padding keeps every convolution running, so the forward "works" and the MAC
count is that of a network looking at zeros: a number, but a meaningless one. Every measurement
entry point therefore refuses an input side below the total stride, naming the minimum.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from ._inputs import make_input

# Modules that change the spatial size of a feature map (strided convs, pooling windows).
_RESAMPLING = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)

_MEMO: weakref.WeakKeyDictionary[nn.Module, int] = weakref.WeakKeyDictionary()


def total_stride(model: nn.Module, input_size: tuple[int, ...] | None = None) -> int:
    """Input side divided by the smallest feature-map side, at the model's default input.

    Measured, not read from a config: one eval-mode forward at ``input_size`` (default
    ``model.default_input_size``) records the output side of every ``Conv2d`` / ``MaxPool2d`` /
    ``AvgPool2d`` whose input is larger than 1 x 1 (so a 1 x 1 conv after global pooling does
    not count). Memoised per model object.

    Args:
        model: the network.
        input_size: ``(C, H, W)`` to probe at; default ``model.default_input_size``.

    Returns:
        The total stride in pixels (1 for a network that never downsamples, e.g. SR nets).
    """
    if input_size is None and model in _MEMO:
        return _MEMO[model]
    x = make_input(model, input_size, 1)
    side = min(x.shape[-2:])
    smallest = [side]

    def hook(mod, args, out):
        if args and args[0].dim() == 4 and min(args[0].shape[-2:]) > 1 and out.dim() == 4:
            smallest.append(min(out.shape[-2:]))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _RESAMPLING)]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    stride = max(1, round(side / min(smallest)))
    if input_size is None:
        _MEMO[model] = stride
    return stride


def check_resolution(model: nn.Module, input_size: tuple[int, ...], *, name: str | None = None) -> None:
    """Refuse an input whose height or width is below the model's total stride.

    Models without ``default_input_size`` are not checked (there is no reference input to
    probe the stride at).

    Raises:
        ValueError: naming the requested size, the stride and the minimum side.
    """
    if getattr(model, "default_input_size", None) is None:
        return
    h, w = (int(s) for s in input_size[-2:])
    stride = total_stride(model)
    if min(h, w) < stride:
        who = name or getattr(model, "registry_name", type(model).__name__)
        raise ValueError(
            f"input {h}x{w} is smaller than {who}'s total stride {stride} (its last feature map "
            f"would be under one pixel); use a resolution >= {stride}"
        )


__all__ = ["check_resolution", "total_stride"]
