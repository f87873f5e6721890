"""RepViT: MobileNetV3 rebuilt with ViT macro/micro design, re-parameterizable.

Wang et al., "RepViT: Revisiting Mobile CNN From ViT Perspective" (CVPR 2024). Stem of two
3x3/2 conv-BN (GELU between), four stages of :class:`~workbench.layers.repvit.RepViTBlock`
(SE on every other block) at strides 4/8/16/32; stages 2-4 open with
:class:`~workbench.layers.repvit.RepViTDownsample`. Head: global average -> BN1d -> linear,
plus a BN1d -> linear distillation head (logits averaged), as the official code and
``timm:repvit_*`` (``distillation=True``).

Train vs deploy: the paper's numbers (M0.9: 5.1 M params, 0.8 G MACs) are for the deploy form,
where :meth:`RepViT.reparameterize` plus conv-BN folding
(:func:`workbench.layers.reparameterization.reparameterize_model`) turn each token mixer into one
depthwise conv and the two BN1d-linear heads into one linear layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..layers.activations import get_act
from ..layers.conv import scale_channels
from ..layers.efficientvit import conv_bn
from ..layers.repvit import RepViTBlock, RepViTDownsample
from ._base import DistilledClassifier, drop_path_rates
from ._factory import register_variant

_PAPER = "Wang et al., RepViT: Revisiting Mobile CNN From ViT Perspective, CVPR 2024"


@dataclass(frozen=True)
class RepViTStage:
    """One stage at width 1.0: ``depth`` RepViT blocks with ``dim`` channels.

    Stages after the first open with a :class:`RepViTDownsample` (stride 2) to ``dim``.
    """

    dim: int
    depth: int


def _stages(dims: Sequence[int], depths: Sequence[int]) -> tuple[RepViTStage, ...]:
    return tuple(RepViTStage(c, d) for c, d in zip(dims, depths, strict=True))


# Official model zoo / timm (non-legacy "m0_9", "m1_0", "m1_1" configs).
REPVIT_CFGS: dict[str, tuple[RepViTStage, ...]] = {
    "m0_9": _stages((48, 96, 192, 384), (2, 2, 14, 2)),
    "m1_0": _stages((56, 112, 224, 448), (2, 2, 14, 2)),
    "m1_1": _stages((64, 128, 256, 512), (2, 2, 12, 2)),
}


def _fold_bn1d_linear(bn: nn.BatchNorm1d, linear: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``linear(bn(x))`` with ``bn`` in eval mode."""
    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
    shift = bn.bias - bn.running_mean * scale
    return linear.weight * scale, linear.bias + linear.weight @ shift


class RepViT(DistilledClassifier):
    """RepViT classifier.

    Args:
        stages: architecture table (:class:`RepViTStage` rows at width 1.0).
        num_classes: classifier outputs.
        in_chans: input channels.
        width_mult: multiplies every stage width (``make_divisible(., 8)``); ``None`` = 1.0.
        small_input: both stem convs stride 1 (total stride 32 -> 8): 32 px inputs give
            32/16/8/4 px maps.
        distillation: keep the distillation head (official/timm default); ``False`` drops it.
        mlp_ratio: FFN expansion (2).
        kernel_size: depthwise kernel of token mixers and downsampling (3).
        act: activation (GELU).
        drop_rate: dropout before the classifier(s).
        drop_path_rate: stochastic depth on the blocks' FFN branch, linear in depth.
    """

    def __init__(
        self,
        stages: Sequence[RepViTStage],
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float | None = None,
        small_input: bool = False,
        distillation: bool = True,
        mlp_ratio: float = 2,
        kernel_size: int = 3,
        act: str = "gelu",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        dims = [scale_channels(s.dim, width_mult) for s in stages]
        stem_stride = 1 if small_input else 2
        self.stem = nn.Sequential(
            conv_bn(in_chans, dims[0] // 2, 3, stem_stride),
            get_act(act),
            conv_bn(dims[0] // 2, dims[0], 3, stem_stride),
        )
        dpr = drop_path_rates(stages, drop_path_rate)
        prev, modules = dims[0], []
        for i, (row, dim) in enumerate(zip(stages, dims, strict=True)):
            layers: list[nn.Module] = (
                [RepViTDownsample(prev, dim, mlp_ratio, kernel_size, act)] if i > 0 else []
            )
            for j in range(row.depth):
                layers.append(
                    RepViTBlock(
                        dim,
                        mlp_ratio,
                        kernel_size,
                        use_se=j % 2 == 0,
                        act=act,
                        drop_path=dpr.pop(0),
                    )
                )
            modules.append(nn.Sequential(*layers))
            prev = dim
        self.stages = nn.Sequential(*modules)
        self.head_norm = nn.BatchNorm1d(prev)
        self.init_head(prev, num_classes, drop_rate)
        self.head_norm_dist = nn.BatchNorm1d(prev) if distillation else None
        self.init_dist_head(distillation)
        for fc in (self.classifier, self.classifier_dist):
            if fc is not None:
                nn.init.trunc_normal_(fc.weight, std=0.02)
                nn.init.zeros_(fc.bias)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Map -> logits: each head is BatchNorm1d -> linear; with distillation, their mean."""
        x = self.head_drop(self.pool(x))
        if pre_logits:
            return x
        if self.classifier_dist is None:
            return self.classifier(self.head_norm(x))
        return (
            self.classifier(self.head_norm(x)) + self.classifier_dist(self.head_norm_dist(x))
        ) / 2

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Deploy form in place: fold every token mixer, and the head(s) into one linear layer.

        The two heads' average is linear in their weights, so BN1d -> linear (x2) -> mean is one
        ``Linear``. Conv-BN pairs elsewhere are folded by
        :func:`workbench.layers.reparameterization.reparameterize_model`, which also calls this.
        Equivalent to the train form in eval mode only (BN running statistics).
        """
        for m in self.modules():
            if m is not self and callable(getattr(m, "reparameterize", None)):
                m.reparameterize()
        if isinstance(self.head_norm, nn.Identity):
            return
        w, b = _fold_bn1d_linear(self.head_norm, self.classifier)
        if self.classifier_dist is not None:
            wd, bd = _fold_bn1d_linear(self.head_norm_dist, self.classifier_dist)
            w, b = (w + wd) / 2, (b + bd) / 2
        fused = nn.Linear(w.shape[1], w.shape[0], device=w.device, dtype=w.dtype)
        fused.weight.copy_(w)
        fused.bias.copy_(b)
        self.classifier, self.head_norm = fused, nn.Identity()
        self.classifier_dist = self.head_norm_dist = None


def _repvit(variant: str, **kwargs) -> RepViT:
    return RepViT(REPVIT_CFGS[variant], **kwargs)


for _variant in REPVIT_CFGS:
    register_variant(
        f"repvit_{_variant}", _repvit, _variant, reference=f"timm:repvit_{_variant}", paper=_PAPER,
        tags=("reparameterization", "mobile_cnn", "channel_attention"),
    )  # fmt: skip
