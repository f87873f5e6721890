"""Convolution building blocks shared by every CNN in the zoo.

* :func:`make_divisible` -- channel rounding of MobileNetV2 (Sandler et al. 2018).
* :func:`scale_channels` -- the ONE width-multiplier rule of the zoo: every classifier's
  ``width_mult`` and the SR nets' widths go through it, so scaled channels stay hardware
  friendly (multiples of 8, or of 4 / the head count where an architecture needs it).
* :class:`ConvNormAct` -- conv -> BatchNorm -> activation, the unit of almost every mobile CNN.
"""

from __future__ import annotations

import math

from torch import nn

from .activations import get_act


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Round channels ``v`` to the nearest multiple of ``divisor`` without losing >10 %.

    Identical to the rule in the TensorFlow MobileNet reference code, torchvision and timm.
    """
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def scale_channels(c: int, width_mult: float | None, divisor: int = 8, min_value: int | None = None) -> int:
    """Channels ``c`` (given at width 1.0) at ``width_mult``: ``make_divisible(c * width_mult, divisor)``.

    Args:
        c: channels at width 1.0 (the paper's table).
        width_mult: channel multiplier; ``None`` keeps ``c`` exactly (the paper's width, even
            where ``c`` is not a multiple of ``divisor``).
        divisor: round to a multiple of this (8 for CNNs; 4 for GhostNet, ShuffleNet and the SR
            nets; ``8 * heads`` for EfficientViT's attention stages).
        min_value: smallest result (default ``divisor``).

    Raises:
        ValueError: ``width_mult`` is not a finite number > 0.
    """
    if width_mult is None:
        return c
    if not (math.isfinite(width_mult) and width_mult > 0):
        raise ValueError(f"width_mult must be a finite number > 0, got {width_mult}")
    return make_divisible(c * width_mult, divisor, min_value)


class ConvNormAct(nn.Sequential):
    """``Conv2d(bias=False) -> BatchNorm2d -> act``; padding defaults to 'same' for odd kernels.

    Args:
        in_chs, out_chs: channels.
        kernel_size, stride, groups, dilation: as ``nn.Conv2d``; ``groups=in_chs`` is depthwise.
        act: activation name (see :func:`workbench.layers.activations.get_act`) or ``None``.
        norm: apply BatchNorm (``False`` gives a plain conv with bias).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        act: str | None = "relu",
        norm: bool = True,
        padding: int | None = None,
    ) -> None:
        if padding is None:
            padding = ((stride - 1) + dilation * (kernel_size - 1)) // 2
        super().__init__(
            nn.Conv2d(in_chs, out_chs, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=not norm),
            nn.BatchNorm2d(out_chs) if norm else nn.Identity(),
            get_act(act),
        )
        self.in_chs, self.out_chs, self.stride = in_chs, out_chs, stride
