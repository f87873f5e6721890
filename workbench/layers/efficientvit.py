"""EfficientViT (MSRA) blocks: cascaded group attention in a sandwich layout.

technique: efficient_attention

Liu et al., "EfficientViT: Memory Efficient Vision Transformer with Cascaded Group Attention"
(CVPR 2023). Two ideas, both here:

* **Cascaded group attention** (:class:`CascadedGroupAttention`): the channels are split into
  ``num_heads`` groups and head *i* attends over ``split_i + out_{i-1}`` -- each head sees a
  different slice of the features *and* refines the previous head's output, so heads stop
  computing near-duplicate maps while every head stays narrow (``dim / num_heads`` input
  channels). The query gets a depthwise conv (kernel per head) for local detail.
* **Sandwich layout** (:class:`EfficientViTBlock`): one memory-bound attention layer between
  FFN layers, each FFN preceded by a depthwise conv: ``DW -> FFN -> attention -> DW -> FFN``,
  every sub-layer residual. All norms are BatchNorm so they fold into the convs.

Not to be confused with EfficientViT (MIT, Cai et al. 2023, ReLU linear attention).
"""

from __future__ import annotations

import torch
from torch import nn

from .activations import get_act
from .channel_attention import SqueezeExcite
from .conv import ConvNormAct
from .efficientformer import AttentionBias


def conv_bn(
    in_chs: int,
    out_chs: int,
    kernel_size: int = 1,
    stride: int = 1,
    groups: int = 1,
    bn_weight_init: float = 1.0,
) -> ConvNormAct:
    """``Conv2d(bias=False) -> BN`` with the BN scale initialised to ``bn_weight_init``.

    ``bn_weight_init=0`` on the last BN of a residual branch starts the branch as identity.
    """
    m = ConvNormAct(in_chs, out_chs, kernel_size, stride, groups=groups, act=None)
    nn.init.constant_(m[1].weight, bn_weight_init)
    return m


class Residual(nn.Module):
    """``x + m(x)``, with the branch dropped per sample with probability ``drop`` in training."""

    def __init__(self, m: nn.Module, drop: float = 0.0) -> None:
        super().__init__()
        self.m = m
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.drop > 0:
            keep = x.new_empty(x.shape[0], 1, 1, 1).bernoulli_(1 - self.drop).div_(1 - self.drop)
            return x + self.m(x) * keep
        return x + self.m(x)


class ConvFFN(nn.Sequential):
    """``1x1 conv-BN -> ReLU -> 1x1 conv-BN`` (last BN zero-initialised)."""

    def __init__(self, dim: int, hidden: int, act: str = "relu") -> None:
        super().__init__()
        self.pw1 = conv_bn(dim, hidden)
        self.act = get_act(act)
        self.pw2 = conv_bn(hidden, dim, bn_weight_init=0.0)


class CascadedGroupAttention(nn.Module):
    """Cascaded group attention on one R x R window (paper eq. 5-7).

    Head *i* takes ``x_i + out_{i-1}`` (``x_i``: the *i*-th of ``num_heads`` channel chunks),
    projects it to q, k (``key_dim``) and v (``dim // num_heads`` via ``attn_ratio``), adds a
    depthwise ``kernels[i]`` conv to q, and attends with a learned relative-position bias. The
    heads' outputs are concatenated, passed through ReLU and a 1x1 conv-BN projection.

    Args:
        dim: channels (divisible by ``num_heads``).
        key_dim: query/key channels per head (16 in all EfficientViT-M models).
        num_heads: heads (= channel groups).
        attn_ratio: value channels / ``key_dim``.
        resolution: side R of the window; input must be (B, dim, R, R).
        kernels: depthwise kernel size on q, one per head.
    """

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 14,
        kernels: tuple[int, ...] = (5, 5, 5, 5),
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} must be divisible by num_heads {num_heads}")
        if len(kernels) < num_heads:
            raise ValueError(f"need one q kernel per head: {num_heads} heads, kernels={kernels}")
        self.num_heads, self.key_dim = num_heads, key_dim
        self.scale = key_dim**-0.5
        self.val_dim = int(attn_ratio * key_dim)
        self.qkvs = nn.ModuleList(
            conv_bn(dim // num_heads, 2 * key_dim + self.val_dim) for _ in range(num_heads)
        )
        self.dws = nn.ModuleList(
            conv_bn(key_dim, key_dim, kernels[i], groups=key_dim) for i in range(num_heads)
        )
        self.proj = nn.Sequential(
            get_act("relu"), conv_bn(self.val_dim * num_heads, dim, bn_weight_init=0.0)
        )
        self.attention_bias = AttentionBias(num_heads, resolution)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        chunks = x.chunk(self.num_heads, dim=1)
        bias = self.attention_bias()  # (heads, N, N)
        outs = []
        feat = chunks[0]
        # A loop is inherent: head i needs head i-1's output (the cascade).
        for i, (qkv, dw) in enumerate(zip(self.qkvs, self.dws, strict=True)):
            if i > 0:
                feat = feat + chunks[i]
            q, k, v = qkv(feat).split([self.key_dim, self.key_dim, self.val_dim], dim=1)
            q = dw(q)
            q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)  # (B, ch, N)
            attn = (q * self.scale).transpose(-2, -1) @ k + bias[i]  # (B, N, N)
            feat = (v @ attn.softmax(dim=-1).transpose(-2, -1)).view(b, self.val_dim, h, w)
            outs.append(feat)
        return self.proj(torch.cat(outs, 1))


