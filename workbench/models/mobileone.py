"""MobileOne (Vasu et al., CVPR 2023): MobileNetV1's depthwise/pointwise stack, re-parameterized.

Each MobileNetV1 "layer" becomes a depthwise 3x3 :class:`~workbench.layers.reparameterization.MobileOneBlock`
followed by a pointwise 1x1 one, each with ``k`` over-parameterized conv-BN branches during
training (S0: ``k = 4``; S1-S4: ``k = 1``, widened instead). Registered in the **train form**;
``workbench.layers.reparameterization.reparameterize_model(model)`` gives the deploy form that the paper
counts (MobileOne-S0: 2.1 M params, 275 M MACs; the train form has 5.29 M params). S0-S4 differ
only in the per-stage width multipliers of the paper's architecture table and in S4's squeeze-excite on its
last blocks. Layout as timm's ``byobnet.py`` ``mobileone_s*`` and the official apple/ml-mobileone code.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..layers.channel_attention import SqueezeExcite
from ..layers.conv import scale_channels
from ..layers.reparameterization import MobileOneBlock
from ._base import Classifier
from ._factory import register_variant


@dataclass(frozen=True)
class MobileOneStage:
    """``n`` (depthwise, pointwise) block pairs ending at ``c`` channels; the first
    depthwise block has stride ``s``; the last ``se`` pairs gate both their blocks with SE."""

    c: int
    n: int
    s: int = 2
    se: int = 0


def mobileone_stages(
    stage_mults: tuple[float, float, float, float], se_blocks: tuple[int, int, int, int] = (0, 0, 0, 0)
) -> tuple[MobileOneStage, ...]:
    """Paper architecture table: base widths (64, 128, 256, 512) times per-stage multipliers, depths
    (2, 8, 10, 1) -- the stem is the paper's stage 1 -- and SE on the last ``se_blocks`` pairs."""
    return tuple(
        MobileOneStage(int(c * w), n, se=se)
        for c, w, n, se in zip((64, 128, 256, 512), stage_mults, (2, 8, 10, 1), se_blocks, strict=True)
    )


# The paper's architecture table: per-stage width multipliers (and k for S0); S4 adds SE to the last 5
# pairs of stage 4 and the single pair of stage 5 (paper numbering, the stem being stage 1).
MOBILEONE_S0 = mobileone_stages((0.75, 1.0, 1.0, 2.0))
MOBILEONE_S1 = mobileone_stages((1.5, 1.5, 2.0, 2.5))
MOBILEONE_S2 = mobileone_stages((1.5, 2.0, 2.5, 4.0))
MOBILEONE_S3 = mobileone_stages((2.0, 2.5, 3.0, 4.0))
MOBILEONE_S4 = mobileone_stages((3.0, 3.5, 3.5, 4.0), se_blocks=(0, 0, 5, 1))

#: MobileOne's SE squeezes to 1/16 of the channels (official ``SEBlock``: ``int(C * 0.0625)``)
MOBILEONE_SE_RATIO = 1 / 16


def mobileone_block(
    in_chs: int, out_chs: int, kernel_size: int, stride: int, *, se: bool = False, **kwargs
) -> MobileOneBlock:
    """A :class:`MobileOneBlock`, with MobileOne's 1/16 squeeze-excite after the branch sum if ``se``.

    ``MobileOneBlock(attn='se')`` would build SE at its default 1/4 ratio, so the gate is set here.
    The SE stays in the deploy form (it is not linear, so it cannot fold into the conv).
    """
    block = MobileOneBlock(in_chs, out_chs, kernel_size, stride, **kwargs)
    if se:
        block.attn = SqueezeExcite(out_chs, rd_ratio=MOBILEONE_SE_RATIO)
    return block


class MobileOne(Classifier):
    """MobileOne classifier: stem block (3x3 s2, one branch) -> 4 stages -> GAP -> linear.

    Args:
        stages: stage rows.
        stem_chs: stem width, ``min(64, 64 * width[0])`` (48 for S0, 64 for S1-S4).
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
                se = j >= st.n - st.se
                layers.append(
                    mobileone_block(prev, prev, 3, stride, se=se, groups=prev, num_conv_branches=k, act=act)
                )
                layers.append(mobileone_block(prev, chs, 1, 1, se=se, num_conv_branches=k, act=act))
                prev = chs
            blocks.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*blocks)
        self.init_head(prev, num_classes, drop_rate)


def create_mobileone(
    stages: tuple[MobileOneStage, ...], stem_chs: int, num_conv_branches: int, **kwargs
) -> MobileOne:
    """Build one MobileOne variant; keyword arguments as :class:`MobileOne`."""
    return MobileOne(stages, stem_chs=stem_chs, num_conv_branches=num_conv_branches, **kwargs)


_PAPER = "Vasu et al., MobileOne: An Improved One millisecond Mobile Backbone, CVPR 2023"
# name, stages, stem width, k (conv branches), docstring
_VARIANTS = (
    ("mobileone_s0", MOBILEONE_S0, 48, 4, "MobileOne-S0 (train form, k=4 branches; ``reparameterize_model`` for deploy)."),
    ("mobileone_s1", MOBILEONE_S1, 64, 1, "MobileOne-S1 (train form, k=1; deploy form 4.8 M params)."),
    ("mobileone_s2", MOBILEONE_S2, 64, 1, "MobileOne-S2 (train form, k=1; deploy form 7.8 M params)."),
    ("mobileone_s3", MOBILEONE_S3, 64, 1, "MobileOne-S3 (train form, k=1; deploy form 10.1 M params)."),
    ("mobileone_s4", MOBILEONE_S4, 64, 1, "MobileOne-S4 (train form, k=1, SE in the last blocks; deploy 14.8 M params)."),
)  # fmt: skip
for _name, _stages, _stem, _k, _doc in _VARIANTS:
    register_variant(
        _name, create_mobileone, _stages, _stem, _k, doc=_doc, paper=_PAPER,
        tags=("reparameterization", "mobile_cnn") + (("channel_attention",) if any(st.se for st in _stages) else ()),
        reference=f"timm:{_name}",
    )  # fmt: skip
