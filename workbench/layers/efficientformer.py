"""EfficientFormer blocks: Meta4D (pooling, NCHW) and Meta3D (attention, tokens).

technique: efficient_attention

Li et al., "EfficientFormer: Vision Transformers at MobileNet Speed" (NeurIPS 2022). The network
is a MetaFormer whose early stages use cheap 4-D blocks (pool mixer, conv-BN MLP: no reshapes,
BN foldable at inference) and only the last stage's final blocks switch to 3-D tokens with
LayerNorm and multi-head self-attention -- the paper's latency-driven "dimension-consistent"
design. Also here: :class:`AttentionBias`, the LeViT-style learned bias indexed by the
(|dy|, |dx|) offset between two positions, shared with EfficientViT.
"""

from __future__ import annotations

import torch
from torch import nn

from .activations import get_act
from .metaformer import ConvMlp, DropPath, LayerScale, LayerScale2d, Pooling


class AttentionBias(nn.Module):
    """Learned per-head bias ``B[h, i, j] = table[h, |dy_ij| * R + |dx_ij|]`` for an R x R grid.

    The gathered (heads, N, N) tensor is cached in eval mode (as timm does) so inference pays
    no gather per call; the cache is dropped on ``train()`` and device/dtype moves.

    Args:
        num_heads: heads.
        resolution: side R of the square token grid the attention runs on (N = R * R).
    """

    def __init__(self, num_heads: int, resolution: int) -> None:
        super().__init__()
        self.resolution = resolution
        ys, xs = torch.meshgrid(torch.arange(resolution), torch.arange(resolution), indexing="ij")
        pos = torch.stack((ys.flatten(), xs.flatten()))  # (2, N)
        rel = (pos[:, :, None] - pos[:, None, :]).abs()  # (2, N, N)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, resolution * resolution))
        self.register_buffer("attention_bias_idxs", rel[0] * resolution + rel[1], persistent=False)
        self._cache: dict[str, torch.Tensor] = {}

    def train(self, mode: bool = True) -> AttentionBias:
        self._cache = {}
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):
        self._cache = {}
        return super()._apply(fn, *args, **kwargs)

    def forward(self) -> torch.Tensor:
        """The (heads, N, N) bias."""
        if self.training or torch.jit.is_tracing():
            return self.attention_biases[:, self.attention_bias_idxs]
        key = str(self.attention_biases.device)
        if key not in self._cache:
            self._cache[key] = self.attention_biases[:, self.attention_bias_idxs]
        return self._cache[key]


class EfficientFormerAttention(nn.Module):
    """Multi-head self-attention on (B, N, C) tokens with a learned relative-position bias.

    ``q, k`` have ``key_dim`` channels per head and ``v`` has ``attn_ratio * key_dim``; the
    score ``q k^T / sqrt(key_dim) + bias`` is computed with ``@`` (counted by fvcore).

    Args:
        dim: token channels.
        key_dim: query/key channels per head (32).
        num_heads: heads (8).
        attn_ratio: value width / key width (4).
        resolution: side of the square token grid (7 for 224 px inputs).
    """

    def __init__(
        self,
        dim: int,
        key_dim: int = 32,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 7,
    ) -> None:
        super().__init__()
        self.num_heads, self.key_dim = num_heads, key_dim
        self.scale = key_dim**-0.5
        self.val_dim = int(attn_ratio * key_dim)
        self.qkv = nn.Linear(dim, num_heads * (2 * key_dim + self.val_dim))
        self.proj = nn.Linear(num_heads * self.val_dim, dim)
        self.attention_bias = AttentionBias(num_heads, resolution)
        self.num_tokens = resolution * resolution

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        if n != self.num_tokens:
            raise ValueError(
                f"attention bias is sized for {self.num_tokens} tokens, got {n}: build the model with the "
                "img_size it will see (EfficientFormer has a fixed input size)"
            )
        qkv = (
            self.qkv(x).reshape(b, n, self.num_heads, -1).permute(0, 2, 1, 3)
        )  # (B, heads, N, 2k+v)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.val_dim], dim=3)
        attn = (q @ k.transpose(-2, -1)) * self.scale + self.attention_bias()
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, -1)  # (B, N, heads * v)
        return self.proj(x)


class Mlp(nn.Module):
    """Token MLP ``fc1 -> act -> drop -> fc2 -> drop`` on (B, N, C)."""

    def __init__(self, dim: int, hidden: int, act: str = "gelu", drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = get_act(act)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class ToTokens(nn.Module):
    """(B, C, H, W) -> (B, H*W, C): the switch from 4-D to 3-D blocks."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)


class Meta4D(nn.Module):
    """EfficientFormer 4-D block on NCHW: pool mixer, then a 1x1-conv MLP with BatchNorm.

    No normalization before the mixer (paper eq. 2); each branch has LayerScale (init 1e-5).

    Args:
        dim: channels.
        pool_size: average-pool window of the mixer (3).
        mlp_ratio: MLP hidden width / ``dim`` (4).
        act: MLP activation (GELU).
        layer_scale_init: LayerScale init value.
        drop_path: stochastic-depth probability.
        drop: MLP dropout.
    """

    def __init__(
        self,
        dim: int,
        pool_size: int = 3,
        mlp_ratio: float = 4.0,
        act: str = "gelu",
        layer_scale_init: float = 1e-5,
        drop_path: float = 0.0,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.token_mixer = Pooling(dim, pool_size)
        self.ls1 = LayerScale2d(dim, layer_scale_init)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), act=act, norm="batchnorm", drop=drop)
        self.ls2 = LayerScale2d(dim, layer_scale_init)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.ls1(self.token_mixer(x)))
        x = x + self.drop_path(self.ls2(self.mlp(x)))
        return x


class Meta3D(nn.Module):
    """EfficientFormer 3-D block on (B, N, C) tokens: LN -> MHSA, LN -> MLP, with LayerScale.

    Args:
        dim: token channels.
        mlp_ratio: MLP hidden width / ``dim`` (4).
        act: MLP activation (GELU).
        layer_scale_init: LayerScale init value.
        drop_path: stochastic-depth probability.
        drop: MLP dropout.
        resolution: side of the square token grid (N = resolution^2; 7 at 224 px).
        **attn_kwargs: ``key_dim``, ``num_heads``, ``attn_ratio`` of
            :class:`EfficientFormerAttention`.
    """

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 4.0,
        act: str = "gelu",
        layer_scale_init: float = 1e-5,
        drop_path: float = 0.0,
        drop: float = 0.0,
        resolution: int = 7,
        **attn_kwargs,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mixer = EfficientFormerAttention(dim, resolution=resolution, **attn_kwargs)
        self.ls1 = LayerScale(dim, layer_scale_init)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act=act, drop=drop)
        self.ls2 = LayerScale(dim, layer_scale_init)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.ls1(self.token_mixer(self.norm1(x))))
        x = x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))
        return x
