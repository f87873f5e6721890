"""MobileNetV1, V2, V3 and the stem -> stages -> head network shared by the MBConv family.

* MobileNetV1 -- Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
  Vision Applications", arXiv 2017 (Table 1).
* MobileNetV2 -- Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
  CVPR 2018 (Table 2).
* MobileNetV3 -- Howard et al., "Searching for MobileNetV3", ICCV 2019 (Tables 1 and 2).

:class:`MobileNet` is the network; a :class:`MobileSpec` (a table of
:class:`~workbench.models._builder.BlockRow` plus stem/head/activation/SE choices) says which
one. ``efficientnet.py`` and ``lcnet.py`` build MnasNet, EfficientNet, FBNet and PP-LCNet
from the same class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from ..layers.activations import get_act
from ..layers.conv import ConvNormAct, scale_channels
from ..layers.mobile_cnn import SEConfig
from ._base import Classifier
from ._builder import BlockRow, build_stages
from ._factory import register_variant

_HEADS = ("none", "conv", "linear")
_HEAD_SCALING = ("fixed", "scaled", "grow")


@dataclass(frozen=True)
class MobileSpec:
    """A mobile network as data.

    Attributes:
        stages: the trunk, a list of stages of :class:`BlockRow` at width 1.0.
        stem_chs: channels of the 3x3 stride-2 stem conv at width 1.0, always scaled with the
            width (timm keeps MobileNetV3's 16-channel stem unscaled below width 0.75:
            its ``mobilenetv3_small_050`` has 520 more parameters than width 0.5 here).
        head_chs: channels of the head layer (``None`` with ``head='none'``).
        head: ``'none'`` pool -> classifier (MobileNetV1); ``'conv'`` 1x1 conv-BN-act before
            pooling (MobileNetV2, MnasNet, EfficientNet, FBNet); ``'linear'`` pooling, then a
            biased 1x1 conv (a Linear on the pooled vector) and act, no BN: MobileNetV3's
            "efficient last stage", also PP-LCNet.
        head_scaling: how ``head_chs`` follows the width multiplier: ``'fixed'`` (MobileNetV3,
            MnasNet, FBNet, PP-LCNet), ``'scaled'`` (EfficientNet), ``'grow'`` = scaled only
            when ``width_mult > 1`` (MobileNetV2, Sec. 6.1).
        act: default activation name of stem, blocks and head.
        se: how blocks size their squeeze-excite (:class:`~workbench.layers.mobile_cnn.SEConfig`).
        drop_rate: dropout before the classifier (training recipe of the paper).
    """

    stages: tuple[tuple[BlockRow, ...], ...]
    stem_chs: int
    head_chs: int | None
    head: str = "conv"
    head_scaling: str = "fixed"
    act: str = "relu"
    se: SEConfig = SEConfig()
    drop_rate: float = 0.2

    def __post_init__(self) -> None:
        if self.head not in _HEADS:
            raise ValueError(f"head must be one of {_HEADS}, got {self.head!r}")
        if self.head_scaling not in _HEAD_SCALING:
            raise ValueError(
                f"head_scaling must be one of {_HEAD_SCALING}, got {self.head_scaling!r}"
            )
        if (self.head_chs is None) != (self.head == "none"):
            raise ValueError(f"head_chs={self.head_chs} does not fit head={self.head!r}")


class MobileNet(Classifier):
    """Stem -> stages of mobile blocks -> head -> global average pool -> classifier.

    Args:
        spec: the architecture (:class:`MobileSpec`).
        num_classes: classifier outputs.
        in_chans: input channels.
        width_mult: channel multiplier applied to stem, every row and (per
            ``spec.head_scaling``) the head, through ``scale_channels`` (make_divisible, 8).
        depth_mult: repeat multiplier (``ceil``), EfficientNet compound scaling.
        small_input: for 28-32 px inputs (Fashion-MNIST, CIFAR): the stem conv gets stride 1
            and so does the first row with stride > 1, so the total stride drops from 32 to
            8 (28 px -> 4 x 4 final feature map instead of 1 x 1). Nothing else changes.
        act: override of ``spec.act`` (rows that pin their own activation keep it, e.g. the
            ReLU rows of MobileNetV3).
        attn: replace SE by another attention from
            :func:`~workbench.layers.channel_attention.get_attn` (``'se'``, ``'eca'``,
            ``'cbam'``, ``'none'``) in the blocks whose row has SE; ``ValueError`` for an
            architecture without SE rows. ``None`` keeps the architecture's own SE.
        attn_kwargs: options of that attention: ``rd_ratio`` in (0, 1] for ``'se'`` (default:
            the paper's 0.25, rounded as the paper does) and ``'cbam'`` (default 1/16),
            ``k_size`` (odd int; default: ECA's adaptive size) for ``'eca'``,
            ``spatial_kernel`` (odd int; default 7) for ``'cbam'``. ``ValueError`` names the
            valid options and ranges.
        drop_rate: override of ``spec.drop_rate``.
    """

    def __init__(
        self,
        spec: MobileSpec,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        small_input: bool = False,
        act: str | None = None,
        attn: str | None = None,
        attn_kwargs: dict | None = None,
        drop_rate: float | None = None,
    ) -> None:
        super().__init__()
        act = act or spec.act
        if (attn is not None or attn_kwargs) and not any(
            row.se > 0 for stage in spec.stages for row in stage
        ):
            raise ValueError(f"attn={attn!r}, attn_kwargs={attn_kwargs!r}: this architecture has no SE blocks")
        se = replace(
            spec.se,
            layer=spec.se.layer if attn is None else attn,
            options=tuple(sorted((attn_kwargs or {}).items())),
        )
        stem_chs = scale_channels(spec.stem_chs, width_mult)
        self.stem = ConvNormAct(in_chans, stem_chs, 3, stride=1 if small_input else 2, act=act)
        self.stages, chs = build_stages(
            spec.stages,
            stem_chs,
            width_mult=width_mult,
            depth_mult=depth_mult,
            act=act,
            se=se,
            small_input=small_input,
        )
        head_chs = _head_channels(spec, width_mult)
        self.conv_head: nn.Module = nn.Identity()
        self.pre_logits: nn.Module = nn.Identity()
        if spec.head == "conv":
            self.conv_head = ConvNormAct(chs, head_chs, 1, act=act)
        elif spec.head == "linear":
            self.pre_logits = nn.Sequential(nn.Linear(chs, head_chs), get_act(act))
        self.global_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.init_head(head_chs or chs, num_classes, spec.drop_rate if drop_rate is None else drop_rate)
        _init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, C', H/32, W/32) features (H/8 with ``small_input``)."""
        x = self.stem(x)
        x = self.stages(x)
        return self.conv_head(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Global average, then MobileNetV3's linear head layer (identity for the others)."""
        return self.pre_logits(self.global_pool(x))


def _head_channels(spec: MobileSpec, width_mult: float) -> int | None:
    if spec.head_chs is None or spec.head_scaling == "fixed":
        return spec.head_chs
    if spec.head_scaling == "grow":
        return scale_channels(spec.head_chs, max(1.0, width_mult))
    return scale_channels(spec.head_chs, width_mult)


def _init_weights(model: nn.Module) -> None:
    # torchvision's MobileNet init: He (fan-out) convs, unit BN, small-normal classifier.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def create_mobilenet(
    spec: MobileSpec, name_width: float, width_mult: float | None = None, **kwargs
) -> MobileNet:
    """Build ``spec`` at the entry point's width unless the caller gives ``width_mult``."""
    return MobileNet(spec, width_mult=name_width if width_mult is None else width_mult, **kwargs)


def stage_table(*stages: Sequence[BlockRow]) -> tuple[tuple[BlockRow, ...], ...]:
    """Freeze stage lists into the tuple-of-tuples a :class:`MobileSpec` holds."""
    return tuple(tuple(stage) for stage in stages)


def R(block: str, k: int, s: int, c: int, **kw) -> BlockRow:
    """Shorthand for a :class:`BlockRow` in the tables below."""
    return BlockRow(block, k, s, c, **kw)


# MobileNetV1, Table 1: every layer is conv-BN-ReLU (the paper says ReLU; TF slim and timm use
# ReLU6 -- same parameters and MACs); no residuals; 1024 -> FC after global pooling.
#: a plain depthwise-separable *layer* (no skip, act after the pointwise conv): MobileNetV1, PP-LCNet
PLAIN_DS = dict(skip=False, pw_act=True)
MOBILENET_V1 = MobileSpec(
    stages=stage_table(
        [R("ds", 3, 1, 64, **PLAIN_DS)],
        [R("ds", 3, 2, 128, n=2, **PLAIN_DS)],
        [R("ds", 3, 2, 256, n=2, **PLAIN_DS)],
        [R("ds", 3, 2, 512, n=6, **PLAIN_DS)],
        [R("ds", 3, 2, 1024, n=2, **PLAIN_DS)],
    ),
    stem_chs=32,
    head_chs=None,
    head="none",
    act="relu",
    drop_rate=0.0,
)

# MobileNetV2, Table 2 (t, c, n, s); the t=1 bottleneck has no expansion conv.
MOBILENET_V2 = MobileSpec(
    stages=stage_table(
        [R("ds", 3, 1, 16)],
        [R("ir", 3, 2, 24, e=6, n=2)],
        [R("ir", 3, 2, 32, e=6, n=3)],
        [R("ir", 3, 2, 64, e=6, n=4)],
        [R("ir", 3, 1, 96, e=6, n=3)],
        [R("ir", 3, 2, 160, e=6, n=3)],
        [R("ir", 3, 1, 320, e=6, n=1)],
    ),
    stem_chs=32,
    head_chs=1280,
    head="conv",
    head_scaling="grow",
    act="relu6",
)

# MobileNetV3, Tables 1 (Large) and 2 (Small): expansion = exp size / input channels;
# SE bottleneck = make_divisible(exp size / 4, 8), ReLU inside, hard-sigmoid gate.
_V3_SE = SEConfig(base="mid", divisor=8, act="relu", gate="hard_sigmoid")
_RE = "relu"
MOBILENET_V3_LARGE = MobileSpec(
    stages=stage_table(
        [R("ds", 3, 1, 16, act=_RE)],
        [R("ir", 3, 2, 24, e=4, act=_RE), R("ir", 3, 1, 24, e=3, act=_RE)],
        [R("ir", 5, 2, 40, e=3, n=3, se=0.25, act=_RE)],
        [R("ir", 3, 2, 80, e=6), R("ir", 3, 1, 80, e=2.5), R("ir", 3, 1, 80, e=2.3, n=2)],
        [R("ir", 3, 1, 112, e=6, n=2, se=0.25)],
        [R("ir", 5, 2, 160, e=6, n=3, se=0.25)],
        [R("cna", 1, 1, 960)],
    ),
    stem_chs=16,
    head_chs=1280,
    head="linear",
    act="hard_swish",
    se=_V3_SE,
)
# Small: Large's stem, head layout, activation and SE with its own table and a 1024-wide head.
MOBILENET_V3_SMALL = replace(
    MOBILENET_V3_LARGE,
    stages=stage_table(
        [R("ds", 3, 2, 16, se=0.25, act=_RE)],
        [R("ir", 3, 2, 24, e=4.5, act=_RE), R("ir", 3, 1, 24, e=3.67, act=_RE)],
        [R("ir", 5, 2, 40, e=4, se=0.25), R("ir", 5, 1, 40, e=6, n=2, se=0.25)],
        [R("ir", 5, 1, 48, e=3, n=2, se=0.25)],
        [R("ir", 5, 2, 96, e=6, n=3, se=0.25)],
        [R("cna", 1, 1, 576)],
    ),
    head_chs=1024,
)

_V1 = "Howard et al., MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications, arXiv 2017"
_V2 = "Sandler et al., MobileNetV2: Inverted Residuals and Linear Bottlenecks, CVPR 2018"
_V3 = "Howard et al., Searching for MobileNetV3, ICCV 2019"
# Literature families (workbench.literature.families slugs) of the techniques each net uses.
_TAGS_V1 = ("mobile_cnn",)
_TAGS_V2 = ("mobile_cnn",)
_TAGS_V3 = ("mobile_cnn", "channel_attention", "nas")


# name, spec, width, whether timm has it (as ``timm:<name>``), paper, tags, docstring
_VARIANTS = (
    ("mobilenetv1_050", MOBILENET_V1, 0.5, False, _V1, _TAGS_V1,
     "MobileNetV1 0.5 (no timm/torchvision model at this width)."),
    ("mobilenetv1_075", MOBILENET_V1, 0.75, False, _V1, _TAGS_V1,
     "MobileNetV1 0.75 (no timm/torchvision model at this width)."),
    ("mobilenetv1_100", MOBILENET_V1, 1.0, True, _V1, _TAGS_V1,
     "MobileNetV1 1.0; ReLU as in the paper (timm: ReLU6)."),
    ("mobilenetv2_050", MOBILENET_V2, 0.5, True, _V2, _TAGS_V2, "MobileNetV2 0.5."),
    ("mobilenetv2_075", MOBILENET_V2, 0.75, True, _V2, _TAGS_V2, "MobileNetV2 0.75."),
    ("mobilenetv2_100", MOBILENET_V2, 1.0, True, _V2, _TAGS_V2,
     "MobileNetV2 1.0 (also = torchvision mobilenet_v2)."),
    ("mobilenetv2_140", MOBILENET_V2, 1.4, True, _V2, _TAGS_V2,
     "MobileNetV2 1.4 (head grows to 1792 channels)."),
    ("mobilenetv3_large_075", MOBILENET_V3_LARGE, 0.75, True, _V3, _TAGS_V3, "MobileNetV3-Large 0.75."),
    ("mobilenetv3_large_100", MOBILENET_V3_LARGE, 1.0, True, _V3, _TAGS_V3,
     "MobileNetV3-Large 1.0 (also = torchvision mobilenet_v3_large)."),
    ("mobilenetv3_small_075", MOBILENET_V3_SMALL, 0.75, True, _V3, _TAGS_V3, "MobileNetV3-Small 0.75."),
    ("mobilenetv3_small_100", MOBILENET_V3_SMALL, 1.0, True, _V3, _TAGS_V3,
     "MobileNetV3-Small 1.0 (also = torchvision mobilenet_v3_small)."),
)  # fmt: skip
for _name, _spec, _width, _in_timm, _paper, _tags, _doc in _VARIANTS:
    register_variant(
        _name, create_mobilenet, _spec, _width, doc=_doc, paper=_paper, tags=_tags,
        reference=f"timm:{_name}" if _in_timm else None,
    )  # fmt: skip
