"""Mobile MQA: multi-query attention on NCHW maps with spatially reduced keys and values.

technique: efficient_attention

Qin et al., "MobileNetV4: Universal Models for the Mobile Ecosystem" (ECCV 2024). On
mobile accelerators attention is limited by memory traffic, not by MACs, so Mobile MQA cuts the
bytes moved in two ways:

* **multi-query** (Shazeer, "Fast Transformer Decoding: One Write-Head is All You Need", 2019):
  ``h`` query heads share ONE key head and ONE value head, so K and V are ``h`` times smaller;
* **spatial reduction** of K and V (as PVT's SRA): a strided depthwise conv + BN shrinks the
  ``N = H*W`` key/value positions to ``M = N / kv_stride^2`` before their projections.

The formula and shapes are in :class:`MultiQueryAttention2d`'s docstring; :class:`MobileMQABlock`
is the residual block around it: ``x + gamma * attn(BN(x))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .conv import ConvNormAct
from .metaformer import LayerScale2d


class MultiQueryAttention2d(nn.Module):
    """Multi-query attention with optional key/value downsampling.

    With ``d`` = key/value dim per head, for an input ``x`` of shape (B, C, H, W)::

        Q = W_q x                        (B, h, N, d)      1x1 conv C -> h*d, split into heads
        K = W_k BN(dw_s(x))              (B, 1, M, d)      one shared head
        V = W_v BN(dw_s(x))              (B, 1, M, d)      (separate dw conv from K's)
        O = softmax(Q K^T / sqrt(d)) V   (B, h, N, d)      K, V broadcast over the h heads
        y = W_o concat_heads(O)          (B, C_out, H, W)  1x1 conv h*d -> C_out

    Cost: ``N*M*h*2d`` MACs for the two attention products (``kv_stride=2`` quarters it) plus the
    projections; K/V activations ``2*M*d`` instead of ``2*N*h*d`` values.

    Args:
        dim: input channels ``C``.
        dim_out: output channels (default ``dim``).
        num_heads: query heads ``h``.
        key_dim: per-head query/key dim ``d``.
        value_dim: value dim (default ``key_dim``).
        kv_stride: stride of the depthwise conv that shrinks keys and values; 1 = none.
        dw_kernel_size: kernel of that depthwise conv.

    Projections have no bias (the reference code's choice).
    """

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        num_heads: int = 8,
        key_dim: int = 64,
        value_dim: int | None = None,
        kv_stride: int = 1,
        dw_kernel_size: int = 3,
    ) -> None:
        super().__init__()
        dim_out = dim_out or dim
        value_dim = value_dim or key_dim
        self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, value_dim
        self.query = nn.Conv2d(dim, num_heads * key_dim, 1, bias=False)
        # K and V each get their own downsampling conv: they look at different features
        self.key = nn.Sequential(*self._reduce(dim, kv_stride, dw_kernel_size), nn.Conv2d(dim, key_dim, 1, bias=False))
        self.value = nn.Sequential(*self._reduce(dim, kv_stride, dw_kernel_size), nn.Conv2d(dim, value_dim, 1, bias=False))
        self.output = nn.Conv2d(num_heads * value_dim, dim_out, 1, bias=False)

    @staticmethod
    def _reduce(dim: int, stride: int, k: int) -> list[nn.Module]:
        return [ConvNormAct(dim, dim, k, stride, groups=dim, act=None)] if stride > 1 else []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        # (B, h*d, H, W) -> (B, h, d, N) -> (B, h, N, d)
        q = self.query(x).reshape(b, self.num_heads, self.key_dim, h * w).transpose(-1, -2)
        # (B, d, H', W') -> (B, 1, M, d): the single key/value head, broadcast over the h heads
        k = self.key(x).flatten(2).transpose(1, 2).unsqueeze(1)
        v = self.value(x).flatten(2).transpose(1, 2).unsqueeze(1)
        # SDPA broadcasts the single K/V head over the h query heads: no copy of K or V
        o = F.scaled_dot_product_attention(q, k, v)
        # (B, h, N, d) -> (B, N, h*d) -> (B, h*d, H, W)
        o = o.transpose(1, 2).reshape(b, h, w, self.num_heads * self.value_dim).permute(0, 3, 1, 2)
        return self.output(o)


class MobileMQABlock(nn.Module):
    """MobileNetV4-hybrid attention block: ``x + layer_scale(MQA(BN(x)))``.

    Pre-norm with BatchNorm (foldable into the query/key/value convs at deployment, unlike
    LayerNorm), the residual only when input and output shapes match.

    Args:
        in_chs, out_chs: channels.
        num_heads, key_dim, kv_stride, dw_kernel_size: see :class:`MultiQueryAttention2d`.
        layer_scale: initial per-channel output scale (1e-5 in MobileNetV4); ``None`` = none.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        num_heads: int = 8,
        key_dim: int = 64,
        kv_stride: int = 1,
        dw_kernel_size: int = 3,
        layer_scale: float | None = 1e-5,
    ) -> None:
        super().__init__()
        self.has_skip = in_chs == out_chs
        self.norm = nn.BatchNorm2d(in_chs)
        self.attn = MultiQueryAttention2d(
            in_chs, out_chs, num_heads, key_dim, kv_stride=kv_stride, dw_kernel_size=dw_kernel_size
        )
        self.layer_scale = LayerScale2d(out_chs, layer_scale) if layer_scale is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layer_scale(self.attn(self.norm(x)))
        return x + y if self.has_skip else y
