"""A tiny ViT for 28 px images with the two conditional-computation knobs of its notebook.

* **Token dropping** (EViT / ATS shape): :meth:`CondViT.set_token_keep` keeps, after block
  ``after``, only the ``keep_rate`` share of patch tokens that the class token attends to most.
  An inference-time knob (no retraining), so it is not a ``create_model`` argument.
* **Sparse MoE MLPs**: ``moe_blocks`` last blocks get a :class:`~workbench.layers.moe.MoEMLP`
  of ``num_experts`` experts, each as wide as the dense MLP, ``top_k`` active per token.

Not a published architecture: patch 4 (49 tokens at 28 px) + a class token, width 64, 4 blocks,
2 heads, MLP ratio 2 -- sized to train in about a minute on two CPU cores.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import scale_channels
from ..layers.moe import MoEMLP
from ..layers.token_drop import ViTBlock, keep_top_tokens
from ._base import Classifier
from ._factory import register_model

__all__ = ["CondViT", "cond_vit"]


def _dense_mlp(dim: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class CondViT(Classifier):
    """Patch embedding -> class token + learned positions -> blocks -> LayerNorm -> class token head.

    Args:
        num_classes, in_chans: classifier outputs and input channels.
        img_size: input side (px); ``patch`` must divide it.
        patch: patch side (px).
        dim: token width.
        depth: blocks.
        heads: attention heads.
        mlp_ratio: MLP (and expert) hidden width / ``dim``.
        moe_blocks: how many of the last blocks use a sparse MoE MLP (0: a dense ViT).
        moe_kwargs: :class:`~workbench.layers.moe.MoEMLP` options (``num_experts``, ``top_k``,
            ``balance``, ``aux_weight``, ``bias_rate``, ``capacity_factor``).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 1,
        *,
        img_size: int = 28,
        patch: int = 4,
        dim: int = 64,
        depth: int = 4,
        heads: int = 2,
        mlp_ratio: float = 2.0,
        moe_blocks: int = 0,
        moe_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        if img_size % patch:
            raise ValueError(f"patch={patch} must divide img_size={img_size}")
        if not 0 <= moe_blocks <= depth:
            raise ValueError(f"moe_blocks={moe_blocks} must be in 0..depth={depth}")
        hidden = int(dim * mlp_ratio)
        self.patch_embed = nn.Conv2d(in_chans, dim, patch, patch)
        self.num_patches = (img_size // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + self.num_patches, dim) * 0.02)
        self.blocks = nn.ModuleList(
            ViTBlock(dim, heads, MoEMLP(dim, hidden, **(moe_kwargs or {})) if i >= depth - moe_blocks else _dense_mlp(dim, hidden))
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.init_head(dim, num_classes)
        self.keep_rate, self.keep_after = 1.0, 0
        self.default_input_size = (in_chans, img_size, img_size)

    def set_token_keep(self, keep_rate: float = 1.0, after: int = 0) -> CondViT:
        """Keep the ``keep_rate`` share of patch tokens after block ``after`` (0-based); returns self.

        Raises:
            ValueError: ``keep_rate`` outside (0, 1] or ``after`` not a block index.
        """
        if not 0 < keep_rate <= 1:
            raise ValueError(f"keep_rate={keep_rate} must be in (0, 1]")
        if not 0 <= after < len(self.blocks) - 1:
            raise ValueError(f"after={after} must be a block index in 0..{len(self.blocks) - 2} (a later block must remain)")
        self.keep_rate, self.keep_after = keep_rate, after
        return self

    def moe_layers(self) -> list[MoEMLP]:
        """The model's MoE MLPs, first to last."""
        return [m for m in self.modules() if isinstance(m, MoEMLP)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, N, d)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i == self.keep_after and self.keep_rate < 1:
                x = keep_top_tokens(x, blk.attn.cls_attn, self.keep_rate)
        return self.norm(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]  # the class token


@register_model(
    default_input_size=(1, 28, 28),
    paper="(none: a tiny ViT for the conditional_computation notebook; token dropping as EViT/ATS, MoE MLPs as Switch)",
    tags=("dynamic_computation", "mixture_of_experts"),
)
def cond_vit(
    num_classes: int = 1000,
    in_chans: int = 1,
    width_mult: float = 1.0,
    small_input: bool = True,
    depth: int = 4,
    moe_blocks: int = 0,
    num_experts: int = 4,
    top_k: int = 1,
    balance: str = "aux",
    aux_weight: float = 0.01,
    bias_rate: float = 1e-3,
    capacity_factor: float | None = None,
) -> CondViT:
    """The tiny conditional ViT (1x28x28; pass ``num_classes=10`` for Fashion-MNIST).

    Args:
        num_classes, in_chans: classifier outputs and input channels.
        width_mult: scales the token width 64 (``scale_channels``, divisor 16: 2 heads of 8k).
        small_input: accepted for the zoo's uniform interface; the network is built for 28 px.
        depth: transformer blocks.
        moe_blocks: last blocks with a sparse MoE MLP (0: dense).
        num_experts, top_k, balance, aux_weight, bias_rate, capacity_factor: the MoE layers'
            options (:class:`~workbench.layers.moe.MoEMLP`).
    """
    moe = dict(num_experts=num_experts, top_k=top_k, balance=balance, aux_weight=aux_weight,
               bias_rate=bias_rate, capacity_factor=capacity_factor)  # fmt: skip
    return CondViT(num_classes, in_chans, dim=scale_channels(64, width_mult, 16), depth=depth, moe_blocks=moe_blocks, moe_kwargs=moe)
