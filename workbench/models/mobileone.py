"""MobileOne (Vasu et al., CVPR 2023): MobileNetV1's depthwise/pointwise stack, re-parameterized.

Each MobileNetV1 "layer" becomes a depthwise 3x3 :class:`~workbench.layers.reparameterization.MobileOneBlock`
followed by a pointwise 1x1 one, each with ``k`` over-parameterized conv-BN branches during
training (S0: ``k = 4``). Registered in the **train form**;
``workbench.layers.reparameterization.reparameterize_model(model)`` gives the deploy form that the paper
counts (MobileOne-S0: 2.1 M params, 275 M MACs; the train form has 5.29 M params). Layout as
timm's ``byobnet.py`` ``mobileone_s0`` and the official apple/ml-mobileone code.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..layers.conv import scale_channels
from ..layers.reparameterization import MobileOneBlock
from ._base import Classifier
from ._factory import register_model


@dataclass(frozen=True)
class MobileOneStage:
    """``n`` (depthwise, pointwise) block pairs ending at ``c`` channels; the first
    depthwise block has stride ``s``."""

    c: int
    n: int
    s: int = 2


def mobileone_stages(stage_mults: tuple[float, float, float, float]) -> tuple[MobileOneStage, ...]:
    """Paper architecture table: base widths (64, 128, 256, 512) times per-stage multipliers, depths
    (2, 8, 10, 1) -- the stem is the paper's stage 1."""
    return tuple(
        MobileOneStage(int(c * w), n)
        for c, w, n in zip((64, 128, 256, 512), stage_mults, (2, 8, 10, 1), strict=True)
    )


MOBILEONE_S0 = mobileone_stages((0.75, 1.0, 1.0, 2.0))


class MobileOne(Classifier):
    """MobileOne classifier: stem block (3x3 s2, one branch) -> 4 stages -> GAP -> linear.

    Args:
        stages: stage rows.
        stem_chs: stem width, ``min(64, 64 * width[0])``.
        num_conv_branches: ``k`` of every block except the stem (which has 1, as official).
        width_mult: multiplier on every width (:func:`~workbench.layers.conv.scale_channels`,
            divisor 8); ``None`` = the paper's widths.
        num_classes, in_chans: classifier outputs and input channels.
        act: activation after each block.
        drop_rate: dropout before the classifier (0, as timm; the official code has none).
        small_input: for 28-32 px inputs, the stem and the first stage's first depthwise block
            use stride 1, so the total stride is 8 instead of 32.
    """

    def __init__(
        self,
        stages: tuple[MobileOneStage, ...] = MOBILEONE_S0,
        stem_chs: int = 48,
        num_conv_branches: int = 4,
        width_mult: float | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        act: str = "relu",
        drop_rate: float = 0.0,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        k = num_conv_branches
        prev = scale_channels(stem_chs, width_mult)
        self.stem = MobileOneBlock(in_chans, prev, 3, 1 if small_input else 2, act=act)
        blocks = []
        for i, st in enumerate(stages):
            chs = scale_channels(st.c, width_mult)
            layers = []
            for j in range(st.n):
                stride = st.s if j == 0 and not (small_input and i == 0) else 1
                layers.append(
                    MobileOneBlock(prev, prev, 3, stride, groups=prev, num_conv_branches=k, act=act)
                )
                layers.append(MobileOneBlock(prev, chs, 1, 1, num_conv_branches=k, act=act))
                prev = chs
            blocks.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*blocks)
        self.init_head(prev, num_classes, drop_rate)


@register_model(
    reference="timm:mobileone_s0",
    paper="Vasu et al., MobileOne: An Improved One millisecond Mobile Backbone, CVPR 2023",
    tags=("reparameterization", "mobile_cnn"),
)
def mobileone_s0(width_mult: float | None = None, **kwargs) -> nn.Module:
    """MobileOne-S0 (train form, k=4 branches; ``reparameterize_model`` for deploy)."""
    return MobileOne(
        MOBILEONE_S0,
        stem_chs=48,
        num_conv_branches=4,
        width_mult=width_mult,
        **kwargs,
    )
