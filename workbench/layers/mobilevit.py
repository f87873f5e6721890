"""MobileViT block: convolutions for local features, a transformer across patches for global ones.

technique: efficient_attention

Mehta & Rastegari, "MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision
Transformer" (ICLR 2022). A ViT attends over *patches* and loses the
pixels' spatial order inside them; MobileViT keeps an NCHW map and lets attention connect
pixels that sit at the **same position in different patches**:

1. local representation: ``kxk conv-BN-act`` (C -> C) then ``1x1 conv`` (C -> d);
2. unfold: (B, d, H, W) -> (B * P, N, d), with patches of ``p x p`` pixels, ``P = p^2``
   positions per patch and ``N = HW / P`` patches; sequence ``i`` holds pixel ``i`` of every
   patch;
3. global representation: ``L`` pre-norm transformer blocks on each of the ``P`` sequences
   (cost ``P * N^2 * d = HW * N * d`` for attention, ``P`` times less than attention over all
   ``HW`` pixels), then LayerNorm;
4. fold back to (B, d, H, W), ``1x1 conv-BN-act`` (d -> C);
5. fusion: ``concat(x, y)`` (2C channels) -> ``kxk conv-BN-act`` -> C.

Each pixel therefore sees its ``k x k`` neighbourhood through the conv and, through attention,
every patch's pixel at the same offset: a global receptive field at ``1/P`` of the cost.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .activations import get_act
from .conv import ConvNormAct


class TransformerBlock(nn.Module):
    """Pre-norm ViT block on tokens (B, N, C): ``x + MHSA(LN(x))``, then ``x + MLP(LN(x))``.

    Dosovitskiy et al., ICLR 2021. Attention: ``num_heads`` heads of ``C / num_heads`` dims, biased
    qkv and output projections, ``F.scaled_dot_product_attention``; MLP: ``C -> mlp_ratio * C ->
    C`` with ``act`` in between.

    Args:
        dim: token width ``C`` (divisible by ``num_heads``).
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / ``dim``.
        act: MLP activation (MobileViT: ``'silu'``).
    """

    def __init__(self, dim: int, num_heads: int = 4, mlp_ratio: float = 2.0, act: str = "gelu") -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), get_act(act), nn.Linear(hidden, dim))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Multi-head self-attention, (B, N, C) -> (B, N, C)."""
        b, n, c = x.shape
        # (B, N, 3C) -> (3, B, heads, N, C/heads)
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MobileViTBlock(nn.Module):
    """MobileViT block: local conv -> unfold -> transformer -> fold -> fuse, (B, C, H, W) in and out.

    ::

        y = conv1x1(convkxk(x))                       (B, d, H, W)        local, C -> d
        t = unfold(y)                                 (B*P, N, d)         P = p*p, N = HW / P
        t = LN(transformer^L(t))                      (B*P, N, d)         attention within each
                                                                          of the P sequences
        y = conv1x1(fold(t))                          (B, C, H, W)        d -> C
        out = convkxk(concat(x, y))                   (B, C, H, W)        fusion, 2C -> C

    Args:
        chs: input and output channels ``C``.
        transformer_dim: token width ``d`` inside the transformer.
        depth: transformer blocks ``L``.
        patch_size: patch side ``p`` (2 in MobileViT-XXS/XS/S).
        num_heads: attention heads.
        mlp_ratio: transformer MLP ratio.
        kernel_size: kernel of the local and of the fusion conv.
        act: activation of the convs and the MLP.

    Feature maps whose side is not a multiple of ``p`` are resized (bilinear) to the next
    multiple for the transformer and back afterwards, as the reference code does.
    """

    def __init__(
        self,
        chs: int,
        transformer_dim: int,
        depth: int = 2,
        patch_size: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        kernel_size: int = 3,
        act: str = "silu",
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.conv_kxk = ConvNormAct(chs, chs, kernel_size, act=act)
        self.conv_1x1 = nn.Conv2d(chs, transformer_dim, 1, bias=False)
        self.transformer = nn.Sequential(
            *[TransformerBlock(transformer_dim, num_heads, mlp_ratio, act) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(transformer_dim)
        self.conv_proj = ConvNormAct(transformer_dim, chs, 1, act=act)
        self.conv_fusion = ConvNormAct(2 * chs, chs, kernel_size, act=act)

    def unfold(self, x: torch.Tensor) -> torch.Tensor:
        """(B, d, H, W) -> (B * P, N, d): sequence ``i`` = pixel ``i`` of every patch."""
        b, d, h, w = x.shape
        p = self.patch_size
        x = x.reshape(b, d, h // p, p, w // p, p)  # (B, d, nh, p, nw, p)
        x = x.permute(0, 3, 5, 2, 4, 1)  # (B, p, p, nh, nw, d)
        return x.reshape(b * p * p, (h // p) * (w // p), d)

    def fold(self, x: torch.Tensor, b: int, h: int, w: int) -> torch.Tensor:
        """Inverse of :meth:`unfold`: (B * P, N, d) -> (B, d, H, W)."""
        p = self.patch_size
        x = x.reshape(b, p, p, h // p, w // p, -1)  # (B, p, p, nh, nw, d)
        x = x.permute(0, 5, 3, 1, 4, 2)  # (B, d, nh, p, nw, p)
        return x.reshape(b, -1, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        y = self.conv_1x1(self.conv_kxk(x))
        b, _, h, w = y.shape
        p = self.patch_size
        hp, wp = math.ceil(h / p) * p, math.ceil(w / p) * p
        if (hp, wp) != (h, w):
            y = F.interpolate(y, size=(hp, wp), mode="bilinear", align_corners=False)
        y = self.norm(self.transformer(self.unfold(y)))
        y = self.fold(y, b, hp, wp)
        if (hp, wp) != (h, w):
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        y = self.conv_proj(y)
        return self.conv_fusion(torch.cat((shortcut, y), dim=1))
