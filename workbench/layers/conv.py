"""Convolution building blocks shared by every CNN in the zoo.

* :func:`make_divisible` -- channel rounding of MobileNetV2 (Sandler et al. 2018), used by every
  width multiplier in the zoo so that scaled channels stay hardware friendly (multiples of 8).
* :class:`ConvNormAct` -- conv -> BatchNorm -> activation, the unit of almost every mobile CNN.
"""

from __future__ import annotations

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
