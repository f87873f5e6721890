"""ConvNeXt (Liu et al., CVPR 2022): the non-lightweight reference CNN of the zoo.

Patchify stem (4x4 stride-4 conv + LayerNorm) -> 4 stages of :class:`ConvNeXtBlock`, separated
by LayerNorm + 2x2 stride-2 conv -> global average pool -> LayerNorm -> linear. Layout and
initialization as timm's ``convnext.py`` (torchvision's has the same parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..layers.conv import scale_channels
from ..layers.convnext import ConvNeXtBlock
from ..layers.metaformer import LayerNorm2d
from ._base import Classifier, trunc_normal_init
from ._factory import register_model


@dataclass(frozen=True)
class ConvNeXtStage:
    """One stage: ``n`` blocks of ``c`` channels."""

    c: int
    n: int


CONVNEXT_TINY = (
    ConvNeXtStage(96, 3),
    ConvNeXtStage(192, 3),
    ConvNeXtStage(384, 9),
    ConvNeXtStage(768, 3),
)


class ConvNeXt(Classifier):
    """ConvNeXt classifier.

    Args:
        stages: stage rows (paper Sec. 3: T = (96, 192, 384, 768) x (3, 3, 9, 3)).
        width_mult: multiplier on every width (:func:`~workbench.layers.conv.scale_channels`,
            divisor 8); ``None`` = the paper's widths.
        num_classes, in_chans: classifier outputs and input channels.
        kernel_size: depthwise kernel of every block (7).
        drop_path_rate: stochastic depth, rising linearly from 0 to this over the blocks
            (0.1 for ConvNeXt-T in the paper's ImageNet recipe; 0 by default, as timm).
        ls_init_value: layer-scale init (1e-6).
        act: MLP activation.
        drop_rate: dropout before the classifier.
        small_input: for 28-32 px inputs, the 4x4 stride-4 patchify stem becomes a 3x3
            stride-1 conv (padding 1), so the total stride is 8 instead of 32.
    """

    def __init__(
        self,
        stages: tuple[ConvNeXtStage, ...] = CONVNEXT_TINY,
        width_mult: float | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        kernel_size: int = 7,
        drop_path_rate: float = 0.0,
        ls_init_value: float | None = 1e-6,
        act: str = "gelu",
        drop_rate: float = 0.0,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        dims = [scale_channels(st.c, width_mult) for st in stages]
        stem_conv = (
            nn.Conv2d(in_chans, dims[0], 3, 1, 1)
            if small_input
            else nn.Conv2d(in_chans, dims[0], 4, 4)
        )
        self.stem = nn.Sequential(stem_conv, LayerNorm2d(dims[0]))
        total = sum(st.n for st in stages)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        blocks, prev, idx = [], dims[0], 0
        for st, dim in zip(stages, dims, strict=True):
            down = (
                nn.Identity()
                if idx == 0
                else nn.Sequential(LayerNorm2d(prev), nn.Conv2d(prev, dim, 2, 2))
            )
            layers = [
                ConvNeXtBlock(
                    dim, kernel_size, ls_init_value=ls_init_value, drop_path=rates[idx + j], act=act
                )
                for j in range(st.n)
            ]
            blocks.append(nn.Sequential(down, *layers))
            prev, idx = dim, idx + st.n
        self.stages = nn.Sequential(*blocks)
        self.norm = nn.LayerNorm(prev, eps=1e-6)
        self.init_head(prev, num_classes, drop_rate)
        self._init_weights()

    def _init_weights(self) -> None:
        trunc_normal_init(self)  # timm/official init: truncated normal std 0.02, zero biases

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Global average, then LayerNorm (ConvNeXt normalizes the pooled vector)."""
        return self.norm(x.mean((2, 3)))


@register_model(
    reference="timm:convnext_tiny",
    paper="Liu et al., A ConvNet for the 2020s, CVPR 2022",
    tags=("large_kernel_convnets",),
)
def convnext_tiny(width_mult: float | None = None, **kwargs) -> nn.Module:
    """ConvNeXt-T."""
    return ConvNeXt(CONVNEXT_TINY, width_mult=width_mult, **kwargs)
