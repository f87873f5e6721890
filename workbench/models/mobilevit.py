"""MobileViT (Mehta & Rastegari, ICLR 2022): MobileNetV2 blocks with MobileViT blocks in the last stages.

Layout as the paper's XXS table and timm's ``mobilevit.py`` / apple/ml-cvnets: a 3x3 stride-2
stem, two stages of inverted residuals (expansion 2 for XXS), then three stages that each
downsample with one inverted residual and continue with a
:class:`~workbench.layers.mobilevit.MobileViTBlock`; a 1x1 conv-BN-act to ``num_features``, global
pooling and a linear classifier. Paper input size: 256 x 256.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..layers.conv import ConvNormAct, scale_channels
from ..layers.mobile_cnn import InvertedResidual
from ..layers.mobilevit import MobileViTBlock
from ._base import Classifier
from ._factory import register_model
from .mobilenet import _init_weights


@dataclass(frozen=True)
class MobileViTStage:
    """``n`` inverted residuals ending at ``c`` channels (the first with stride ``s``), then a
    MobileViT block with ``transformer_dim`` tokens and ``depth`` transformer blocks (none when
    ``depth == 0``)."""

    c: int
    n: int
    s: int
    transformer_dim: int = 0
    depth: int = 0


MOBILEVIT_XXS = (
    MobileViTStage(16, 1, 1),
    MobileViTStage(24, 3, 2),
    MobileViTStage(48, 1, 2, transformer_dim=64, depth=2),
    MobileViTStage(64, 1, 2, transformer_dim=80, depth=4),
    MobileViTStage(80, 1, 2, transformer_dim=96, depth=3),
)


class MobileViT(Classifier):
    """Stem -> stages of [inverted residuals, MobileViT block] -> 1x1 conv -> pool -> linear.

    Args:
        stages: stage rows (:class:`MobileViTStage`).
        stem_chs: stem width.
        num_features: width of the final 1x1 conv (the pooled vector).
        exp_ratio: expansion of every inverted residual (XXS: 2, XS/S: 4).
        patch_size: MobileViT patch side.
        num_heads: attention heads of every transformer block.
        num_classes, in_chans: classifier outputs and input channels.
        width_mult: multiplier on every width, transformer dims included (``scale_channels``,
            divisor 8, so dims stay divisible by the 4 heads); ``None`` = the paper's widths.
        small_input: for 28-32 px inputs the stem and the first strided stage use stride 1
            (total stride 8 instead of 32; the 7 x 7 map of the third stage is resized to 8 x 8
            for the 2 x 2 patches).
        act: activation everywhere (SiLU in the paper).
        drop_rate: dropout before the classifier.
    """

    def __init__(
        self,
        stages: tuple[MobileViTStage, ...] = MOBILEVIT_XXS,
        stem_chs: int = 16,
        num_features: int = 320,
        exp_ratio: float = 2.0,
        patch_size: int = 2,
        num_heads: int = 4,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float | None = None,
        small_input: bool = False,
        act: str = "silu",
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        chs = scale_channels(stem_chs, width_mult)
        self.stem = ConvNormAct(in_chans, chs, 3, 1 if small_input else 2, act=act)
        blocks, reduced = [], not small_input
        for st in stages:
            out = scale_channels(st.c, width_mult)
            layers = []
            for i in range(st.n):
                stride = st.s if i == 0 else 1
                if stride > 1 and not reduced:
                    stride, reduced = 1, True
                layers.append(InvertedResidual(chs, out, 3, stride, exp_ratio=exp_ratio, act=act))
                chs = out
            if st.depth:
                dim = scale_channels(st.transformer_dim, width_mult)
                layers.append(MobileViTBlock(chs, dim, st.depth, patch_size, num_heads, act=act))
            blocks.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*blocks)
        self.final_conv = ConvNormAct(chs, scale_channels(num_features, width_mult), 1, act=act)
        self.init_head(self.final_conv.out_chs, num_classes, drop_rate)
        _init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, num_features, H/32, W/32) (H/8 with ``small_input``)."""
        return self.final_conv(self.stages(self.stem(x)))


@register_model(
    reference="timm:mobilevit_xxs",
    paper="Mehta & Rastegari, MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision Transformer, ICLR 2022",
    tags=("efficient_attention", "mobile_cnn"),
    default_input_size=(3, 256, 256),
)
def mobilevit_xxs(**kwargs) -> nn.Module:
    """MobileViT-XXS (1.3 M params at 256 px)."""
    return MobileViT(MOBILEVIT_XXS, stem_chs=16, num_features=320, exp_ratio=2.0, **kwargs)
