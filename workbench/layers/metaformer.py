"""MetaFormer block with a token mixer chosen by name.

technique: large_kernel_convnets

Yu et al., "MetaFormer Is Actually What You Need for Vision" (CVPR 2022) argue that the
*architecture* of a transformer block -- ``x + mixer(norm(x))`` then ``x + mlp(norm(x))`` --
matters more than the token mixer inside it: even parameter-free average pooling (PoolFormer)
competes with attention. This module makes that claim testable by swapping the mixer by name:

* ``'pooling'``  -- ``avgpool3x3(x) - x`` (PoolFormer; the ``- x`` cancels the residual's copy).
* ``'attention'`` -- multi-head self-attention over all H*W tokens (``head_dim`` 32 channels).
* ``'dwconv'``   -- a depthwise k x k convolution (the paper's Table 5 ablation swaps pooling
  for depthwise convolution).
* ``'identity'`` -- no token mixing at all (the paper's lower bound, "IdentityFormer").

Tensors are NCHW throughout; the attention mixer flattens to tokens internally. Also here:
:class:`LayerNorm2d`, :class:`LayerScale`/:class:`LayerScale2d` (Touvron et al., CaiT 2021),
:class:`DropPath` (stochastic depth) and :class:`ConvMlp`, reused by EfficientFormer and
ConvNeXt.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .activations import get_act


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dim of an NCHW tensor (ConvNeXt / timm ``LayerNorm2d``).

    Args:
        chs: channels.
        eps: added to the variance (1e-6 as ConvNeXt; the MetaFormer norm uses 1e-5).
    """

    def __init__(self, chs: int, eps: float = 1e-6) -> None:
        super().__init__(chs, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class GroupNorm1(nn.GroupNorm):
    """GroupNorm with one group: normalizes over (C, H, W) per sample (PoolFormer's norm)."""

    def __init__(self, num_channels: int, eps: float = 1e-5) -> None:
        super().__init__(1, num_channels, eps=eps)


_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "groupnorm": GroupNorm1,
    "layernorm": partial(LayerNorm2d, eps=1e-5),  # nn.LayerNorm's default eps
    "batchnorm": nn.BatchNorm2d,
}


def get_norm2d(name: str, dim: int) -> nn.Module:
    """NCHW normalization by name (``'groupnorm'``, ``'layernorm'``, ``'batchnorm'``).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name not in _NORMS:
        raise ValueError(f"unknown norm {name!r}; valid: {', '.join(sorted(_NORMS))}")
    return _NORMS[name](dim)


class LayerScale(nn.Module):
    """Per-channel learnable scale on the last dim (tokens, ``(B, N, C)``), init ``init_value``."""

    def __init__(self, dim: int, init_value: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(init_value * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class LayerScale2d(LayerScale):
    """:class:`LayerScale` for NCHW tensors (scale broadcast over H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1)


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample with probability ``p``."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)  # rescale so the expectation is unchanged


class ConvMlp(nn.Sequential):
    """Channel MLP with 1x1 convs: ``fc1 -> [norm] -> act -> drop -> fc2 -> [norm] -> drop``.

    A Sequential so that :func:`workbench.layers.reparameterization.reparameterize_model` folds the
    optional BatchNorms into the convs.

    Args:
        dim: input/output channels.
        hidden: hidden channels (``mlp_ratio * dim`` in MetaFormer, 4 by default).
        act: activation name.
        norm: ``None`` (PoolFormer) or a :func:`get_norm2d` name after each conv
            (EfficientFormer's Meta4D uses ``'batchnorm'``).
        drop: dropout probability after the activation and after ``fc2``.
    """

    def __init__(
        self, dim: int, hidden: int, act: str = "gelu", norm: str | None = None, drop: float = 0.0
    ) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.norm1 = get_norm2d(norm, hidden) if norm else nn.Identity()
        self.act = get_act(act)
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.norm2 = get_norm2d(norm, dim) if norm else nn.Identity()
        self.drop2 = nn.Dropout(drop)


# --- token mixers: each takes (B, C, H, W) and returns the same shape -------------------------


