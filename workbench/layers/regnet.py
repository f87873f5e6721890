"""RegNet's X block: a ResNet bottleneck whose 3x3 conv is a group conv of fixed group width.

technique: scaling_design_spaces

Radosavovic et al., "Designing Network Design Spaces" (CVPR 2020), Sec. 3 and Fig. 4: the
AnyNetX design space is stem -> stages of X blocks -> head, and every X block is

    1x1 conv (w -> w*b) -> 3x3 group conv (groups of ``g`` channels, stride s) -> 1x1 conv
    (w*b -> w), each followed by BN; ReLU after the first two and after the residual sum.

The shortcut is the identity, or a strided 1x1 conv + BN when the shape changes (the first
block of a stage). RegNetX uses bottleneck ratio ``b = 1`` and no SE (RegNetY adds SE).
The block knows nothing about how its widths were chosen: that is the design-space
generator, :func:`workbench.models.regnet.regnet_widths`.
"""

from __future__ import annotations

import torch
from torch import nn

from .activations import get_act
from .conv import ConvNormAct


class XBlock(nn.Module):
    """``act(conv3(conv2(conv1(x))) + shortcut(x))`` with a grouped 3x3 ``conv2``.

    Args:
        in_chs, out_chs: channels.
        stride: stride of the 3x3 conv (and of the projection shortcut).
        group_width: channels per group of the 3x3 conv (RegNet's ``g``); must divide the
            bottleneck width.
        bottle_ratio: bottleneck width ``round(out_chs * bottle_ratio)`` (RegNetX: 1).
        act: activation name.

    Raises:
        ValueError: ``group_width`` does not divide the bottleneck width.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        group_width: int = 8,
        bottle_ratio: float = 1.0,
        act: str = "relu",
    ) -> None:
        super().__init__()
        mid = int(round(out_chs * bottle_ratio))
        if group_width < 1 or mid % group_width:
            raise ValueError(f"group_width={group_width} must divide the bottleneck width {mid}")
        self.conv1 = ConvNormAct(in_chs, mid, 1, act=act)
        self.conv2 = ConvNormAct(mid, mid, 3, stride, groups=mid // group_width, act=act)
        self.conv3 = ConvNormAct(mid, out_chs, 1, act=None)
        # Projection only where the residual's shape changes (ResNet option B).
        self.shortcut = (
            ConvNormAct(in_chs, out_chs, 1, stride, act=None)
            if stride != 1 or in_chs != out_chs
            else nn.Identity()
        )
        self.act = get_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x))
