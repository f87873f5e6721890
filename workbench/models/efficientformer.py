"""EfficientFormer: a latency-driven MetaFormer with 4-D pooling blocks and a 3-D attention tail.

Li et al., "EfficientFormer: Vision Transformers at MobileNet Speed" (NeurIPS 2022). Stem of two
3x3/2 conv-BN-ReLU, four stages of :class:`~workbench.layers.efficientformer.Meta4D` blocks at
strides 4/8/16/32, and in the last stage the final ``num_vit`` blocks are
:class:`~workbench.layers.efficientformer.Meta3D` (LayerNorm + MHSA on the 7 x 7 tokens).

Like the official code and ``timm:efficientformer_l*``, the model carries a second
(distillation) classifier trained against a teacher (DeiT-style hard distillation); at
inference the two heads' logits are averaged. The paper's parameter counts include it
(L1: 12.29 M with, 11.84 M without).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..layers.conv import scale_channels
from ..layers.efficientformer import Meta3D, Meta4D, ToTokens
from ._base import DistilledClassifier, drop_path_rates
from ._factory import register_variant

_PAPER = "Li et al., EfficientFormer: Vision Transformers at MobileNet Speed, NeurIPS 2022"


@dataclass(frozen=True)
class EFStage:
    """One stage at width 1.0.

    Attributes:
        depth: blocks in the stage (Meta4D + Meta3D).
        dim: channels; stages after the first open with a 3x3/2 conv-BN to ``dim``.
        num_vit: how many of the last blocks are Meta3D (attention); only the last stage has any.
    """

    depth: int
    dim: int
    num_vit: int = 0


EFFICIENTFORMER_CFGS: dict[str, tuple[EFStage, ...]] = {
    "l1": (EFStage(3, 48), EFStage(2, 96), EFStage(6, 224), EFStage(4, 448, num_vit=1)),
    "l3": (EFStage(4, 64), EFStage(4, 128), EFStage(12, 320), EFStage(6, 512, num_vit=4)),
}


def _down(size: int, stride: int) -> int:
    """Output side of a 3x3 conv with padding 1 and ``stride``."""
    return (size - 1) // stride + 1


class EfficientFormer(DistilledClassifier):
    """EfficientFormer image classifier.

    Args:
        stages: architecture table (:class:`EFStage` rows at width 1.0).
        num_classes: classifier outputs.
        in_chans: input channels.
        width_mult: multiplies every stage width (``make_divisible(., 8)``); ``None`` = 1.0.
        small_input: both stem convs stride 1 (total stride 32 -> 8); a 32 px input gives
            32/16/8/4 px maps, 28 px gives 28/14/7/4.
        img_size: input side the attention bias is sized for (224; 32 with ``small_input``).
            The Meta3D blocks only accept the token grid this implies.
        distillation: keep the distillation classifier (timm/official default); ``False`` drops it.
        pool_size, mlp_ratio, act, layer_scale_init: block options (3, 4, GELU, 1e-5).
        key_dim, num_heads, attn_ratio: Meta3D attention (32, 8, 4).
        drop_rate: dropout before the classifiers.
        drop_path_rate: stochastic depth, rising linearly from 0 to this over all blocks.
    """

    def __init__(
        self,
        stages: Sequence[EFStage],
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float | None = None,
        small_input: bool = False,
        img_size: int | None = None,
        distillation: bool = True,
        pool_size: int = 3,
        mlp_ratio: float = 4.0,
        act: str = "gelu",
        layer_scale_init: float = 1e-5,
        key_dim: int = 32,
        num_heads: int = 8,
        attn_ratio: float = 4,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        dims = [scale_channels(s.dim, width_mult) for s in stages]
        stem_stride = 1 if small_input else 2
        # Conv biases before BN are redundant but kept: the official model (and timm) has them.
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, dims[0] // 2, 3, stem_stride, 1),
            nn.BatchNorm2d(dims[0] // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(dims[0] // 2, dims[0], 3, stem_stride, 1),
            nn.BatchNorm2d(dims[0]),
            nn.ReLU(inplace=True),
        )
        res = _down(_down(img_size or (32 if small_input else 224), stem_stride), stem_stride)
        dpr = drop_path_rates(stages, drop_path_rate)
        block_kw = dict(mlp_ratio=mlp_ratio, act=act, layer_scale_init=layer_scale_init)
        prev, modules = dims[0], []
        for i, (row, dim) in enumerate(zip(stages, dims, strict=True)):
            layers: list[nn.Module] = []
            if i > 0:
                layers.append(nn.Sequential(nn.Conv2d(prev, dim, 3, 2, 1), nn.BatchNorm2d(dim)))
                res = _down(res, 2)
            n4d = row.depth - row.num_vit
            for j in range(row.depth):
                dp = dpr.pop(0)
                if j < n4d:
                    layers.append(Meta4D(dim, pool_size, drop_path=dp, **block_kw))
                    continue
                if j == n4d:
                    layers.append(ToTokens())
                layers.append(
                    Meta3D(
                        dim,
                        drop_path=dp,
                        resolution=res,
                        key_dim=key_dim,
                        num_heads=num_heads,
                        attn_ratio=attn_ratio,
                        **block_kw,
                    )
                )
            if i == len(stages) - 1 and row.num_vit == 0:
                layers.append(ToTokens())  # a pure-4D ablation still ends in tokens for the head
            modules.append(nn.Sequential(*layers))
            prev = dim
        self.stages = nn.Sequential(*modules)
        self.norm = nn.LayerNorm(prev)
        self.init_head(prev, num_classes, drop_rate)
        self.init_dist_head(distillation)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, N, num_features) normalized tokens (N = (H/32)^2)."""
        return self.norm(self.stages(self.stem(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Tokens -> logits: mean of the classifier and distillation heads (as timm at eval)."""
        x = self.head_drop(self.pool(x))
        if pre_logits or self.classifier_dist is None:
            return x if pre_logits else self.classifier(x)
        return (self.classifier(x) + self.classifier_dist(x)) / 2


for _variant in EFFICIENTFORMER_CFGS:
    register_variant(
        f"efficientformer_{_variant}", EfficientFormer, EFFICIENTFORMER_CFGS[_variant],
        reference=f"timm:efficientformer_{_variant}", paper=_PAPER,
        tags=("efficient_attention", "large_kernel_convnets"),
    )  # fmt: skip
