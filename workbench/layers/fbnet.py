"""FBNet's inverted residual (IRF block), as the official code builds it.

technique: mobile_cnn

Wu et al., "FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable Neural
Architecture Search" (CVPR 2019), Fig. 3: 1x1 expansion (grouped in the ``_g2`` candidates)
-> [channel shuffle] -> k x k depthwise -> 1x1 linear projection (grouped alike), residual when
shapes allow. It differs from :class:`~workbench.layers.mobile_cnn.InvertedResidual` in three
ways taken from the official definition (facebookresearch/mobile-vision,
``mobile_cv/arch/fbnet_v2/irf_block.py`` with FBNet-A/B's ``{"bias": True}``):

* every conv has a bias *and* a BatchNorm (the official counts are of weights only, so they
  do not show it);
* with expansion 1 the 1x1 expansion conv is absent (the block is depthwise -> projection);
* the group variant shuffles channels (groups 2) before the depthwise conv, as ShuffleNet does,
  so the two groups of the grouped projection see each other's inputs.
"""

from __future__ import annotations

import torch
from torch import nn

from .activations import get_act
from .cheap_operators import channel_shuffle
from .conv import make_divisible


def conv_bias_bn_act(
    in_chs: int, out_chs: int, kernel_size: int = 1, stride: int = 1, groups: int = 1, act: str | None = "relu"
) -> nn.Sequential:
    """``Conv2d(bias=True) -> BatchNorm2d -> act`` with 'same' padding (FBNet's ``ConvBNRelu``)."""
    return nn.Sequential(
        nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, groups=groups, bias=True),
        nn.BatchNorm2d(out_chs),
        get_act(act),
    )


class IRFBlock(nn.Module):
    """FBNet inverted residual: [1x1 conv] -> [shuffle] -> k x k depthwise -> 1x1 linear conv (+ skip).

    Args:
        in_chs, out_chs: channels.
        kernel_size: depthwise kernel (3 or 5 in FBNet's space).
        stride: depthwise stride.
        exp_ratio: expansion; hidden width ``make_divisible(in_chs * exp_ratio, 8)``. When that
            equals ``in_chs`` (expansion 1) there is no expansion conv.
        groups: groups of both 1x1 convs (1, or 2 for FBNet's ``ir_k*_g2`` candidates, which
            also shuffle channels before the depthwise conv).
        act: activation after the expansion and depthwise convs.

    Raises:
        ValueError: ``groups`` does not divide the channels of the 1x1 convs.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        exp_ratio: float = 6.0,
        groups: int = 1,
        act: str | None = "relu",
    ) -> None:
        super().__init__()
        mid_chs = make_divisible(in_chs * exp_ratio)
        if groups < 1 or in_chs % groups or mid_chs % groups or out_chs % groups:
            raise ValueError(f"groups={groups} must divide the channels {in_chs}, {mid_chs}, {out_chs}")
        self.has_skip = stride == 1 and in_chs == out_chs
        self.groups = groups
        self.conv_pw = conv_bias_bn_act(in_chs, mid_chs, 1, groups=groups, act=act) if mid_chs != in_chs else nn.Identity()
        self.conv_dw = conv_bias_bn_act(mid_chs, mid_chs, kernel_size, stride, groups=mid_chs, act=act)
        self.conv_pwl = conv_bias_bn_act(mid_chs, out_chs, 1, groups=groups, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chs, H, W) -> (B, out_chs, H / stride, W / stride)."""
        y = self.conv_pw(x)
        if self.groups > 1:
            y = channel_shuffle(y, self.groups)
        y = self.conv_pwl(self.conv_dw(y))
        return x + y if self.has_skip else y
