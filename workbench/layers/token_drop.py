"""Token dropping for ViTs: keep the patch tokens the class token attends to most (EViT / ATS shape).

technique: dynamic_computation

A ViT block costs $\\approx 12 N d^2 + 2 N^2 d$ MACs for $N$ tokens of width $d$ (with an MLP
ratio of 4; ours is ``mlp_ratio``), so keeping a fraction $\\rho$ of the tokens after block $j$
scales the remaining blocks' cost by about $\\rho$ (more, through the $N^2$ term). The score is
free: the class token's attention row, averaged over heads, which the block computed anyway.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ClsAttention", "ViTBlock", "keep_top_tokens", "kept_tokens"]


def kept_tokens(patches: int, keep_rate: float) -> int:
    """Patch tokens kept out of ``patches`` at ``keep_rate`` (at least 1)."""
    if not 0 < keep_rate <= 1:
        raise ValueError(f"keep_rate={keep_rate} must be in (0, 1]")
    return max(1, math.ceil(keep_rate * patches))


def keep_top_tokens(x: torch.Tensor, scores: torch.Tensor, keep_rate: float) -> torch.Tensor:
    """Keep the class token (index 0) and the ``keep_rate`` share of patch tokens with top scores.

    Args:
        x: (B, 1 + N, d) tokens, class token first.
        scores: (B, N) a score per patch token (higher = keep).
        keep_rate: share of the N patch tokens kept, in (0, 1].

    Returns:
        (B, 1 + K, d), the class token first, kept tokens in their original order.
    """
    n = x.shape[1] - 1
    if scores.shape != (x.shape[0], n):
        raise ValueError(f"scores shape {tuple(scores.shape)} != (batch, patch tokens) = {(x.shape[0], n)}")
    k = kept_tokens(n, keep_rate)
    if k == n:
        return x
    idx = scores.topk(k, dim=1).indices.sort(dim=1).values + 1  # +1: skip the class token
    idx = torch.cat([torch.zeros_like(idx[:, :1]), idx], dim=1)
    return x.gather(1, idx[..., None].expand(-1, -1, x.shape[2]))


class ClsAttention(nn.Module):
    """Multi-head self-attention that keeps the class token's attention row (for token dropping).

    Attributes:
        cls_attn: (B, N) the last forward's attention of the class token to the patch tokens,
            mean over heads (None before the first forward).
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.cls_attn: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, h, n, d/h)
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(-1)  # (B, h, n, n)
        self.cls_attn = attn[:, :, 0, 1:].mean(1).detach()
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class ViTBlock(nn.Module):
    """Pre-norm transformer block; ``mlp`` is any token-wise module (a dense MLP or a :class:`MoEMLP`)."""

    def __init__(self, dim: int, heads: int, mlp: nn.Module) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), ClsAttention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim), mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
