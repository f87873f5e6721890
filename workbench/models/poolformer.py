"""PoolFormer (MetaFormer with a pooling token mixer) and its swappable-mixer generalization.

Yu et al., "MetaFormer Is Actually What You Need for Vision" (CVPR 2022). Four stages of
:class:`~workbench.layers.metaformer.MetaFormerBlock` at strides 4/8/16/32; the token mixer is
chosen by name (``token_mixer='attention'``, ``'dwconv'``, ``'identity'``), so the paper's
question -- how much does the mixer matter? -- is one override away.

Differences from ``timm:poolformer_*`` (parameters identical): timm's port (from *MetaFormer
Baselines*) pools first and applies a channel-only LayerNorm to the pooled vector; the
PoolFormer paper's code applies GroupNorm(1) to the final feature map and then pools. We follow
the paper, so logits of the two differ for the same weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..layers.conv import scale_channels
from ..layers.metaformer import MetaFormerBlock, get_norm2d
from ._base import Classifier, drop_path_rates
from ._factory import register_variant

_PAPER = "Yu et al., MetaFormer Is Actually What You Need for Vision, CVPR 2022"


@dataclass(frozen=True)
class MetaStage:
    """One stage: ``depth`` MetaFormer blocks with ``dim`` channels (at width 1.0).

    Attributes:
        depth: blocks in the stage.
        dim: channels; stages after the first start with a 3x3/2 conv to ``dim``.
        mixer: token mixer name (see :func:`workbench.layers.metaformer.list_token_mixers`).
    """

    depth: int
    dim: int
    mixer: str = "pooling"


def _stages(depths: Sequence[int], dims: Sequence[int]) -> tuple[MetaStage, ...]:
    return tuple(MetaStage(d, c) for d, c in zip(depths, dims, strict=True))


# (stages, layer-scale init) per variant: PoolFormer paper Table 1 / official configs.
_S_DIMS = (64, 128, 320, 512)
POOLFORMER_CFGS: dict[str, tuple[tuple[MetaStage, ...], float]] = {
    "s12": (_stages((2, 2, 6, 2), _S_DIMS), 1e-5),
    "s24": (_stages((4, 4, 12, 4), _S_DIMS), 1e-5),
    "s36": (_stages((6, 6, 18, 6), _S_DIMS), 1e-6),
}


class MetaFormer(Classifier):
    """A four-stage MetaFormer image classifier (PoolFormer layout).

    Stem: 7x7/4 conv (padding 2, with bias). Stage *i > 0* opens with a 3x3/2 conv (with bias)
    to its width. Head: GroupNorm(1) -> global average -> dropout -> ``classifier``.

    Args:
        stages: the architecture table (:class:`MetaStage` rows at width 1.0).
        num_classes: classifier outputs.
        in_chans: input channels.
        width_mult: multiplies every stage width (``make_divisible(., 8)``); ``None`` = 1.0.
        small_input: stem stride 1 (padding 3) instead of 4, total stride 32 -> 8, for 28-32 px
            inputs (32 px: maps of 32/16/8/4 px). Nothing else changes.
        token_mixer: overrides every row's mixer (``'pooling'``, ``'attention'``, ``'dwconv'``,
            ``'identity'``).
        mixer_kwargs: forwarded to each token mixer (e.g. ``{'pool_size': 5}``).
        norm: block norm (``'groupnorm'`` as the paper, ``'layernorm'``, ``'batchnorm'``).
        act: MLP activation.
        mlp_ratio: MLP expansion.
        layer_scale_init: LayerScale init (``None`` disables it).
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly from 0 to this over all blocks.
    """

    def __init__(
        self,
        stages: Sequence[MetaStage],
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float | None = None,
        small_input: bool = False,
        token_mixer: str | None = None,
        mixer_kwargs: dict | None = None,
        norm: str = "groupnorm",
        act: str = "gelu",
        mlp_ratio: float = 4.0,
        layer_scale_init: float | None = 1e-5,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        dims = [scale_channels(s.dim, width_mult) for s in stages]
        dpr = drop_path_rates(stages, drop_path_rate)
        self.stem = nn.Conv2d(
            in_chans, dims[0], 7, stride=1 if small_input else 4, padding=3 if small_input else 2
        )
        blocks_done, prev, modules = 0, dims[0], []
        for row, dim in zip(stages, dims, strict=True):
            layers = [nn.Conv2d(prev, dim, 3, stride=2, padding=1)] if modules else []
            for j in range(row.depth):
                layers.append(
                    MetaFormerBlock(
                        dim,
                        token_mixer or row.mixer,
                        mlp_ratio,
                        act,
                        norm,
                        layer_scale_init,
                        drop_path=dpr[blocks_done + j],
                        mixer_kwargs=mixer_kwargs,
                    )
                )
            blocks_done += row.depth
            modules.append(nn.Sequential(*layers))
            prev = dim
        self.stages = nn.Sequential(*modules)
        self.norm = get_norm2d(norm, prev)
        self.init_head(prev, num_classes, drop_rate)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, num_features, H/32, W/32) normalized map."""
        return self.norm(self.stages(self.stem(x)))


def _poolformer(variant: str, **kwargs) -> MetaFormer:
    stages, ls_init = POOLFORMER_CFGS[variant]
    kwargs.setdefault("layer_scale_init", ls_init)
    return MetaFormer(stages, **kwargs)


for _variant in POOLFORMER_CFGS:
    register_variant(
        f"poolformer_{_variant}", _poolformer, _variant, reference=f"timm:poolformer_{_variant}",
        paper=_PAPER, tags=("large_kernel_convnets",),
    )  # fmt: skip
