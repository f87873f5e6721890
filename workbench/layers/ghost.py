"""Ghost modules: half the feature maps from a cheap depthwise op, plus DFC attention.

* GhostNet -- Han et al., "GhostNet: More Features from Cheap Operations" (CVPR 2020): a 1x1
  "primary" conv makes ``ceil(out/ratio)`` intrinsic maps; a depthwise ``dw_size`` conv (the
  "cheap operation") makes the remaining "ghost" maps from them. With ``ratio=2`` this halves the
  1x1 conv's MACs.
* GhostNetV2 -- Tang et al., "GhostNetV2: Enhance Cheap Operation with Long-Range Attention"
  (NeurIPS 2022): DFC attention, a gate built at half resolution from a 1x1 conv and decoupled
  horizontal (1 x k) and vertical (k x 1) depthwise convs, multiplies the Ghost module's output.

Layouts follow timm's ``ghostnet.py`` (itself ported from huawei-noah/Efficient-AI-Backbones).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SqueezeExcite
from .conv import ConvNormAct, make_divisible


class GhostModule(nn.Module):
    """``cat(primary(x), cheap(primary(x)))[:, :out_chs]``.

    Args:
        in_chs, out_chs: channels.
        kernel_size: kernel of the primary conv (1 in GhostNet).
        ratio: ``s`` in the paper; ``1/ratio`` of the outputs come from the primary conv.
        dw_size: kernel of the cheap depthwise op (``d`` in the paper, 3).
        stride: stride of the primary conv.
        act: activation after both convs (``None`` for the linear second module of a bottleneck).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        ratio: int = 2,
        dw_size: int = 3,
        stride: int = 1,
        act: str | None = "relu",
    ) -> None:
        super().__init__()
        if ratio < 2:
            raise ValueError(f"ratio must be >= 2 (1 would leave no ghost maps), got {ratio}")
        self.out_chs = out_chs
        init_chs = math.ceil(out_chs / ratio)
        self.primary_conv = ConvNormAct(in_chs, init_chs, kernel_size, stride, act=act)
        self.cheap_operation = ConvNormAct(
            init_chs, init_chs * (ratio - 1), dw_size, groups=init_chs, act=act
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_conv(x)
        out = torch.cat([x1, self.cheap_operation(x1)], dim=1)
        return out[:, : self.out_chs]  # ceil() may make one map too many


class DFCAttention(nn.Module):
    """Decoupled fully-connected attention gate of GhostNetV2, ``(B, out_chs, H/2, W/2)``.

    avg-pool 2x2 -> 1x1 conv-BN -> (1 x k) depthwise conv-BN -> (k x 1) depthwise conv-BN ->
    sigmoid. The caller upsamples (nearest) to its own resolution.

    Args:
        in_chs, out_chs: channels of the input and of the gate.
        kernel_size: kernel of the 1x1 conv (the Ghost module's primary kernel).
        stride: its stride.
        dfc_size: length ``k`` of the horizontal/vertical depthwise kernels (5 in the paper).
    """

    def __init__(
        self, in_chs: int, out_chs: int, kernel_size: int = 1, stride: int = 1, dfc_size: int = 5
    ) -> None:
        super().__init__()
        pad = dfc_size // 2
        self.short_conv = nn.Sequential(
            nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_chs),
            nn.Conv2d(out_chs, out_chs, (1, dfc_size), 1, (0, pad), groups=out_chs, bias=False),
            nn.BatchNorm2d(out_chs),
            nn.Conv2d(out_chs, out_chs, (dfc_size, 1), 1, (pad, 0), groups=out_chs, bias=False),
            nn.BatchNorm2d(out_chs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.short_conv(F.avg_pool2d(x, kernel_size=2, stride=2)))


class GhostModuleV2(GhostModule):
    """Ghost module whose output is gated by :class:`DFCAttention` (GhostNetV2 "attn" mode).

    Args: as :class:`GhostModule`.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        ratio: int = 2,
        dw_size: int = 3,
        stride: int = 1,
        act: str | None = "relu",
    ) -> None:
        super().__init__(in_chs, out_chs, kernel_size, ratio, dw_size, stride, act)
        self.dfc = DFCAttention(in_chs, out_chs, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.dfc(x)
        out = super().forward(x)
        return out * F.interpolate(gate, size=out.shape[-2:], mode="nearest")


class GhostBottleneck(nn.Module):
    """Ghost bottleneck: Ghost(expand) -> [dw conv-BN if stride 2] -> [SE] -> Ghost(project) + skip.

    The first Ghost module has ReLU, the second is linear (paper Fig. 3). The shortcut is the
    identity when shapes match, else a depthwise conv-BN followed by a 1x1 conv-BN.

    Args:
        in_chs, mid_chs, out_chs: input, expanded and output channels.
        dw_kernel_size: kernel of the strided depthwise conv and of the shortcut's depthwise conv.
        stride: 1 or 2.
        act: activation of the first Ghost module.
        se_ratio: SE bottleneck ratio (0 = no SE); the SE width is rounded to a multiple of 4
            and gated with hard-sigmoid, as in the official code.
        dfc: use :class:`GhostModuleV2` (DFC attention) for the first Ghost module (GhostNetV2).
    """

    def __init__(
        self,
        in_chs: int,
        mid_chs: int,
        out_chs: int,
        dw_kernel_size: int = 3,
        stride: int = 1,
        act: str = "relu",
        se_ratio: float = 0.0,
        dfc: bool = False,
    ) -> None:
        super().__init__()
        ghost = GhostModuleV2 if dfc else GhostModule
        self.ghost1 = ghost(in_chs, mid_chs, act=act)
        self.conv_dw = (
            ConvNormAct(mid_chs, mid_chs, dw_kernel_size, stride, groups=mid_chs, act=None)
            if stride > 1
            else nn.Identity()
        )
        self.se = (
            SqueezeExcite(
                mid_chs,
                rd_channels=make_divisible(mid_chs * se_ratio, 4),
                act="relu",
                gate="hard_sigmoid",
            )
            if se_ratio > 0
            else nn.Identity()
        )
        self.ghost2 = GhostModule(mid_chs, out_chs, act=None)
        if in_chs == out_chs and stride == 1:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                ConvNormAct(in_chs, in_chs, dw_kernel_size, stride, groups=in_chs, act=None),
                ConvNormAct(in_chs, out_chs, 1, act=None),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.ghost1(x)
        x = self.conv_dw(x)
        x = self.se(x)
        x = self.ghost2(x)
        x += self.shortcut(shortcut)
        return x
