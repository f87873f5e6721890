"""ReXNet's block: an inverted residual with a partial (channel-padded) residual and SE + BN.

technique: mobile_cnn

Han et al., "Rethinking Channel Dimensions for Efficient Model Design" (ReXNet, CVPR 2021).
The paper studies the *rank* of layer outputs and draws three design rules (Sec. 3-4):

* expand channels a little at every block (the linear channel-increase rule lives in the
  model, :func:`workbench.models.rexnet.rexnet_channels`), so that each block's output has
  more channels than its input;
* use a rank-raising nonlinearity after the expansion: SiLU (swish) after the 1x1 expansion
  conv, ReLU6 only after the depthwise conv;
* as MobileNetV2, keep the 1x1 projection linear.

Because output channels grow block by block, the residual is *partial*: the input is added to
the first ``in_chs`` output channels and the new channels pass through (``stride == 1`` and
``in_chs <= out_chs``). The SE module (ratio 1/12 of the expanded width) has a BatchNorm in
its bottleneck, as the official code.
"""

from __future__ import annotations

import torch
from torch import nn

from .activations import get_act
from .conv import ConvNormAct, make_divisible


class SqueezeExciteBN(nn.Module):
    """``x * sigmoid(fc2(relu(BN(fc1(mean_hw(x))))))``: SE with a BatchNorm in the bottleneck.

    Args:
        chs: channels of the gated tensor.
        rd_channels: bottleneck width.
        act: activation inside the bottleneck.
    """

    def __init__(self, chs: int, rd_channels: int, act: str = "relu") -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(chs, rd_channels, 1)
        self.bn = nn.BatchNorm2d(rd_channels)
        self.act = get_act(act)
        self.fc2 = nn.Conv2d(rd_channels, chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.fc2(self.act(self.bn(self.fc1(x.mean((2, 3), keepdim=True)))))  # (B, C, 1, 1)
        return x * torch.sigmoid(s)


class LinearBottleneck(nn.Module):
    """[1x1 expand + SiLU] -> 3x3 depthwise + BN -> [SE] -> ReLU6 -> 1x1 linear projection (+ partial skip).

    Args:
        in_chs, out_chs: channels.
        stride: depthwise stride.
        exp_ratio: expansion (1 = no expansion conv, the first block).
        se_ratio: SE bottleneck ``int(mid * se_ratio)`` (0 = no SE).
        ch_div: round the expanded and SE widths to multiples of this (1 in ReXNet-1.0).
        act: activation after the expansion conv (SiLU).
        dw_act: activation after the depthwise conv and SE (ReLU6).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        exp_ratio: float = 1.0,
        se_ratio: float = 0.0,
        ch_div: int = 1,
        act: str = "silu",
        dw_act: str = "relu6",
    ) -> None:
        super().__init__()
        self.use_shortcut = stride == 1 and in_chs <= out_chs
        self.in_chs = in_chs
        mid = make_divisible(round(in_chs * exp_ratio), ch_div) if exp_ratio != 1.0 else in_chs
        self.conv_exp = ConvNormAct(in_chs, mid, 1, act=act) if exp_ratio != 1.0 else nn.Identity()
        self.conv_dw = ConvNormAct(mid, mid, 3, stride, groups=mid, act=None)
        self.se = SqueezeExciteBN(mid, make_divisible(int(mid * se_ratio), ch_div)) if se_ratio > 0 else nn.Identity()
        self.act_dw = get_act(dw_act)
        self.conv_pwl = ConvNormAct(mid, out_chs, 1, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv_pwl(self.act_dw(self.se(self.conv_dw(self.conv_exp(x)))))
        if not self.use_shortcut:
            return y
        c = self.in_chs  # add the input to the first c channels; the extra channels are new
        return torch.cat([y[:, :c] + x, y[:, c:]], dim=1)
