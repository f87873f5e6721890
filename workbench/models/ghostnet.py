"""GhostNet (Han et al., CVPR 2020) and GhostNetV2 (Tang et al., NeurIPS 2022).

MobileNetV3-Large's layout with every inverted residual replaced by a Ghost bottleneck
(:mod:`workbench.layers.cheap_operators`). Matches timm's ``ghostnet.py`` module for module; timm counts
are identical (checked by the zoo tests).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from ..layers.activations import get_act
from ..layers.cheap_operators import GhostBottleneck
from ..layers.conv import ConvNormAct, scale_channels
from ._base import Classifier
from ._factory import register_variant


@dataclass(frozen=True)
class GhostRow:
    """One Ghost bottleneck (paper Table 1).

    Attributes:
        k: depthwise kernel size. exp: expanded (hidden) channels. c: output channels.
        se: SE reduction ratio, 0 = no SE. s: stride.
    """

    k: int
    exp: int
    c: int
    se: float
    s: int


# Paper Table 1 (GhostNet 1.0x at 224 px), grouped into stages as the official code / timm do.
GHOSTNET_STAGES: tuple[tuple[GhostRow, ...], ...] = (
    (GhostRow(3, 16, 16, 0, 1),),
    (GhostRow(3, 48, 24, 0, 2),),
    (GhostRow(3, 72, 24, 0, 1),),
    (GhostRow(5, 72, 40, 0.25, 2),),
    (GhostRow(5, 120, 40, 0.25, 1),),
    (GhostRow(3, 240, 80, 0, 2),),
    (
        GhostRow(3, 200, 80, 0, 1),
        GhostRow(3, 184, 80, 0, 1),
        GhostRow(3, 184, 80, 0, 1),
        GhostRow(3, 480, 112, 0.25, 1),
        GhostRow(3, 672, 112, 0.25, 1),
    ),
    (GhostRow(5, 672, 160, 0.25, 2),),
    (
        GhostRow(5, 960, 160, 0, 1),
        GhostRow(5, 960, 160, 0.25, 1),
        GhostRow(5, 960, 160, 0, 1),
        GhostRow(5, 960, 160, 0.25, 1),
    ),
)


_DIVISOR = 4  # GhostNet rounds widths to multiples of 4 (official code), not 8


class GhostNet(Classifier):
    """GhostNet / GhostNetV2 classifier.

    stem 3x3 s2 conv-BN-ReLU (16 ch) -> Ghost bottleneck stages -> 1x1 conv-BN-ReLU (960 ch) ->
    global average pool -> 1x1 conv with bias (1280 ch) -> ReLU -> dropout -> linear classifier.

    Args:
        stages: rows grouped into stages, at width 1.0.
        width_mult: channel multiplier; every width is ``scale_channels(c, width_mult, 4)``
            (divisor 4 as the official code).
        num_classes, in_chans: classifier outputs and input channels.
        version: ``'v1'`` (GhostNet) or ``'v2'`` (DFC attention in every bottleneck but the first
            two, as the official GhostNetV2 code and timm).
        drop_rate: dropout before the classifier (0.2 in the official code).
        act: activation of stem, bottlenecks and head.
        head_chs: width of the 1x1 head conv (1280).
        small_input: for 28-32 px inputs, the stem conv and the first stride-2 bottleneck
            (24 ch) use stride 1, so the total stride is 8 instead of 32; nothing else changes.
    """

    def __init__(
        self,
        stages: tuple[tuple[GhostRow, ...], ...] = GHOSTNET_STAGES,
        width_mult: float = 1.0,
        num_classes: int = 1000,
        in_chans: int = 3,
        version: str = "v1",
        drop_rate: float = 0.2,
        act: str = "relu",
        head_chs: int = 1280,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        if version not in ("v1", "v2"):
            raise ValueError(f"unknown GhostNet version {version!r}; valid: v1, v2")
        if small_input:
            stages = _first_stride_to_one(stages)
        stem_chs = scale_channels(16, width_mult, _DIVISOR)
        self.stem = ConvNormAct(in_chans, stem_chs, 3, 1 if small_input else 2, act=act)
        prev, blocks, idx = stem_chs, [], 0
        for stage in stages:
            layers = []
            for r in stage:
                dfc = version == "v2" and idx > 1
                mid, out = (scale_channels(c, width_mult, _DIVISOR) for c in (r.exp, r.c))
                layers.append(GhostBottleneck(prev, mid, out, r.k, r.s, act=act, se_ratio=r.se, dfc=dfc))
                prev, idx = out, idx + 1
            blocks.append(nn.Sequential(*layers))
        trunk_chs = scale_channels(stages[-1][-1].exp, width_mult, _DIVISOR)
        blocks.append(ConvNormAct(prev, trunk_chs, 1, act=act))
        self.blocks = nn.Sequential(*blocks)
        self.conv_head = nn.Conv2d(trunk_chs, head_chs, 1, bias=True)
        self.act2 = get_act(act)
        self.init_head(head_chs, num_classes, drop_rate)
        self.trunk_features = trunk_chs  # channels of the feature map (960 at width 1.0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Global average -> 1x1 head conv (with bias) -> act: (B, head_chs)."""
        x = x.mean((2, 3), keepdim=True)  # (B, C, 1, 1): the head conv runs on the pooled vector
        return self.act2(self.conv_head(x)).flatten(1)


def _first_stride_to_one(
    stages: tuple[tuple[GhostRow, ...], ...],
) -> tuple[tuple[GhostRow, ...], ...]:
    """The same table with the first stride-2 row set to stride 1 (``small_input``)."""
    out, done = [], False
    for stage in stages:
        rows = []
        for r in stage:
            if r.s > 1 and not done:
                r, done = replace(r, s=1), True
            rows.append(r)
        out.append(tuple(rows))
    return tuple(out)


def _ghostnet(
    name_width: float, version: str = "v1", width_mult: float | None = None, **kwargs
) -> GhostNet:
    # width_mult replaces the name's width (ghostnet_100 with width_mult=0.5 is ghostnet_050)
    width_mult = name_width if width_mult is None else width_mult
    return GhostNet(width_mult=width_mult, version=version, **kwargs)


_TAGS = ("cheap_operators", "mobile_cnn", "channel_attention")
_PAPER_V1 = "Han et al., GhostNet: More Features from Cheap Operations, CVPR 2020"
_PAPER_V2 = (
    "Tang et al., GhostNetV2: Enhance Cheap Operation with Long-Range Attention, NeurIPS 2022"
)


# name, width, version, paper, docstring
_VARIANTS = (
    ("ghostnet_050", 0.5, "v1", _PAPER_V1, "GhostNet 0.5x."),
    ("ghostnet_100", 1.0, "v1", _PAPER_V1, "GhostNet 1.0x."),
    ("ghostnet_130", 1.3, "v1", _PAPER_V1, "GhostNet 1.3x."),
    ("ghostnetv2_100", 1.0, "v2", _PAPER_V2, "GhostNetV2 1.0x (DFC attention)."),
)
for _name, _width, _version, _paper, _doc in _VARIANTS:
    register_variant(
        _name, _ghostnet, _width, _version, doc=_doc, reference=f"timm:{_name}", paper=_paper,
        tags=_TAGS,
    )  # fmt: skip
