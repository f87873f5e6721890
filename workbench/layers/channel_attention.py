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

import inspect
import math

import torch
from torch import nn

from .activations import get_act
from .conv import make_divisible


def check_ratio(name: str, value: float) -> float:
    """``value`` if it is a reduction ratio in (0, 1], else ``ValueError`` naming the range."""
    if not (isinstance(value, (int, float)) and 0 < value <= 1):
        raise ValueError(f"{name} must be a ratio in (0, 1], got {value!r}")
    return float(value)


def check_odd_kernel(name: str, value: int) -> int:
    """``value`` if it is an odd int >= 1 (a 'same'-padded kernel), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
        raise ValueError(f"{name} must be an odd int >= 1, got {value!r}")
    return value


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
            check_ratio("rd_ratio", rd_ratio)
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
    gamma=2, beta=1), unless ``k_size`` (the official code's name) is given.

    Args:
        chs: channels of the tensor being gated.
        k_size: odd kernel of the 1-D conv across channels; ``None`` = adaptive (eq. 12).
        gamma, beta: constants of the adaptive rule.
        gate: the gating nonlinearity.

    Raises:
        ValueError: ``k_size`` is not an odd int >= 1.
    """

    def __init__(self, chs: int, k_size: int | None = None, gamma: int = 2, beta: int = 1, gate: str = "sigmoid") -> None:
        super().__init__()
        if k_size is None:
            t = int(abs(math.log2(chs) / gamma + beta / gamma))
            k_size = max(t if t % 2 else t + 1, 3)
        check_odd_kernel("k_size", k_size)
        self.k_size = k_size
        self.conv = nn.Conv1d(1, 1, k_size, padding=(k_size - 1) // 2, bias=False)
        self.gate = get_act(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        s = x.mean((2, 3)).view(b, 1, c)  # channels become a 1-D sequence
        s = self.conv(s).view(b, c, 1, 1)
        return x * self.gate(s)


class CBAM(nn.Module):
    """Channel gate (shared MLP on avg- and max-pooled descriptors) then a spatial gate.

    Args:
        chs: channels.
        rd_ratio: MLP reduction, in (0, 1] (paper: 1/16; SE in MobileNetV3: 1/4).
        spatial_kernel: odd kernel of the spatial gate's conv (paper: 7).
        act: activation inside the MLP; gate: the gating nonlinearity of both gates.

    Raises:
        ValueError: ``rd_ratio`` outside (0, 1] or ``spatial_kernel`` not an odd int >= 1.
    """

    def __init__(self, chs: int, rd_ratio: float = 1 / 16, spatial_kernel: int = 7, act: str = "relu", gate: str = "sigmoid") -> None:
        super().__init__()
        check_ratio("rd_ratio", rd_ratio)
        check_odd_kernel("spatial_kernel", spatial_kernel)
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


def attn_kwargs(name: str) -> list[str]:
    """Keyword arguments the attention called ``name`` accepts (besides ``chs``)."""
    if name not in _ATTN:
        raise ValueError(f"unknown attention {name!r}; valid: {', '.join(sorted(_ATTN))}")
    params = inspect.signature(_ATTN[name]).parameters
    return [p for p in params if p != "chs" and params[p].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]


def get_attn(name: str | None, chs: int, **kwargs) -> nn.Module:
    """Channel attention by name (``'se'``, ``'eca'``, ``'cbam'``, ``'none'``) for ``chs`` channels.

    Args:
        name: a registered attention; ``None`` gives ``nn.Identity``.
        chs: channels of the gated tensor.
        **kwargs: the attention's options, e.g. ``rd_ratio`` (SE, CBAM), ``k_size`` (ECA),
            ``spatial_kernel`` (CBAM); see :func:`attn_kwargs`.

    Raises:
        ValueError: unknown name or option (naming the valid ones), or an option out of range.
    """
    if name is None:
        return nn.Identity()
    valid = attn_kwargs(name)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown and name != "none":
        raise ValueError(f"attention {name!r} has no option {unknown[0]!r}; valid: {', '.join(valid)}")
    return _ATTN[name](chs, **kwargs)


def register_attn(name: str, cls: type[nn.Module]) -> None:
    """Add an attention module to the :func:`get_attn` table (used by other layer modules)."""
    if name in _ATTN:
        raise ValueError(f"attention {name!r} already registered")
    _ATTN[name] = cls
