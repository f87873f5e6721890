"""MobileNetV4 (Qin et al., ECCV 2024): UIB blocks found by NAS, plus Mobile MQA in the hybrids.

Architecture tables as in the paper's appendix and timm's ``_gen_mobilenet_v4``:
each row is one block type, built from :mod:`workbench.layers.uib` (UIB: ExtraDW / IB / ConvNext /
FFN), :class:`~workbench.layers.mobile_cnn.FusedMBConv` (the paper's FusedIB), plain conv-BN-act
and :mod:`workbench.layers.mobile_attention` (Mobile MQA). The head pools first, then a 1x1
conv-BN-act to 1280 channels (MobileNetV3's "efficient last stage", with a BN).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from ..layers.conv import ConvNormAct, scale_channels
from ..layers.mobile_attention import MobileMQABlock
from ..layers.mobile_cnn import FusedMBConv
from ..layers.uib import UniversalInvertedBottleneck
from ._base import Classifier
from ._factory import register_variant
from .mobilenet import _init_weights

_BLOCKS = ("cna", "fused", "uib", "mqa")


@dataclass(frozen=True)
class V4Row:
    """One row of a MobileNetV4 table: ``n`` repeats of a block (stride ``s`` on the first).

    Attributes:
        block: ``'cna'`` conv-BN-act, ``'fused'`` FusedIB, ``'uib'`` UIB, ``'mqa'`` Mobile MQA.
        c: output channels at width 1.0.
        s: stride of the first repeat.
        k: kernel of the conv (``'cna'``, ``'fused'``) or UIB's middle depthwise (0 = none).
        a: UIB's start depthwise kernel (0 = none).
        e: expansion ratio (``'fused'``, ``'uib'``).
        n: repeats.
        heads, key_dim, kv_stride: Mobile MQA's query heads, per-head dim and K/V stride.
    """

    block: str
    c: int
    s: int = 1
    k: int = 3
    a: int = 0
    e: float = 4.0
    n: int = 1
    heads: int = 4
    key_dim: int = 64
    kv_stride: int = 1

    def __post_init__(self) -> None:
        if self.block not in _BLOCKS:
            raise ValueError(f"unknown MobileNetV4 block {self.block!r}; valid: {', '.join(_BLOCKS)}")


# Table shorthands in the paper's vocabulary (timm's block strings: 'cn', 'er', 'uir', 'mqa')
def CN(k: int, s: int, c: int) -> V4Row:
    """Plain conv-BN-act."""
    return V4Row("cna", c, s, k)


def FIB(k: int, s: int, e: float, c: int) -> V4Row:
    """FusedIB: kxk conv expanding by ``e``, then 1x1 projection."""
    return V4Row("fused", c, s, k, e=e)


def UIB(a: int, k: int, s: int, e: float, c: int, n: int = 1) -> V4Row:
    """UIB with start depthwise ``a`` and middle depthwise ``k`` (0 = absent)."""
    return V4Row("uib", c, s, k, a=a, e=e, n=n)


def MQA(heads: int, key_dim: int, c: int, kv_stride: int = 1) -> V4Row:
    """Mobile MQA block (3x3 depthwise K/V downsampling when ``kv_stride > 1``)."""
    return V4Row("mqa", c, 1, 3, heads=heads, key_dim=key_dim, kv_stride=kv_stride)


@dataclass(frozen=True)
class MobileNetV4Spec:
    """A MobileNetV4 as data: stem width, stage table, head width, activation, layer scale.

    Attributes:
        layer_scale: LayerScale init of UIB and MQA blocks (hybrids: 1e-5), ``None`` = off.
    """

    stem_chs: int
    stages: tuple[tuple[V4Row, ...], ...]
    head_chs: int = 1280
    act: str = "relu"
    layer_scale: float | None = None


def _stages(*stages: list[V4Row]) -> tuple[tuple[V4Row, ...], ...]:
    return tuple(tuple(s) for s in stages)


# MNv4-Conv-S. ExtraDW = UIB(a>0, k>0), IB = UIB(0, k>0),
# ConvNext = UIB(a>0, 0), FFN = UIB(0, 0).
CONV_SMALL = MobileNetV4Spec(
    stem_chs=32,
    stages=_stages(
        [CN(3, 2, 32), CN(1, 1, 32)],
        [CN(3, 2, 96), CN(1, 1, 64)],
        [UIB(5, 5, 2, 3, 96), UIB(0, 3, 1, 2, 96, n=4), UIB(3, 0, 1, 4, 96)],
        [UIB(3, 3, 2, 6, 128), UIB(5, 5, 1, 4, 128), UIB(0, 5, 1, 4, 128), UIB(0, 5, 1, 3, 128),
         UIB(0, 3, 1, 4, 128, n=2)],
        [CN(1, 1, 960)],
    ),
)  # fmt: skip

# MNv4-Conv-M
CONV_MEDIUM = MobileNetV4Spec(
    stem_chs=32,
    stages=_stages(
        [FIB(3, 2, 4, 48)],
        [UIB(3, 5, 2, 4, 80), UIB(3, 3, 1, 2, 80)],
        [UIB(3, 5, 2, 6, 160), UIB(3, 3, 1, 4, 160, n=2), UIB(3, 5, 1, 4, 160), UIB(3, 3, 1, 4, 160),
         UIB(3, 0, 1, 4, 160), UIB(0, 0, 1, 2, 160), UIB(3, 0, 1, 4, 160)],
        [UIB(5, 5, 2, 6, 256), UIB(5, 5, 1, 4, 256), UIB(3, 5, 1, 4, 256, n=2), UIB(0, 0, 1, 4, 256),
         UIB(3, 0, 1, 4, 256), UIB(3, 5, 1, 2, 256), UIB(5, 5, 1, 4, 256), UIB(0, 0, 1, 4, 256, n=2),
         UIB(5, 0, 1, 2, 256)],
        [CN(1, 1, 960)],
    ),
)  # fmt: skip

# MNv4-Hybrid-M: Conv-M's trunk with MQA blocks interleaved in the last two stages; the third
# stage's MQAs shrink K/V 2x (14x14 -> 7x7 positions at 224 px input), the fourth's do not.
_MQA3 = MQA(4, 64, 160, kv_stride=2)
_MQA4 = MQA(4, 64, 256)
HYBRID_MEDIUM = MobileNetV4Spec(
    stem_chs=32,
    stages=_stages(
        [FIB(3, 2, 4, 48)],
        [UIB(3, 5, 2, 4, 80), UIB(3, 3, 1, 2, 80)],
        [UIB(3, 5, 2, 6, 160), UIB(0, 0, 1, 2, 160), UIB(3, 3, 1, 4, 160), UIB(3, 5, 1, 4, 160),
         _MQA3, UIB(3, 3, 1, 4, 160), _MQA3, UIB(3, 0, 1, 4, 160), _MQA3, UIB(3, 3, 1, 4, 160),
         _MQA3, UIB(3, 0, 1, 4, 160)],
        [UIB(5, 5, 2, 6, 256), UIB(5, 5, 1, 4, 256), UIB(3, 5, 1, 4, 256, n=2), UIB(0, 0, 1, 2, 256),
         UIB(3, 5, 1, 2, 256), UIB(0, 0, 1, 2, 256), UIB(0, 0, 1, 4, 256), _MQA4, UIB(3, 0, 1, 4, 256),
         _MQA4, UIB(5, 5, 1, 4, 256), _MQA4, UIB(5, 0, 1, 4, 256), _MQA4, UIB(5, 0, 1, 4, 256)],
        [CN(1, 1, 960)],
    ),
    layer_scale=1e-5,
)  # fmt: skip


def _block(row: V4Row, in_chs: int, out_chs: int, stride: int, act: str, layer_scale: float | None) -> nn.Module:
    if row.block == "cna":
        return ConvNormAct(in_chs, out_chs, row.k, stride, act=act)
    if row.block == "fused":
        return FusedMBConv(in_chs, out_chs, row.k, stride, exp_ratio=row.e, act=act)
    if row.block == "uib":
        return UniversalInvertedBottleneck(
            in_chs, out_chs, row.a, row.k, stride, row.e, act=act, layer_scale=layer_scale
        )
    return MobileMQABlock(
        in_chs, out_chs, row.heads, row.key_dim, row.kv_stride, layer_scale=layer_scale
    )


def _first_downsample_to_stride1(stages: tuple[tuple[V4Row, ...], ...]) -> list[list[V4Row]]:
    out = [list(stage) for stage in stages]
    for stage in out:
        for j, row in enumerate(stage):
            if row.s > 1:
                stage[j] = replace(row, s=1)
                return out
    return out


class MobileNetV4(Classifier):
    """Stem (3x3 s2 conv-BN-act) -> stages -> global pool -> 1x1 conv-BN-act head -> linear.

    Args:
        spec: the architecture (:class:`MobileNetV4Spec`).
        num_classes, in_chans: classifier outputs and input channels.
        width_mult: multiplier on stem and block widths (``scale_channels``, divisor 8; the
            1280-wide head and the MQA head dims stay fixed); ``None`` = the paper's widths.
        small_input: for 28-32 px inputs the stem and the first strided block use stride 1, so
            the total stride is 8 instead of 32.
        act: override of the spec's activation.
        drop_rate: dropout before the classifier.
    """

    def __init__(
        self,
        spec: MobileNetV4Spec,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float | None = None,
        small_input: bool = False,
        act: str | None = None,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        act = act or spec.act
        chs = scale_channels(spec.stem_chs, width_mult)
        self.stem = ConvNormAct(in_chans, chs, 3, 1 if small_input else 2, act=act)
        table = _first_downsample_to_stride1(spec.stages) if small_input else spec.stages
        stages = []
        for stage in table:
            blocks = []
            for row in stage:
                out = scale_channels(row.c, width_mult)
                for i in range(row.n):
                    blocks.append(_block(row, chs, out, row.s if i == 0 else 1, act, spec.layer_scale))
                    chs = out
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        # pooled first, so this conv costs C * 1280 MACs whatever the resolution
        self.conv_head = ConvNormAct(chs, spec.head_chs, 1, act=act)
        self.init_head(spec.head_chs, num_classes, drop_rate)
        _init_weights(self)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Global average -> 1x1 conv-BN-act -> (B, 1280)."""
        return self.conv_head(x.mean((2, 3), keepdim=True)).flatten(1)


