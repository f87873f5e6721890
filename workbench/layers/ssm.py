"""A vision state-space mixer: EfficientViM's hidden-state-mixer SSD (HSM-SSD), in plain PyTorch.

technique: state_space_models

Lee, Choi & Kim, "EfficientViM: Efficient Vision Mamba with Hidden State Mixer based State
Space Duality" (CVPR 2025; official code github.com/mlvlab/EfficientViM, read for this port).

**The SSD view.** Mamba-2's state space duality (SSD) writes one selective-SSM layer over a
sequence ``x`` of ``L`` tokens with ``D`` channels and ``N`` hidden states as two matrix
products through a small hidden state ``h`` (D x N):

    h = x @ (A * B)^T        # (D, L) @ (L, N) -> (D, N): every state sums all tokens
    y = h @ C                # (D, N) @ (N, L) -> (D, L): every token reads all states

where ``B``, ``C`` (N x L) and the step ``dt`` are *input-dependent* projections of ``x``
(the "selective" part) and ``A`` decays/weights each token's contribution. Non-causal (an
image has no token order), so no scan is needed: two matmuls, cost O(L N D) -- linear in the
number of tokens L, where attention's QK^T is O(L^2 D).

**The hidden-state mixer.** A standard SSD layer spends most of its time in the dense
projections applied to all ``L`` tokens (gate ``z`` and output projection, O(L D^2)).
HSM-SSD applies them to the hidden state instead -- ``N`` columns instead of ``L`` (N = 49,
25, 9 in EfficientViM-M1's stages, L = 196, 49, 16) -- so channel mixing costs O(N D^2):

    h, z = split(W_hz h)                 # gate computed from the hidden state
    h = W_out (h * silu(z) + D * h)      # gated, skip-scaled, projected: all on N columns
    y = h @ C

Other choices of the official design, kept here: single head (multi-head splits are
memory-bound on small models); ``A`` is a learned per-state offset added to ``dt`` and
normalized with a softmax over the tokens (a convex weighting instead of an exponential
decay); ``B``, ``C``, ``dt`` get a 3x3 depthwise conv (local context) before use.

:class:`HSMSSD` is the mixer, :class:`EfficientViMBlock` the block around it (depthwise conv
-> HSM-SSD -> depthwise conv -> FFN, each a learned convex mix with its input), and
:class:`PatchMerging` the downsampler (an inverted residual with SE between two depthwise
convs). Tensors are (B, C, H, W) between blocks and (B, C, L) tokens inside the mixer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .channel_attention import SqueezeExcite
from .conv import ConvNormAct, make_divisible


class LayerNormChannels1d(nn.LayerNorm):
    """LayerNorm over the channel dim of a (B, C, L) token tensor (eps 1e-5, as the official code)."""

    def __init__(self, chs: int, eps: float = 1e-5) -> None:
        super().__init__(chs, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)  # (B, L, C)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps).transpose(1, 2)


class HSMSSD(nn.Module):
    """Hidden-state-mixer SSD over the ``L = H * W`` tokens of a feature map.

    Args:
        dim: channels ``D`` of the tokens.
        state_dim: number of hidden states ``N`` (49, 25, 9 in EfficientViM-M1).
        ssd_expand: width of the gated hidden state, ``ssd_expand * dim`` (1).
        a_init_range: ``A`` is initialized uniformly in this range (1, 16).

    Shapes:
        ``forward(x, hw)``: ``x`` (B, D, L) normalized tokens, ``hw = (H, W)`` with
        ``H * W = L`` -> ``(y, h)``: ``y`` (B, D, H, W) and the hidden state ``h`` (B, D, N).
    """

    def __init__(self, dim: int, state_dim: int = 64, ssd_expand: float = 1.0, a_init_range: tuple[float, float] = (1.0, 16.0)) -> None:
        super().__init__()
        self.state_dim = n = state_dim
        self.d_inner = int(ssd_expand * dim)
        # B, C and dt: input-dependent (selective) projections of the tokens, + local context
        self.bcdt_proj = nn.Conv1d(dim, 3 * n, 1, bias=False)
        self.dw = nn.Conv2d(3 * n, 3 * n, 3, padding=1, groups=3 * n, bias=False)
        self.hz_proj = nn.Conv1d(dim, 2 * self.d_inner, 1, bias=False)  # runs on N columns, not L
        self.out_proj = nn.Conv1d(self.d_inner, dim, 1, bias=False)
        self.A = nn.Parameter(torch.empty(n).uniform_(*a_init_range))
        self.D = nn.Parameter(torch.ones(1))
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, L = x.shape
        bcdt = self.dw(self.bcdt_proj(x).view(b, -1, *hw)).flatten(2)  # (B, 3N, L)
        B, C, dt = torch.split(bcdt, self.state_dim, dim=1)  # each (B, N, L)
        A = (dt + self.A.view(1, -1, 1)).softmax(-1)  # (B, N, L): per-state weights over tokens
        h = x @ (A * B).transpose(-2, -1)  # (B, D, L) @ (B, L, N) -> (B, D, N)
        h, z = torch.split(self.hz_proj(h), self.d_inner, dim=1)  # channel mixing on N columns
        h = self.out_proj(h * self.act(z) + h * self.D)  # (B, D, N)
        y = h @ C  # (B, D, N) @ (B, N, L) -> (B, D, L)
        return y.view(b, -1, *hw), h


class EfficientViMBlock(nn.Module):
    """DWConv -> HSM-SSD -> DWConv -> FFN, each mixed with its input by a learned ``alpha``.

    ``x = (1 - a) * x + a * f(x)`` with ``a = sigmoid(alpha)`` per channel, ``alpha``
    initialized at 1e-4 (so ``a`` ~ 0.5): a layer-scale-like convex residual.

    Args:
        dim: channels.
        mlp_ratio: FFN hidden width ``mlp_ratio * dim`` (4).
        state_dim: hidden states ``N`` of the mixer.
        ssd_expand: see :class:`HSMSSD`.

    Shapes:
        (B, dim, H, W) -> ``(x, h)``: (B, dim, H, W) and the mixer's hidden state (B, dim, N).
    """

    def __init__(self, dim: int, mlp_ratio: float = 4.0, state_dim: int = 64, ssd_expand: float = 1.0) -> None:
        super().__init__()
        self.dwconv1 = ConvNormAct(dim, dim, 3, groups=dim, act=None)
        self.norm = LayerNormChannels1d(dim)
        self.mixer = HSMSSD(dim, state_dim, ssd_expand)
        self.dwconv2 = ConvNormAct(dim, dim, 3, groups=dim, act=None)
        hidden = int(dim * mlp_ratio)
        self.ffn = nn.Sequential(ConvNormAct(dim, hidden, 1, act="relu"), ConvNormAct(hidden, dim, 1, act=None))
        self.alpha = nn.Parameter(1e-4 * torch.ones(4, dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.sigmoid(self.alpha).view(4, -1, 1, 1)
        x = (1 - a[0]) * x + a[0] * self.dwconv1(x)
        y, h = self.mixer(self.norm(x.flatten(2)), x.shape[2:])
        x = (1 - a[1]) * x + a[1] * y
        x = (1 - a[2]) * x + a[2] * self.dwconv2(x)
        x = (1 - a[3]) * x + a[3] * self.ffn(x)
        return x, h


class PatchMerging(nn.Module):
    """EfficientViM's downsampler: ``x + dw(x)`` -> 1x1 -> dw 3x3 s2 -> SE -> 1x1 -> ``+ dw(.)``.

    Args:
        in_chs, out_chs: channels.
        ratio: hidden width of the inverted residual, ``ratio * out_chs`` (4).
        stride: stride of the depthwise conv (2; 1 keeps the resolution).
    """

    def __init__(self, in_chs: int, out_chs: int, ratio: float = 4.0, stride: int = 2) -> None:
        super().__init__()
        hidden = int(out_chs * ratio)
        self.dwconv1 = ConvNormAct(in_chs, in_chs, 3, groups=in_chs, act=None)
        self.conv = nn.Sequential(
            ConvNormAct(in_chs, hidden, 1, act="relu"),
            ConvNormAct(hidden, hidden, 3, stride, groups=hidden, act="relu"),
            SqueezeExcite(hidden, rd_channels=make_divisible(hidden * 0.25, 8, round_limit=0.0)),
            ConvNormAct(hidden, out_chs, 1, act=None),
        )
        self.dwconv2 = ConvNormAct(out_chs, out_chs, 3, groups=out_chs, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x + self.dwconv1(x))
        return x + self.dwconv2(x)
