"""How token mixers scale: with sequence length (prefill and decode) and with input resolution.

* :func:`sequence_scaling` -- latency (interleaved ratios to the first mixer at every length),
  peak activation memory and MACs of ``(B, N, D)`` mixers for ``N`` over a grid, each mixer
  skipped above its own token cap (so a quadratic mixer never allocates more than asked);
* :func:`decode_scaling` -- cost of generating ONE token after a context of ``N`` tokens:
  attention reads a key/value cache of ``N`` tokens, a state-space model updates a fixed state;
* :func:`resolution_scaling` -- zoo models, built for each input resolution and put in deploy
  form,
  interleaved against the first (a pure CNN), with the share of MACs spent in token-to-token
  matrix products (the term that grows with the square of the token count);
* :func:`fit_exponent` -- the slope of ``log(value)`` against ``log(size)``: ~2 for a quadratic
  cost, ~1 for a linear one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .latency import compare_latency
from .macs import count_macs
from .memory import measure_memory

#: MAC operators that multiply tokens by tokens (attention scores and their use).
TOKEN_MATMUL_OPS = ("matmul", "bmm", "einsum", "scaled_dot_product_attention")


def attention_matrix_bytes(tokens: int, heads: int, batch: int = 1, dtype_bytes: int = 4) -> int:
    """Bytes of the score and probability matrices that written-out attention holds at once."""
    return 2 * batch * heads * tokens * tokens * dtype_bytes


def _tokens(batch: int, n: int, dim: int) -> torch.Tensor:
    return torch.randn(batch, n, dim, generator=torch.Generator().manual_seed(0))


def sequence_scaling(
    mixers: Mapping[str, nn.Module],
    lengths: Sequence[int],
    *,
    dim: int,
    batch: int = 1,
    max_tokens: Mapping[str, int] | None = None,
    rounds: int = 5,
    threads: int | None = None,
    memory: bool = True,
    macs_max_tokens: int = 4096,
    sample_ms: float = 20.0,
    warmup_s: float = 0.2,
) -> pd.DataFrame:
    """Latency, memory and MACs of sequence mixers over sequence lengths.

    Args:
        mixers: name -> ``(B, N, dim)`` module; the first is the latency baseline and must have
            no cap (it is measured at every length).
        lengths: sequence lengths ``N`` (tokens).
        dim: token width.
        batch: sequences per forward.
        max_tokens: name -> largest ``N`` to run it at (skipped above: time or memory cap).
        rounds: interleaved rounds per length.
        threads: intra-op threads.
        memory: also measure peak activation bytes (one extra traced forward per point).
        macs_max_tokens: count MACs only up to this ``N`` (tracing a Python-loop scan over
            very long sequences is slow; counts grow predictably).
        sample_ms, warmup_s: as :func:`compare_latency`.

    Returns:
        one row per measured (mixer, tokens): ``mixer, tokens, median_ms, ratio, ratio_q1,
        ratio_q3`` (to the baseline at the same length), ``peak_mb``, ``macs``,
        ``macs_all_ops`` (NaN where not measured).

    Raises:
        ValueError: no mixers, or a cap on the baseline.
    """
    if not mixers:
        raise ValueError("sequence_scaling needs at least one mixer")
    caps = dict(max_tokens or {})
    base = next(iter(mixers))
    if base in caps:
        raise ValueError(f"the baseline {base!r} is measured at every length: remove its cap")
    unknown = [k for k in caps if k not in mixers]
    if unknown:
        raise KeyError(f"cap for unknown mixer {unknown[0]!r}; mixers: {', '.join(mixers)}")
    rows = []
    for n in lengths:
        active = {k: m.eval() for k, m in mixers.items() if n <= caps.get(k, n)}
        x = _tokens(batch, n, dim)
        lat = compare_latency(active, x, rounds=rounds, threads=threads, sample_ms=sample_ms, warmup_s=warmup_s)
        for _, r in lat.iterrows():
            row = {"mixer": r["name"], "tokens": n, "median_ms": r.median_ms, "ratio": r.ratio,
                   "ratio_q1": r.ratio_q1, "ratio_q3": r.ratio_q3, "peak_mb": np.nan, "macs": np.nan,
                   "macs_all_ops": np.nan}  # fmt: skip
            m = active[r["name"]]
            if memory:
                row["peak_mb"] = measure_memory(m, x).peak_activation_bytes / 2**20
            if n <= macs_max_tokens:
                c = count_macs(m, x)
                row["macs"], row["macs_all_ops"] = c.macs, c.macs_all_ops
            rows.append(row)
    return pd.DataFrame(rows)


class _AttentionDecode(nn.Module):
    """One new token attending to a key/value cache of ``context`` tokens (plus itself)."""

    def __init__(self, attn: nn.Module, context: int, batch: int) -> None:
        super().__init__()
        self.attn = attn
        h, d = attn.num_heads, attn.head_dim
        g = torch.Generator().manual_seed(0)
        # preallocated cache, slot `context` is overwritten by the new token every call
        self.register_buffer("k", torch.randn(batch, h, context + 1, d, generator=g))
        self.register_buffer("v", torch.randn(batch, h, context + 1, d, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.attn.split_heads(x)  # (B, heads, 1, d)
        self.k[:, :, -1:] = k
        self.v[:, :, -1:] = v
        return self.attn.merge_heads(torch.nn.functional.scaled_dot_product_attention(q, self.k, self.v))


class _SSMDecode(nn.Module):
    """One :meth:`SelectiveSSM.step` from a fixed-size state (what came before is irrelevant)."""

    def __init__(self, ssm: nn.Module, batch: int) -> None:
        super().__init__()
        self.ssm = ssm
        self.state = ssm.init_state(batch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.ssm.step(x[:, 0], self.state)
        return y


def decode_scaling(
    attention: nn.Module,
    ssm: nn.Module,
    contexts: Sequence[int],
    *,
    dim: int,
    batch: int = 1,
    rounds: int = 10,
    threads: int | None = None,
) -> pd.DataFrame:
    """Per-token decode latency after ``context`` tokens: KV-cache attention vs an SSM step.

    Args:
        attention: a :class:`~workbench.layers.sequence_mixers.SoftmaxAttention`.
        ssm: a :class:`~workbench.layers.sequence_mixers.SelectiveSSM` (its ``step``).
        contexts: tokens already generated.
        dim: token width; batch: sequences decoded together.

    Returns:
        one row per (mixer, context): ``mixer, context, median_ms, ratio`` (to the SSM step at
        the same context, interleaved), ``state_kb`` (cache or state bytes / 1024).
    """
    rows = []
    for n in contexts:
        step = _SSMDecode(ssm.eval(), batch)
        cache = _AttentionDecode(attention.eval(), n, batch)
        lat = compare_latency({"ssm step": step, "attention + KV cache": cache}, _tokens(batch, 1, dim),
                              rounds=rounds, threads=threads, sample_ms=5.0, warmup_s=0.05)  # fmt: skip
        state = {"ssm step": sum(t.numel() * 4 for t in step.state), "attention + KV cache": 2 * cache.k.numel() * 4}
        rows += [{"mixer": r["name"], "context": n, "median_ms": r.median_ms, "ratio": r.ratio,
                  "state_kb": state[r["name"]] / 1024} for _, r in lat.iterrows()]  # fmt: skip
    return pd.DataFrame(rows)


def deploy_model_at(name: str, resolution: int) -> nn.Module:
    """Registry model ``name`` built for ``resolution`` px and put in deploy form (BN folded).

    Models whose attention biases are sized for one input (EfficientFormer, EfficientViT) take
    ``img_size``; the others are built as they are (a ``TypeError`` says they do not take it).
    """
    from ..layers import reparameterize_model
    from ..models import create_model

    try:
        model = create_model(name, img_size=resolution)
    except TypeError:
        model = create_model(name)
    return reparameterize_model(model.eval())


def resolution_scaling(
    names: Sequence[str],
    resolutions: Sequence[int],
    *,
    rounds: int = 5,
    threads: int | None = None,
    in_chans: int = 3,
) -> pd.DataFrame:
    """Zoo models in deploy form across square input resolutions, interleaved against the first.

    At each resolution every model is built for it (:func:`deploy_model_at`) and timed in one
    interleaved :func:`compare_latency` run.

    Args:
        names: registry names; the first is the baseline (a pure CNN).
        resolutions: input sides in pixels.
        rounds: interleaved rounds per resolution; threads: intra-op threads.
        in_chans: input channels.

    Returns:
        one row per (model, resolution): ``model, resolution, macs, token_matmul_macs,
        token_matmul_pct`` (the share of MACs in :data:`TOKEN_MATMUL_OPS`), ``median_ms,
        ratio, ratio_q1, ratio_q3``.
    """
    rows = []
    for r in resolutions:
        size = (in_chans, r, r)
        models = {n: deploy_model_at(n, r) for n in names}
        lat = compare_latency(models, size, rounds=rounds, threads=threads).set_index("name")
        for name, m in models.items():
            c = count_macs(m, size)
            tok = sum(v for k, v in c.by_operator.items() if k in TOKEN_MATMUL_OPS)
            rows.append({"model": name, "resolution": r, "macs": c.macs, "token_matmul_macs": tok,
                         "token_matmul_pct": 100 * tok / c.macs, "median_ms": lat.loc[name, "median_ms"],
                         "ratio": lat.loc[name, "ratio"], "ratio_q1": lat.loc[name, "ratio_q1"],
                         "ratio_q3": lat.loc[name, "ratio_q3"]})  # fmt: skip
    return pd.DataFrame(rows)


def fit_exponent(df: pd.DataFrame, size: str, value: str, *, by: str, min_size: float = 0) -> pd.Series:
    """Slope ``k`` of ``value ~ size^k`` per group, least squares in logs over ``size >= min_size``.

    A group with fewer than two points gets NaN. For a token count, ``k`` near 2 is a quadratic
    cost, near 1 a linear one; for an image side in pixels double those.

    Returns:
        Series indexed by the ``by`` values.
    """
    out = {}
    for key, g in df[(df[size] >= min_size) & df[value].notna()].groupby(by, sort=False):
        if len(g) < 2:
            out[key] = float("nan")
            continue
        out[key] = float(np.polyfit(np.log(g[size].astype(float)), np.log(g[value].astype(float)), 1)[0])
    for key in df[by].unique():
        out.setdefault(key, float("nan"))
    return pd.Series(out, name=f"{value}_exponent")
