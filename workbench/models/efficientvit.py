"""EfficientViT-M (MSRA): memory-efficient ViT with cascaded group attention.

Liu et al., "EfficientViT: Memory Efficient Vision Transformer with Cascaded Group Attention"
(CVPR 2023). A 16x overlapping patch embedding (four 3x3/2 conv-BN), then three stages of
sandwich blocks (:class:`~workbench.layers.efficientvit.EfficientViTBlock`); stages 2 and 3
open with ``DW -> FFN -> PatchMerging -> DW -> FFN``. Head: BatchNorm1d -> dropout -> linear
on the globally averaged features. All norms are BN (fold away at inference). The paper's
"FLOPs" are multiply-adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..layers.activations import get_act
from ..layers.conv import scale_channels
from ..layers.efficientvit import ConvFFN, EfficientViTBlock, PatchMerging, Residual, conv_bn
from ._base import Classifier, drop_path_rates
from ._factory import register_variant

_PAPER = "Liu et al., EfficientViT: Memory Efficient Vision Transformer with Cascaded Group Attention, CVPR 2023"


@dataclass(frozen=True)
class EViTStage:
    """One stage at width 1.0.

    Attributes:
        dim: channels (divisible by ``num_heads``).
        depth: sandwich blocks.
        num_heads: attention heads = channel groups of the cascade.
        key_dim: query/key channels per head.
        window: local attention window side.
        downsample: open the stage with the subsample block (stride 2).
    """

    dim: int
    depth: int
    num_heads: int
    key_dim: int = 16
    window: int = 7
    downsample: bool = True


def _m(dims, depths, heads, kernels) -> tuple[tuple[EViTStage, ...], tuple[int, ...]]:
    return tuple(
        EViTStage(c, d, h, downsample=i > 0)
        for i, (c, d, h) in enumerate(zip(dims, depths, heads, strict=True))
    ), kernels


# (stages, q-conv kernel per head): paper Table 6 / official model zoo.
EFFICIENTVIT_CFGS: dict[str, tuple[tuple[EViTStage, ...], tuple[int, ...]]] = {
    "m0": _m((64, 128, 192), (1, 2, 3), (4, 4, 4), (5, 5, 5, 5)),
    "m1": _m((128, 144, 192), (1, 2, 3), (2, 3, 3), (7, 5, 3, 3)),
    "m2": _m((128, 192, 224), (1, 2, 3), (4, 3, 2), (7, 5, 3, 3)),
    "m3": _m((128, 240, 320), (1, 2, 3), (4, 3, 4), (5, 5, 5, 5)),
    "m4": _m((128, 256, 384), (1, 2, 3), (4, 4, 4), (7, 5, 3, 3)),
    "m5": _m((192, 288, 384), (1, 3, 4), (3, 3, 4), (7, 5, 3, 3)),
}


def _sandwich_pre(dim: int) -> list[nn.Module]:
    """The residual ``DW 3x3 -> FFN`` pair around PatchMerging."""
    return [Residual(conv_bn(dim, dim, 3, groups=dim)), Residual(ConvFFN(dim, 2 * dim))]


class EfficientViTMSRA(Classifier):
    """EfficientViT-M classifier.

    Args:
        stages: architecture table (:class:`EViTStage` rows at width 1.0).
        kernels: depthwise kernel on the query, one per head.
        num_classes: classifier outputs.
        in_chans: input channels.
        width_mult: multiplies each stage width, rounded to a multiple of ``8 * num_heads`` so
            heads split evenly and the patch embedding's ``dim/8`` stays whole.
        small_input: the first three patch-embedding convs stride 1 (patch stride 16 -> 2,
            total stride 64 -> 8): 32 px inputs give 16/8/4 px maps, 28 px give 14/7/4.
        img_size: input side the attention biases are sized for (224; 32 with ``small_input``).
            Windows (7) shrink to the map when it is smaller, so inputs down to the same
            last-stage size work.
        drop_rate: dropout before the classifier.
        drop_path_rate: per-sample drop of each residual branch in the sandwich blocks,
            rising linearly from 0 to this over all blocks.
    """

    def __init__(
        self,
        stages: Sequence[EViTStage],
        kernels: Sequence[int] = (5, 5, 5, 5),
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float | None = None,
        small_input: bool = False,
        img_size: int | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        dims = [scale_channels(s.dim, width_mult, 8 * s.num_heads) for s in stages]
        d0 = dims[0]
        s = (1, 1, 1) if small_input else (2, 2, 2)
        self.patch_embed = nn.Sequential(
            conv_bn(in_chans, d0 // 8, 3, s[0]), get_act("relu"),
            conv_bn(d0 // 8, d0 // 4, 3, s[1]), get_act("relu"),
            conv_bn(d0 // 4, d0 // 2, 3, s[2]), get_act("relu"),
            conv_bn(d0 // 2, d0, 3, 2),
        )  # fmt: skip
        res = (img_size or (32 if small_input else 224)) // (2 * s[0] * s[1] * s[2])
        dpr = drop_path_rates(stages, drop_path_rate)
        prev, modules = d0, []
        for row, dim in zip(stages, dims, strict=True):
            layers: list[nn.Module] = []
            if row.downsample:
                layers += [*_sandwich_pre(prev), PatchMerging(prev, dim), *_sandwich_pre(dim)]
                res = (res - 1) // 2 + 1
            for _ in range(row.depth):
                layers.append(
                    EfficientViTBlock(
                        dim,
                        row.key_dim,
                        row.num_heads,
                        attn_ratio=dim / (row.key_dim * row.num_heads),
                        resolution=res,
                        window_resolution=row.window,
                        kernels=tuple(kernels),
                        drop_path=dpr.pop(0),
                    )
                )
            modules.append(nn.Sequential(*layers))
            prev = dim
        self.stages = nn.Sequential(*modules)
        self.head_norm = nn.BatchNorm1d(prev)
        self.init_head(prev, num_classes, drop_rate)
        nn.init.trunc_normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, num_features, h, w) map (h = 4 at 224 px)."""
        return self.stages(self.patch_embed(x))

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Global average, then BatchNorm1d."""
        return self.head_norm(x.mean((2, 3)))


def _efficientvit(variant: str, **kwargs) -> EfficientViTMSRA:
    stages, kernels = EFFICIENTVIT_CFGS[variant]
    return EfficientViTMSRA(stages, kernels, **kwargs)


for _variant in EFFICIENTVIT_CFGS:  # m0 ... m5, the paper's Table 1
    register_variant(
        f"efficientvit_{_variant}", _efficientvit, _variant, reference=f"timm:efficientvit_{_variant}",
        paper=_PAPER, tags=("efficient_attention",),
    )  # fmt: skip
