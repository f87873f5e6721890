"""Causal decoder blocks for tiny language models, with a key/value cache.

technique: efficient_llm

Papers: MobileLLM (Liu et al., ICML 2024: deep-thin decoders, embedding
sharing, grouped-query attention, SwiGLU); GQA (Ainslie et al., EMNLP 2023) and MQA (Shazeer,
2019): ``n_kv_heads`` key/value heads shared by ``heads / n_kv_heads`` query heads each
(``n_kv_heads == heads`` is multi-head attention, ``1`` is multi-query); RoPE (Su et al., 2021).

Shapes: tokens ``(B, T, D)``; heads ``(B, H, T, hd)`` with ``hd = D / heads``. The KV cache holds
``(B, n_kv_heads, max_len, hd)`` keys and values per layer, so its bytes are
$2 \\cdot L \\cdot n_{kv} \\cdot hd \\cdot T \\cdot 4$ for fp32: GQA/MQA shrink it by
``heads / n_kv_heads``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["KVCache", "RMSNorm", "CausalSelfAttention", "LMMlp", "DecoderBlock", "LM_MLPS", "rope_tables"]


class RMSNorm(nn.Module):
    """Root-mean-square norm (LLaMA, MobileLLM): no mean subtraction, no bias.

    Written out (not ``F.rms_norm``) so the MAC counter sees elementwise ops it knows.
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim: int, max_len: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cos, sin)`` tables of shape ``(max_len, head_dim)`` for rotary embeddings (rotate-half form)."""
    if head_dim % 2:
        raise ValueError(f"RoPE needs an even head dimension, got {head_dim}")
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(max_len).float(), inv)  # (max_len, hd/2)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class KVCache:
    """Preallocated keys and values of one attention layer for incremental decoding.

    ``length`` tokens are valid; :meth:`append` writes new ones after them and returns the valid
    prefix; :meth:`truncate` rolls back (speculative decoding rejects drafted tokens that way).
    """

    def __init__(self, batch: int, kv_heads: int, head_dim: int, max_len: int, dtype=torch.float32) -> None:
        self.k = torch.zeros(batch, kv_heads, max_len, head_dim, dtype=dtype)
        self.v = torch.zeros_like(self.k)
        self.length = 0

    @property
    def max_len(self) -> int:
        return self.k.shape[2]

    @property
    def nbytes(self) -> int:
        """Bytes the cache holds allocated (keys + values, all ``max_len`` slots)."""
        return 2 * self.k.numel() * self.k.element_size()

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``(B, n_kv, T, hd)`` new keys/values; return all valid ones so far."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV cache overflow: {end} tokens > max_len {self.max_len}")
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]

    def truncate(self, length: int) -> None:
        """Forget every token from position ``length`` on."""
        if not 0 <= length <= self.length:
            raise ValueError(f"truncate length must be in [0, {self.length}], got {length}")
        self.length = length


class CausalSelfAttention(nn.Module):
    """Causal self-attention with ``kv_heads`` key/value heads (MHA, GQA or MQA) and optional RoPE.

    Args:
        dim: token width D.
        heads: query heads (D divisible by it).
        kv_heads: key/value heads (divides ``heads``): ``heads`` = MHA, 1 = MQA, else GQA.
        rope: rotary position embedding on q and k (else the model adds learned positions).
        max_len: longest sequence (size of the RoPE tables).
    """

    def __init__(self, dim: int, heads: int, kv_heads: int, *, rope: bool = True, max_len: int = 512) -> None:
        super().__init__()
        if dim % heads or heads % kv_heads:
            raise ValueError(f"need dim % heads == 0 and heads % kv_heads == 0, got dim={dim}, heads={heads}, kv_heads={kv_heads}")
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(dim, 2 * kv_heads * self.head_dim, bias=False)  # GQA: fewer K/V weights
        self.proj = nn.Linear(dim, dim, bias=False)
        self.rope = rope
        if rope:
            cos, sin = rope_tables(self.head_dim, max_len)
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        B, T, D = x.shape
        past = cache.length if cache is not None else 0
        q = self.q(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        k, v = self.kv(x).view(B, T, 2, self.kv_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (B, Hkv, T, hd)
        if self.rope:
            cos, sin = self.cos[past : past + T], self.sin[past : past + T]
            q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        if cache is not None:
            k, v = cache.append(k, v)
        gqa = self.kv_heads != self.heads
        if T == 1:  # one new token sees the whole cache: no mask
            y = F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa)
        elif past == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        else:  # a chunk on top of a cache (speculative verification): query i sees keys <= past + i
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


class _SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_up = nn.Linear(dim, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class _GeluMLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


#: MLP kind -> (class, weight matrices of size dim x hidden): SwiGLU has three, GELU two.
LM_MLPS = {"swiglu": (_SwiGLU, 3), "gelu": (_GeluMLP, 2)}


def LMMlp(dim: int, hidden: int, kind: str = "swiglu") -> nn.Module:  # noqa: N802 (a factory that reads like a class)
    """The feed-forward part of a decoder block: ``'swiglu'`` or ``'gelu'``."""
    if kind not in LM_MLPS:
        raise ValueError(f"unknown mlp {kind!r}; valid: {', '.join(LM_MLPS)}")
    return LM_MLPS[kind][0](dim, hidden)


class DecoderBlock(nn.Module):
    """Pre-norm decoder block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``.

    Args:
        dim, heads, kv_heads, rope, max_len: as :class:`CausalSelfAttention`.
        hidden: MLP hidden width.
        mlp: ``'swiglu'`` or ``'gelu'``.
        dropout: residual dropout while training.
    """

    def __init__(self, dim: int, heads: int, kv_heads: int, hidden: int, *, mlp: str = "swiglu",
                 rope: bool = True, max_len: int = 512, dropout: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        self.norm1 = RMSNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, kv_heads, rope=rope, max_len=max_len)
        self.norm2 = RMSNorm(dim)
        self.mlp = LMMlp(dim, hidden, mlp)
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), cache))
        return x + self.drop(self.mlp(self.norm2(x)))
