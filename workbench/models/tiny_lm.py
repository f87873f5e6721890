"""Tiny decoder-only language models in the MobileLLM style (character level, ~0.1-2 M params).

MobileLLM (Liu et al., "MobileLLM: Optimizing Sub-billion Parameter Language Models for On-Device
Use Cases", ICML 2024) argues that at a fixed parameter budget a *deep and thin* decoder beats a
shallow and wide one, that sharing the input embedding with the output layer saves parameters
for free, and that grouped-query attention keeps quality with fewer K/V weights; MobileLLM-LS
repeats each block twice ("immediate block-wise weight sharing"). :class:`TinyLM` exposes each of
those as a keyword so the notebook trains the variants from one registered name, ``tiny_lm``.

Input: token ids ``(B, T)``; output: logits ``(B, T, vocab)``. The zoo's 3-tuple
``default_input_size`` is ``(1, 1, T)`` (one sequence of T tokens); :meth:`TinyLM.example_input`
makes the token ids every measurement uses.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers.lm import LM_MLPS, DecoderBlock, KVCache, RMSNorm
from ._factory import register_model

__all__ = ["TinyLM", "tiny_lm", "tiny_lm_params"]


def _hidden(dim: int, mlp_ratio: float, mlp: str) -> int:
    # SwiGLU has three matrices, GELU two: 2/3 of the hidden width keeps their weights equal
    # (the LLaMA convention), rounded to a multiple of 8.
    h = mlp_ratio * dim * (2 / 3 if mlp == "swiglu" else 1)
    return max(8, int(round(h / 8)) * 8)


def tiny_lm_params(vocab: int, depth: int, dim: int, heads: int, kv_heads: int | None = None, *,
                   mlp_ratio: float = 4.0, mlp: str = "swiglu", tie_embeddings: bool = False,
                   pos: str = "rope", max_len: int = 256) -> int:  # fmt: skip
    """Closed-form parameter count of :class:`TinyLM` (what :func:`tiny_lm` builds).

    Per block: $D^2$ (q) $+ 2 D \\cdot n_{kv} hd$ (k, v) $+ D^2$ (out) $+ m D h$ (MLP, $m$ = 3
    SwiGLU / 2 GELU) $+ 2D$ (norms); plus $V D$ embedding, $V D$ head unless tied, $D$ final norm,
    $T_{max} D$ learned positions.
    """
    kv = heads if kv_heads is None else kv_heads
    hd = dim // heads
    block = 2 * dim * dim + 2 * dim * kv * hd + LM_MLPS[mlp][1] * dim * _hidden(dim, mlp_ratio, mlp) + 2 * dim
    head = 0 if tie_embeddings else vocab * dim
    return depth * block + vocab * dim + head + dim + (max_len * dim if pos == "learned" else 0)


class TinyLM(nn.Module):
    """Token embedding, ``depth`` :class:`DecoderBlock` s (each applied ``repeat`` times), RMSNorm, LM head.

    Args:
        vocab: vocabulary size.
        depth: distinct decoder blocks.
        dim: token width D.
        heads: query heads; kv_heads: key/value heads (default ``heads``).
        mlp_ratio: MLP hidden width / D (before the SwiGLU 2/3 adjustment).
        mlp: ``'swiglu'`` or ``'gelu'``.
        pos: ``'rope'`` (rotary, no position weights) or ``'learned'`` (absolute embeddings).
        tie_embeddings: the LM head reuses the embedding matrix (MobileLLM's embedding sharing).
        repeat: apply each block this many times in a row (MobileLLM-LS uses 2): depth for free.
        max_len: longest sequence (positions and KV caches).
        dropout: embedding and residual dropout while training.
    """

    def __init__(self, vocab: int = 96, depth: int = 4, dim: int = 96, heads: int = 4, kv_heads: int | None = None, *,
                 mlp_ratio: float = 4.0, mlp: str = "swiglu", pos: str = "rope", tie_embeddings: bool = False,
                 repeat: int = 1, max_len: int = 256, dropout: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        if pos not in ("rope", "learned"):
            raise ValueError(f"unknown pos {pos!r}; valid: rope, learned")
        if repeat < 1 or depth < 1:
            raise ValueError(f"depth and repeat must be >= 1, got depth={depth}, repeat={repeat}")
        kv_heads = heads if kv_heads is None else kv_heads
        self.vocab_size, self.max_len, self.repeat = vocab, max_len, repeat
        self.config = {"vocab": vocab, "depth": depth, "dim": dim, "heads": heads, "kv_heads": kv_heads,
                       "mlp_ratio": mlp_ratio, "mlp": mlp, "pos": pos, "tie_embeddings": tie_embeddings,
                       "repeat": repeat, "max_len": max_len}  # fmt: skip
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(max_len, dim)) if pos == "learned" else None
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        hidden = _hidden(dim, mlp_ratio, mlp)
        self.blocks = nn.ModuleList(
            DecoderBlock(dim, heads, kv_heads, hidden, mlp=mlp, rope=pos == "rope", max_len=max_len, dropout=dropout)
            for _ in range(depth)
        )
        self.norm = RMSNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        if tie_embeddings:
            self.head.weight = self.embed.weight
        self.default_input_size = (1, 1, min(128, max_len))
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def example_input(self, size: tuple[int, ...], batch_size: int = 1) -> torch.Tensor:
        """Seeded random token ids ``(B, T)`` for a zoo-style ``(1, 1, T)`` or ``(B, 1, 1, T)`` size."""
        batch = size[0] if len(size) == 4 else batch_size
        return torch.randint(0, self.vocab_size, (batch, size[-1]), generator=torch.Generator().manual_seed(0))

    def new_caches(self, batch: int = 1, max_len: int | None = None, dtype: torch.dtype | None = None) -> list[KVCache]:
        """One empty :class:`KVCache` per block application (``depth * repeat``), in the weights' dtype."""
        n, dt = max_len or self.max_len, dtype or self.embed.weight.dtype
        return [KVCache(batch, b.attn.kv_heads, b.attn.head_dim, n, dt) for b in self.blocks for _ in range(self.repeat)]

    def forward(self, idx: torch.Tensor, caches: list[KVCache] | None = None) -> torch.Tensor:
        """Logits ``(B, T, vocab)``; with ``caches`` the tokens continue the cached sequence."""
        B, T = idx.shape
        past = caches[0].length if caches else 0
        if past + T > self.max_len:
            raise ValueError(f"sequence of {past + T} tokens exceeds max_len {self.max_len}")
        # weight[idx], not self.embed(idx): the same gather, but as indexing the MAC counter
        # treats as the data movement it is (it does not know aten::embedding)
        x = self.embed.weight[idx]
        if self.pos is not None:
            x = x + self.pos[past : past + T]
        x = self.drop(x)
        i = 0
        for block in self.blocks:
            for _ in range(self.repeat):
                x = block(x, caches[i] if caches else None)
                i += 1
        return self.head(self.norm(x))


@register_model(
    default_input_size=(1, 1, 128),
    task="language_model",
    paper="MobileLLM: Optimizing Sub-billion Parameter Language Models for On-Device Use Cases (Liu et al., ICML 2024)",
    tags=("efficient_llm", "efficient_attention"),
)
def tiny_lm(vocab: int = 96, depth: int = 6, dim: int = 56, heads: int = 4, kv_heads: int | None = None,
            tie_embeddings: bool = False, **kwargs) -> TinyLM:  # fmt: skip
    """A MobileLLM-style character-level decoder (default: deep-thin, 6 blocks of width 56, MHA, ~0.24 M params).

    The width is ``dim`` (token width D, as in LLaMA and nanoGPT), not ``width``: the zoo keeps
    ``width`` out of entry points (classifiers scale with ``width_mult``).

    Args:
        vocab, depth, dim, heads, kv_heads, tie_embeddings: see :class:`TinyLM`.
        **kwargs: the other :class:`TinyLM` options (``mlp``, ``pos``, ``repeat``, ``max_len``,
            ``mlp_ratio``, ``dropout``).
    """
    return TinyLM(vocab, depth, dim, heads, kv_heads, tie_embeddings=tie_embeddings, **kwargs)
