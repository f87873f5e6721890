"""RepVGG (Ding et al., CVPR 2021): a VGG-style stack of 3x3 conv + ReLU at deploy time.

Registered in the **train form** (three-branch :class:`~workbench.layers.reparameterization.RepVggBlock`);
``workbench.layers.reparameterization.reparameterize_model(model)`` gives the deploy form, whose parameter
and MAC counts are the ones the paper reports (RepVGG-A0: 8.30 M params, 1.4 G MACs; the train
form has 9.11 M). Layout as timm's ``byobnet.py`` ``repvgg_a0`` (no final 1x1 conv).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..layers.conv import scale_channels
from ..layers.reparameterization import RepVggBlock
from ._base import Classifier
from ._factory import register_model


@dataclass(frozen=True)
class RepStage:
    """One stage: ``n`` RepVGG blocks of ``c`` channels, the first with stride ``s``."""

    c: int
    n: int
    s: int = 2


def repvgg_stages(depths: tuple[int, ...], a: float, b: float) -> tuple[RepStage, ...]:
    """Paper Sec. 3.4: widths ``[64a, 128a, 256a, 512b]``; stage 1 has one 48/64-ch layer,
    which our stem plays (so ``depths`` are those of stages 2-5)."""
    base = (64, 128, 256, 512)
    mults = (a, a, a, b)
    return tuple(RepStage(int(c * m), n) for c, m, n in zip(base, mults, depths, strict=True))


REPVGG_A0 = repvgg_stages((2, 4, 14, 1), a=0.75, b=2.5)


class RepVGG(Classifier):
    """RepVGG classifier: stem block (3x3 s2) -> 4 stages of RepVGG blocks -> GAP -> linear.

    Args:
        stages: stage rows.
        stem_chs: stem width, ``min(64, 64a)`` (paper Sec. 3.4).
        width_mult: multiplier on every width (:func:`~workbench.layers.conv.scale_channels`,
            divisor 8); ``None`` = the paper's widths.
        num_classes, in_chans: classifier outputs and input channels.
        act: activation after each block.
        drop_rate: dropout before the classifier (0, as timm).
        small_input: for 28-32 px inputs, the stem and the first stage's first block use
            stride 1, so the total stride is 8 instead of 32.
        branches: ``'rep'`` (the paper's three-branch blocks) or ``'plain'`` (3x3 conv-BN only:
            the twin with the same deploy graph, :class:`RepVggBlock`).
    """

    def __init__(
        self,
        stages: tuple[RepStage, ...] = REPVGG_A0,
        stem_chs: int = 48,
        width_mult: float | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        act: str = "relu",
        drop_rate: float = 0.0,
        small_input: bool = False,
        branches: str = "rep",
    ) -> None:
        super().__init__()
        prev = scale_channels(stem_chs, width_mult)
        self.stem = RepVggBlock(in_chans, prev, stride=1 if small_input else 2, act=act, branches=branches)
        blocks = []
        for i, st in enumerate(stages):
            stride = 1 if small_input and i == 0 else st.s
            chs = scale_channels(st.c, width_mult)
            layers = [RepVggBlock(prev, chs, stride, act=act, branches=branches)]
            layers += [RepVggBlock(chs, chs, 1, act=act, branches=branches) for _ in range(st.n - 1)]
            blocks.append(nn.Sequential(*layers))
            prev = chs
        self.stages = nn.Sequential(*blocks)
        self.init_head(prev, num_classes, drop_rate)


@register_model(
    reference="timm:repvgg_a0",
    paper="Ding et al., RepVGG: Making VGG-style ConvNets Great Again, CVPR 2021",
    tags=("reparameterization",),
)
def repvgg_a0(width_mult: float | None = None, depths: tuple[int, ...] | None = None, **kwargs) -> nn.Module:
    """RepVGG-A0 (train form; ``reparameterize_model`` for deploy; ``branches='plain'``: its
    plain twin with the same deploy graph).

    Args:
        width_mult: multiplier on every width.
        depths: blocks per stage (stages 2-5), ``None`` = A0's ``(2, 4, 14, 1)``; a shallower
            stack keeps small-scale training experiments within a CPU budget.
        **kwargs: :class:`RepVGG` arguments.
    """
    stages = REPVGG_A0 if depths is None else repvgg_stages(tuple(depths), a=0.75, b=2.5)
    return RepVGG(stages, stem_chs=48, width_mult=width_mult, **kwargs)