class Pooling(nn.Module):
    """PoolFormer token mixer: ``avgpool(x) - x``, zero parameters.

    ``count_include_pad=False`` so border tokens average only real neighbours (as the paper).
    """

    def __init__(self, dim: int, pool_size: int = 3) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(
            pool_size, stride=1, padding=pool_size // 2, count_include_pad=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) - x


class DWConvMixer(nn.Module):
    """Depthwise ``kernel_size`` x ``kernel_size`` convolution (with bias) as the token mixer."""

    def __init__(self, dim: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class AttentionMixer(nn.Module):
    """Global multi-head self-attention on NCHW maps (MetaFormer baselines' ``Attention``).

    ``num_heads = dim // head_dim``; qkv and output projections have no bias, as in the
    MetaFormer reference. Uses ``F.scaled_dot_product_attention`` like timm, so MAC counters need
    an SDPA handle (2 * B * heads * N^2 * head_dim multiply-adds).
    """

    def __init__(self, dim: int, head_dim: int = 32) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.num_heads = max(dim // head_dim, 1)
        inner = self.num_heads * head_dim
        self.qkv = nn.Linear(dim, 3 * inner, bias=False)
        self.proj = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)  # (B, N, C), N = H*W
        qkv = self.qkv(t).reshape(b, h * w, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, head_dim)
        t = F.scaled_dot_product_attention(q, k, v)
        t = self.proj(t.transpose(1, 2).reshape(b, h * w, -1))
        return t.transpose(1, 2).reshape(b, c, h, w)


class IdentityMixer(nn.Identity):
    """No token mixing (accepts and ignores ``dim`` so it fits the mixer table)."""

    def __init__(self, dim: int) -> None:
        super().__init__()


_TOKEN_MIXERS: dict[str, type[nn.Module]] = {
    "pooling": Pooling,
    "attention": AttentionMixer,
    "dwconv": DWConvMixer,
    "identity": IdentityMixer,
}


def register_token_mixer(name: str, cls: type[nn.Module]) -> None:
    """Add a mixer ``cls(dim, **kwargs)`` under ``name`` (other modules extend the table this way).

    Raises:
        ValueError: ``name`` is taken by another class.
    """
    if _TOKEN_MIXERS.get(name, cls) is not cls:
        raise ValueError(f"token mixer {name!r} is already registered")
    _TOKEN_MIXERS[name] = cls


def list_token_mixers() -> list[str]:
    """Names accepted by :func:`get_token_mixer`."""
    return sorted(_TOKEN_MIXERS)


def get_token_mixer(name: str, dim: int, **kwargs) -> nn.Module:
    """Build the token mixer called ``name`` for ``dim`` channels.

    Args:
        name: one of :func:`list_token_mixers`.
        dim: channels of the NCHW input.
        **kwargs: mixer options (``pool_size`` for pooling, ``kernel_size`` for dwconv,
            ``head_dim`` for attention).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name not in _TOKEN_MIXERS:
        raise ValueError(f"unknown token mixer {name!r}; valid: {', '.join(list_token_mixers())}")
    return _TOKEN_MIXERS[name](dim, **kwargs)


class MetaFormerBlock(nn.Module):
    """``x + ls1(mixer(norm1(x)))`` then ``x + ls2(mlp(norm2(x)))`` on NCHW maps.

    Args:
        dim: channels.
        token_mixer: name from :func:`list_token_mixers`.
        mlp_ratio: channel-MLP hidden width / ``dim`` (4 in the paper).
        act: MLP activation (GELU in the paper).
        norm: ``'groupnorm'`` (PoolFormer: one group over C, H, W), ``'layernorm'``
            (channels only) or ``'batchnorm'``.
        layer_scale_init: initial LayerScale value (PoolFormer: 1e-5 for S12/S24, 1e-6 deeper);
            ``None`` disables layer scale.
        drop_path: stochastic-depth probability of each residual branch.
        drop: dropout inside the MLP.
        mixer_kwargs: forwarded to the token mixer.
    """

    def __init__(
        self,
        dim: int,
        token_mixer: str = "pooling",
        mlp_ratio: float = 4.0,
        act: str = "gelu",
        norm: str = "groupnorm",
        layer_scale_init: float | None = 1e-5,
        drop_path: float = 0.0,
        drop: float = 0.0,
        mixer_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = get_norm2d(norm, dim)
        self.token_mixer = get_token_mixer(token_mixer, dim, **(mixer_kwargs or {}))
        self.ls1 = (
            LayerScale2d(dim, layer_scale_init) if layer_scale_init is not None else nn.Identity()
        )
        self.norm2 = get_norm2d(norm, dim)
        self.mlp = ConvMlp(dim, int(mlp_ratio * dim), act=act, drop=drop)
        self.ls2 = (
            LayerScale2d(dim, layer_scale_init) if layer_scale_init is not None else nn.Identity()
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.ls1(self.token_mixer(self.norm1(x))))
        x = x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))
        return x