def create_mobilenetv4(spec: MobileNetV4Spec, **kwargs) -> MobileNetV4:
    """Build ``spec``; keyword arguments as :class:`MobileNetV4`."""
    return MobileNetV4(spec, **kwargs)


_PAPER = "Qin et al., MobileNetV4: Universal Models for the Mobile Ecosystem, ECCV 2024"
# name, spec, input size (the paper's: 224 px for S, 256 px for M), tags, docstring.
# 5x5 depthwise kernels at most: no large_kernel_convnets tag.
_VARIANTS = (
    ("mobilenetv4_conv_small", CONV_SMALL, 224, ("mobile_cnn", "nas"),
     "MobileNetV4-Conv-S: conv stem stages, then UIB (ExtraDW, IB, ConvNext)."),
    ("mobilenetv4_conv_medium", CONV_MEDIUM, 256, ("mobile_cnn", "nas"),
     "MobileNetV4-Conv-M: FusedIB, then UIB (ExtraDW, IB, ConvNext, FFN)."),
    ("mobilenetv4_hybrid_medium", HYBRID_MEDIUM, 256, ("mobile_cnn", "nas", "efficient_attention"),
     "MobileNetV4-Hybrid-M: Conv-M-like trunk with Mobile MQA blocks in the last two stages."),
)  # fmt: skip
for _name, _spec, _size, _tags, _doc in _VARIANTS:
    register_variant(
        _name, create_mobilenetv4, _spec, doc=_doc, paper=_PAPER, tags=_tags,
        reference=f"timm:{_name}", default_input_size=(3, _size, _size),
    )  # fmt: skip
