"""RegNetX: stage widths and depths generated from four numbers (the RegNet design space).

Radosavovic et al., "Designing Network Design Spaces" (CVPR 2020). Instead of a hand-written
table, a RegNet is defined by ``(w_0, w_a, w_m, d, g)`` (Sec. 3.3, Eqs. 2-4):

1. a *linear* width per block, ``u_j = w_0 + w_a * j`` for ``j = 0 .. d-1``;
2. quantized to a *geometric* grid: ``s_j = round(log(u_j / w_0) / log(w_m))`` and
   ``w_j = w_0 * w_m ** s_j``, rounded to a multiple of 8;
3. blocks with equal width form a stage (so the number of stages is an outcome, 4 for the
   published models), and each stage's width is made divisible by its group width ``g``.

:func:`regnet_widths` is that generator (public: the design_spaces notebook samples it);
:class:`RegNet` builds stem (3x3 s2, 32 ch) -> stages of :class:`~workbench.layers.regnet.XBlock`
(first block of each stage stride 2) -> global pool -> linear, as pycls and timm do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from torch import nn

from ..layers.conv import ConvNormAct, scale_channels
from ..layers.regnet import XBlock
from ._base import Classifier
from ._factory import register_model


@dataclass(frozen=True)
class RegNetParams:
    """A point of the RegNet design space (paper Sec. 3.3).

    Attributes:
        w0: initial width ``w_0`` (> 0, a multiple of 8).
        wa: width slope ``w_a`` (>= 0), channels added per block before quantization.
        wm: width multiplier ``w_m`` (> 1) between consecutive stages.
        depth: number of blocks ``d`` (>= 1).
        group_width: channels per group ``g`` of the 3x3 group convs (>= 1).
        bottle_ratio: bottleneck ratio ``b`` (RegNetX: 1).
    """

    w0: int
    wa: float
    wm: float
    depth: int
    group_width: int
    bottle_ratio: float = 1.0

    def __post_init__(self) -> None:
        if not (self.w0 > 0 and self.w0 % 8 == 0):
            raise ValueError(f"w0 must be a positive multiple of 8, got {self.w0}")
        if self.wa < 0:
            raise ValueError(f"wa must be >= 0, got {self.wa}")
        if self.wm <= 1:
            raise ValueError(f"wm must be > 1, got {self.wm}")
        if self.depth < 1:
            raise ValueError(f"depth must be >= 1, got {self.depth}")
        if self.group_width < 1:
            raise ValueError(f"group_width must be >= 1, got {self.group_width}")


@dataclass(frozen=True)
class RegNetStage:
    """One generated stage: ``depth`` X blocks of ``width`` channels, groups of ``group_width``."""

    width: int
    depth: int
    group_width: int
    bottle_ratio: float = 1.0


def regnet_block_widths(p: RegNetParams, quant: int = 8) -> list[int]:
    """Per-block widths ``w_j`` (Eqs. 2-3): linear widths snapped to the geometric grid ``w_0 w_m^k``.

    Float64 numpy arithmetic as the reference implementation (pycls ``generate_regnet``).
    """
    u = np.arange(p.depth) * p.wa + p.w0  # continuous (linear) widths
    k = np.round(np.log(u / p.w0) / np.log(p.wm))  # grid index of each block
    w = p.w0 * np.power(p.wm, k)
    return (np.round(w / quant) * quant).astype(int).tolist()


def regnet_widths(p: RegNetParams, quant: int = 8) -> tuple[RegNetStage, ...]:
    """Stages of the RegNet defined by ``p``: blocks of equal width grouped, widths made group-compatible.

    Args:
        p: the design-space point.
        quant: widths are multiples of this (8).

    Returns:
        One :class:`RegNetStage` per distinct width, in order. Where a stage is narrower
        than ``g`` the group width shrinks to the stage's bottleneck width; the bottleneck width
        is then rounded to a multiple of the group width (pycls
        ``adjust_ws_gs_comp``), so widths can move slightly off the multiple of 8.

    Example: ``regnet_widths(RegNetParams(24, 36.44, 2.49, 13, 8))`` gives RegNetX-200MF:
    widths (24, 56, 152, 368), depths (1, 1, 4, 7).
    """
    widths = regnet_block_widths(p, quant)
    stages: list[RegNetStage] = []
    for w in dict.fromkeys(widths):  # distinct widths, in order (they never decrease)
        depth = widths.count(w)
        mid = int(w * p.bottle_ratio)
        g = min(p.group_width, mid)
        mid = int(round(mid / g) * g)
        stages.append(RegNetStage(int(mid / p.bottle_ratio), depth, g, p.bottle_ratio))
    return tuple(stages)


class RegNet(Classifier):
    """RegNet classifier: stem -> generated stages of X blocks -> global average pool -> linear.

    Args:
        params: the design-space point (:class:`RegNetParams`).
        width_mult: channel multiplier on every stage width (``scale_channels``, divisor 8,
            then re-rounded to the group width) and on the stem; ``None`` = the paper's widths.
        num_classes, in_chans: classifier outputs and input channels.
        stem_chs: stem width (32 in every RegNet).
        act: activation name.
        drop_rate: dropout before the classifier (0, as pycls/timm).
        small_input: for 28-32 px inputs, the stem and the first stage use stride 1, so the
            total stride is 8 instead of 32.
    """

    def __init__(
        self,
        params: RegNetParams,
        width_mult: float | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem_chs: int = 32,
        act: str = "relu",
        drop_rate: float = 0.0,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        stages = regnet_widths(params)
        stem_chs = scale_channels(stem_chs, width_mult)
        self.stem = ConvNormAct(in_chans, stem_chs, 3, 1 if small_input else 2, act=act)
        blocks, prev = [], stem_chs
        for i, st in enumerate(stages):
            mid = scale_channels(int(st.width * st.bottle_ratio), width_mult)
            mid = max(st.group_width, int(round(mid / st.group_width) * st.group_width))
            width = int(mid / st.bottle_ratio)
            stride = 1 if (small_input and i == 0) else 2
            layers = []
            for j in range(st.depth):
                layers.append(XBlock(prev, width, stride if j == 0 else 1, st.group_width, st.bottle_ratio, act))
                prev = width
            blocks.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*blocks)
        self.init_head(prev, num_classes, drop_rate)
        self._init_weights()

    def _init_weights(self) -> None:
        # pycls/timm: He (fan-out) convs, unit BN but zero gamma on each block's last BN (the
        # residual branch starts as zero), small-normal classifier.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, XBlock):
                nn.init.zeros_(m.conv3[1].weight)


#: RegNetX-200MF and -400MF, paper Appendix Table (w_0, w_a, w_m, d, g) as in pycls configs
REGNETX_002 = RegNetParams(w0=24, wa=36.44, wm=2.49, depth=13, group_width=8)
REGNETX_004 = RegNetParams(w0=24, wa=24.48, wm=2.54, depth=22, group_width=16)
_PAPER = "Radosavovic et al., Designing Network Design Spaces, CVPR 2020"
_TAGS = ("scaling_design_spaces", "nas")


def create_regnet(
    base: RegNetParams,
    width_mult: float | None = None,
    *,
    w0: int | None = None,
    wa: float | None = None,
    wm: float | None = None,
    depth: int | None = None,
    group_width: int | None = None,
    **kwargs,
) -> RegNet:
    """``base`` with any of its design-space parameters replaced, built as a :class:`RegNet`.

    So every point of the design space is a registry name plus plain-number keyword
    arguments (what the model bank keys on): ``create_model('regnetx_002', wa=20.0, depth=10)``.

    Raises:
        ValueError: an override leaves the design space (see :class:`RegNetParams`).
    """
    overrides = dict(w0=w0, wa=wa, wm=wm, depth=depth, group_width=group_width)
    params = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    return RegNet(params, width_mult=width_mult, **kwargs)


@register_model(reference="timm:regnetx_002", paper=_PAPER, tags=_TAGS)
def regnetx_002(width_mult: float | None = None, **kwargs) -> nn.Module:
    """RegNetX-200MF: (w_0, w_a, w_m, d, g) = (24, 36.44, 2.49, 13, 8); each can be overridden."""
    return create_regnet(REGNETX_002, width_mult, **kwargs)


@register_model(reference="timm:regnetx_004", paper=_PAPER, tags=_TAGS)
def regnetx_004(width_mult: float | None = None, **kwargs) -> nn.Module:
    """RegNetX-400MF: (w_0, w_a, w_m, d, g) = (24, 24.48, 2.54, 22, 16); each can be overridden."""
    return create_regnet(REGNETX_004, width_mult, **kwargs)