class LocalWindowAttention(nn.Module):
    """Cascaded group attention inside non-overlapping ``window_resolution`` windows.

    Maps larger than the window are zero-padded at the bottom/right to a multiple of it, split
    into windows, attended, and cropped back. The window shrinks to ``resolution`` when the map
    is smaller (the last stage at 224 px: 4 x 4).

    Args:
        dim, key_dim, num_heads, attn_ratio, kernels: as :class:`CascadedGroupAttention`.
        resolution: side of the feature map this block is built for.
        window_resolution: window side (7).
    """

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 14,
        window_resolution: int = 7,
        kernels: tuple[int, ...] = (5, 5, 5, 5),
    ) -> None:
        super().__init__()
        self.window = min(window_resolution, resolution)
        self.attn = CascadedGroupAttention(
            dim, key_dim, num_heads, attn_ratio, self.window, kernels
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        ws = self.window
        if h == ws and w == ws:
            return self.attn(x)
        pad_b, pad_r = (ws - h % ws) % ws, (ws - w % ws) % ws
        x = nn.functional.pad(x.permute(0, 2, 3, 1), (0, 0, 0, pad_r, 0, pad_b))  # (B, H', W', C)
        ph, pw = h + pad_b, w + pad_r
        nh, nw = ph // ws, pw // ws
        x = x.view(b, nh, ws, nw, ws, c).transpose(2, 3)  # (B, nH, nW, ws, ws, C)
        x = x.reshape(b * nh * nw, ws, ws, c).permute(0, 3, 1, 2)  # windows as a batch
        x = self.attn(x)
        x = x.permute(0, 2, 3, 1).view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, ph, pw, c)
        return x[:, :h, :w].contiguous().permute(0, 3, 1, 2)


class EfficientViTBlock(nn.Sequential):
    """Sandwich layout: ``DW -> FFN -> window attention -> DW -> FFN``, each residual.

    FFNs expand by 2; depthwise convs are 3x3 conv-BN with zero-initialised BN scale.

    Args:
        dim, key_dim, num_heads, attn_ratio, resolution, window_resolution, kernels: as
            :class:`LocalWindowAttention`.
        drop_path: per-sample drop probability of each residual branch.
    """

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 14,
        window_resolution: int = 7,
        kernels: tuple[int, ...] = (5, 5, 5, 5),
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.dw0 = Residual(conv_bn(dim, dim, 3, groups=dim, bn_weight_init=0.0), drop_path)
        self.ffn0 = Residual(ConvFFN(dim, 2 * dim), drop_path)
        self.mixer = Residual(
            LocalWindowAttention(
                dim, key_dim, num_heads, attn_ratio, resolution, window_resolution, kernels
            ),
            drop_path,
        )
        self.dw1 = Residual(conv_bn(dim, dim, 3, groups=dim, bn_weight_init=0.0), drop_path)
        self.ffn1 = Residual(ConvFFN(dim, 2 * dim), drop_path)


class PatchMerging(nn.Sequential):
    """Stride-2 inverted residual without skip: ``1x1 (x4) -> ReLU -> DW3x3/2 -> ReLU -> SE -> 1x1``."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        hidden = 4 * dim
        self.conv1 = conv_bn(dim, hidden)
        self.act1 = get_act("relu")
        self.conv2 = conv_bn(hidden, hidden, 3, stride=2, groups=hidden)
        self.act2 = get_act("relu")
        self.se = SqueezeExcite(hidden, 0.25, rd_divisor=8)
        self.conv3 = conv_bn(hidden, out_dim)
