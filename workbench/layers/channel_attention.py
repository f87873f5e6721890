"""Channel attention: Squeeze-and-Excitation and ECA.

technique: channel_attention

* Squeeze-and-Excitation -- Hu et al., "Squeeze-and-Excitation Networks" (CVPR 2018); used in
  MnasNet, MobileNetV3 (hard-sigmoid gate), EfficientNet (SiLU, reduction on block input),
  GhostNet, LCNet.
* CBAM -- Woo et al., "CBAM: Convolutional Block Attention Module" (ECCV 2018): SE-style channel
  attention fed by both average- and max-pooled descriptors, followed by a 7x7 spatial gate.
* ECA -- Wang et al., "ECA-Net: Efficient Channel Attention" (CVPR 2020): a 1-D conv across
  channels replaces SE's two FC layers; kernel size adapts to the channel count.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .activations import get_act
from .conv import make_divisible


class SqueezeExcite(nn.Module):
    """x * gate(fc2(act(fc1(mean_hw(x))))).

    Args:
        chs: channels of the tensor being gated.
        rd_ratio: reduction ratio; the bottleneck has ``rd_ratio * (rd_base or chs)`` channels.
        rd_channels: explicit bottleneck width (overrides ``rd_ratio``).
        rd_divisor: round the bottleneck to a multiple of this (MobileNetV3: 8; SE paper: 1).
        rd_base: channels the ratio refers to (EfficientNet uses the block *input* channels).
        act: activation inside the bottleneck; gate: the gating nonlinearity.
    """

    def __init__(
        self,
        chs: int,
        rd_ratio: float = 0.25,
        rd_channels: int | None = None,
        rd_divisor: int = 1,
        rd_base: int | None = None,
        act: str = "relu",
        gate: str = "sigmoid",
    ) -> None:
        super().__init__()
        if rd_channels is None:
            base = rd_base if rd_base is not None else chs
            rd_channels = make_divisible(base * rd_ratio, rd_divisor) if rd_divisor > 1 else max(1, round(base * rd_ratio))
        self.fc1 = nn.Conv2d(chs, rd_channels, 1, bias=True)
        self.act = get_act(act)
        self.fc2 = nn.Conv2d(rd_channels, chs, 1, bias=True)
        self.gate = get_act(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)  # (B, C, 1, 1)
        s = self.fc2(self.act(self.fc1(s)))
        return x * self.gate(s)


class EfficientChannelAttention(nn.Module):
    """ECA: a k-tap 1-D conv over the pooled channel descriptor, no dimensionality reduction.

    ``k = |log2(C)/gamma + beta/gamma|`` rounded to the nearest odd number (paper eq. 12,
    gamma=2, beta=1), unless ``kernel_size`` is given.
    """

    def __init__(self, chs: int, kernel_size: int | None = None, gamma: int = 2, beta: int = 1, gate: str = "sigmoid") -> None:
        super().__init__()
        if kernel_size is None:
            t = int(abs(math.log2(chs) / gamma + beta / gamma))
            kernel_size = max(t if t % 2 else t + 1, 3)
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.gate = get_act(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        s = x.mean((2, 3)).view(b, 1, c)  # channels become a 1-D sequence
        s = self.conv(s).view(b, c, 1, 1)
        return x * self.gate(s)


class CBAM(nn.Module):
    """Channel gate (shared MLP on avg- and max-pooled descriptors) then a spatial gate.

    Args:
        chs: channels; rd_ratio: MLP reduction (paper: 1/16); spatial_kernel: paper uses 7.
    """

    def __init__(self, chs: int, rd_ratio: float = 1 / 16, spatial_kernel: int = 7, act: str = "relu", gate: str = "sigmoid") -> None:
        super().__init__()
        rd = max(1, round(chs * rd_ratio))
        self.fc1 = nn.Conv2d(chs, rd, 1, bias=False)
        self.act = get_act(act)
        self.fc2 = nn.Conv2d(rd, chs, 1, bias=False)
        self.spatial = nn.Conv2d(2, 1, spatial_kernel, padding=spatial_kernel // 2, bias=False)
        self.gate = get_act(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))  # (B, C, 1, 1)
        mx = self.fc2(self.act(self.fc1(x.amax((2, 3), keepdim=True))))
        x = x * self.gate(avg + mx)
        s = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)  # (B, 2, H, W)
        return x * self.gate(self.spatial(s))


class NoAttention(nn.Identity):
    """``attn='none'``: the same block without attention (for ablations)."""

    def __init__(self, chs: int, **kwargs) -> None:
        super().__init__()


_ATTN: dict[str, type[nn.Module]] = {
    "se": SqueezeExcite,
    "eca": EfficientChannelAttention,
    "cbam": CBAM,
    "none": NoAttention,
}


def get_attn(name: str | None, chs: int, **kwargs) -> nn.Module:
    """Channel attention by name (``'se'``, ``'eca'``, ...); ``None`` gives ``nn.Identity``."""
    if name is None:
        return nn.Identity()
    if name not in _ATTN:
        raise ValueError(f"unknown attention {name!r}; valid: {', '.join(sorted(_ATTN))}")
    return _ATTN[name](chs, **kwargs)


def register_attn(name: str, cls: type[nn.Module]) -> None:
    """Add an attention module to the :func:`get_attn` table (used by other layer modules)."""
    if name in _ATTN:
        raise ValueError(f"attention {name!r} already registered")
    _ATTN[name] = cls
