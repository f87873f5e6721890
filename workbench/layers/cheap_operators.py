"""Cheap operators: Ghost modules and channel shuffle.

technique: cheap_operators

Cheap replacements for dense convolutions: generate part of the feature maps with a cheap
depthwise op (Ghost) or mix grouped channels with a free permutation (shuffle).

* GhostNet -- Han et al., "GhostNet: More Features from Cheap Operations" (CVPR 2020): a 1x1
  "primary" conv makes ``ceil(out/ratio)`` intrinsic maps; a depthwise ``dw_size`` conv (the
  "cheap operation") makes the remaining "ghost" maps from them. With ``ratio=2`` this halves the
  1x1 conv's MACs.
* GhostNetV2 -- Tang et al., "GhostNetV2: Enhance Cheap Operation with Long-Range Attention"
  (NeurIPS 2022): DFC attention, a gate built at half resolution from a 1x1 conv and decoupled
  horizontal (1 x k) and vertical (k x 1) depthwise convs, multiplies the Ghost module's output.
  Ghost layouts follow timm's ``ghostnet.py`` (itself ported from huawei-noah/Efficient-AI-Backbones).
* ShuffleNetV2 -- Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture
  Design" (ECCV 2018). The unit follows the paper's guidelines: equal input/output widths of the
  1x1 convs (G1), no group convs (G2), few branches (G3), no element-wise add (G4). A *channel
  split* sends half the channels through untouched; a *channel shuffle* after the concat mixes the
  two halves so information crosses branches in the next unit. Layout as torchvision's
  ``shufflenetv2.py``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .channel_attention import SqueezeExcite
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

    def __init__(self, in_chs: int, out_chs: int, *args, **kwargs) -> None:
        super().__init__(in_chs, out_chs, *args, **kwargs)
        # the gate sees the input through the primary conv's kernel and stride
        primary = self.primary_conv[0]
        self.dfc = DFCAttention(in_chs, out_chs, primary.kernel_size[0], primary.stride[0])

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


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave ``groups`` channel groups: channel ``g * (C/groups) + i`` moves to ``i * groups + g``.

    Args:
        x: ``(B, C, H, W)`` with ``C`` divisible by ``groups``.
        groups: number of groups (2 in ShuffleNetV2).

    Returns:
        A contiguous tensor of the same shape.
    """
    b, c, h, w = x.shape
    x = x.view(b, groups, c // groups, h, w)  # (B, g, C/g, H, W)
    x = x.transpose(1, 2).contiguous()  # (B, C/g, g, H, W): the copy is the shuffle
    return x.view(b, c, h, w)


def _flat(*blocks: nn.Sequential) -> nn.Sequential:
    """One Sequential of the blocks' layers minus ``nn.Identity``: torchvision's module count,
    which matters for batch-1 CPU latency of a net this small."""
    return nn.Sequential(*(m for b in blocks for m in b if not isinstance(m, nn.Identity)))


class ShuffleV2Block(nn.Module):
    """ShuffleNetV2 unit (paper Fig. 3c, 3d).

    * stride 1: split channels in half; ``branch2`` (1x1 conv-BN-act, 3x3 depthwise conv-BN,
      1x1 conv-BN-act) runs on one half; concat; shuffle.
    * stride 2: no split; ``branch1`` (3x3 depthwise stride-2 conv-BN, 1x1 conv-BN-act) and
      ``branch2`` both see the whole input, each produces ``out_chs / 2``; concat; shuffle.

    Args:
        in_chs, out_chs: channels; with stride 1 they must be equal and even.
        stride: 1 or 2.
        act: activation after the 1x1 convs.

    Raises:
        ValueError: for a stride-1 unit whose widths differ or are odd.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1, act: str = "relu") -> None:
        super().__init__()
        if out_chs % 2:
            raise ValueError(f"out_chs must be even for the channel split, got {out_chs}")
        if stride == 1 and in_chs != out_chs:
            raise ValueError(
                f"a stride-1 unit keeps its width; got in_chs={in_chs}, out_chs={out_chs}"
            )
        self.split = stride == 1
        half = out_chs // 2
        self.branch1 = (
            nn.Identity()
            if self.split
            else _flat(
                ConvNormAct(in_chs, in_chs, 3, stride, groups=in_chs, act=None),
                ConvNormAct(in_chs, half, 1, act=act),
            )
        )
        self.branch2 = _flat(
            ConvNormAct(half if self.split else in_chs, half, 1, act=act),
            ConvNormAct(half, half, 3, stride, groups=half, act=None),
            ConvNormAct(half, half, 1, act=act),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.split:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((self.branch1(x1), self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


# ---------------------------------------------------------------------------------------------
# Drop-in cheap replacements for one 3x3 conv (notebook ``cheap_operators``): spatial shift,
# group conv + shuffle, and the table that builds one by name.
# ---------------------------------------------------------------------------------------------
class Shift(nn.Module):
    """Parameter-free spatial shift (ShiftNet, Wu et al. CVPR 2018; SCNet's fully-1x1 SR net).

    The channels are split into ``kernel_size**2`` groups; group ``g`` moves by one offset of the
    ``k x k`` window (the centre group stays), zero-filled at the border. A following 1x1 conv then
    sees, per output pixel, inputs from the whole window: spatial mixing at zero MACs and zero
    parameters, paid for in memory traffic (one copy of the map).

    Args:
        chs: channels (at least ``kernel_size**2`` so every direction gets a channel).
        kernel_size: odd window size (3 in both papers).
    """

    def __init__(self, chs: int, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size % 2 == 0 or chs < kernel_size**2:
            raise ValueError(
                f"Shift needs an odd kernel_size and chs >= kernel_size**2, got chs={chs}, kernel_size={kernel_size}"
            )
        self.pad = kernel_size // 2
        n = kernel_size**2
        bounds = [chs * i // n for i in range(n + 1)]
        offsets = [(dy, dx) for dy in range(-self.pad, self.pad + 1) for dx in range(-self.pad, self.pad + 1)]
        self.groups = [(bounds[i], bounds[i + 1], *offsets[i]) for i in range(n)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        p = self.pad
        xp = F.pad(x, [p, p, p, p])  # (B, C, H + 2p, W + 2p): zeros shift in at the border
        return torch.cat(
            [xp[:, a:b, p + dy : p + dy + h, p + dx : p + dx + w] for a, b, dy, dx in self.groups], dim=1
        )


class ChannelShuffle(nn.Module):
    """:func:`channel_shuffle` as a module (for ``nn.Sequential`` stacks)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)


def _dw(chs: int, stride: int) -> ConvNormAct:
    return ConvNormAct(chs, chs, 3, stride, groups=chs)


def _group_shuffle(in_chs: int, out_chs: int, stride: int, groups: int) -> nn.Sequential:
    if in_chs % groups or out_chs % groups:
        raise ValueError(f"group conv needs in_chs={in_chs} and out_chs={out_chs} divisible by groups={groups}")
    return nn.Sequential(_dw(in_chs, stride), ConvNormAct(in_chs, out_chs, 1, groups=groups), ChannelShuffle(groups))


#: name -> builder(in_chs, out_chs, stride, groups) of one drop-in replacement for a 3x3
#: conv-BN-ReLU. Each is "spatial mixing, then channel mixing"; they differ in which half is cheap.
CHEAP_BLOCKS = {
    # dense 3x3 conv-BN-ReLU: what every other entry replaces
    "conv": lambda i, o, s, g: ConvNormAct(i, o, 3, s),
    # MobileNetV1: 3x3 depthwise + dense 1x1 (the baseline of the notebook)
    "dwsep": lambda i, o, s, g: nn.Sequential(_dw(i, s), ConvNormAct(i, o, 1)),
    # GhostNet: the dense 1x1 makes half the maps, a 3x3 depthwise "cheap operation" the rest
    "ghost": lambda i, o, s, g: nn.Sequential(_dw(i, s), GhostModule(i, o)),
    # GhostNetV2: the same, gated by DFC attention (long-range, computed at half resolution)
    "ghostv2": lambda i, o, s, g: nn.Sequential(_dw(i, s), GhostModuleV2(i, o)),
    # ShuffleNet V1: the 1x1 becomes a g-group conv; a shuffle lets groups mix in the next block
    "shuffle": _group_shuffle,
    # ShiftNet / SCNet: the depthwise conv becomes a free shift; the stride moves to the 1x1
    "shift": lambda i, o, s, g: nn.Sequential(Shift(i), ConvNormAct(i, o, 1, s)),
}


def cheap_block(name: str, in_chs: int, out_chs: int, stride: int = 1, groups: int = 4) -> nn.Module:
    """One drop-in replacement for a 3x3 conv-BN-ReLU from :data:`CHEAP_BLOCKS`.

    Args:
        name: a key of :data:`CHEAP_BLOCKS`.
        in_chs, out_chs, stride: as the 3x3 conv it replaces.
        groups: groups of the 1x1 conv of ``'shuffle'`` (ShuffleNet V1 uses 3, 4 or 8).

    Raises:
        ValueError: unknown name (naming the valid ones), or widths the block cannot take.
    """
    if name not in CHEAP_BLOCKS:
        raise ValueError(f"unknown cheap block {name!r}; valid: {', '.join(CHEAP_BLOCKS)}")
    return CHEAP_BLOCKS[name](in_chs, out_chs, stride, groups)
