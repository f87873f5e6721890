"""Channel shuffle and the ShuffleNetV2 unit.

Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design"
(ECCV 2018). The unit follows the paper's guidelines: equal input/output widths of the 1x1
convs (G1), no group convs (G2), few branches (G3), no element-wise add (G4). A *channel split*
sends half the channels through untouched; a *channel shuffle* after the concat mixes the two
halves so information crosses branches in the next unit. Layout as torchvision's
``shufflenetv2.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from .conv import ConvNormAct


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
