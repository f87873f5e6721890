"""Autoregressive decoding and its economics: KV cache, prefill vs decode, speculative decoding.

For a decoder with $L$ layers (block applications), width $D$, $n_{kv}$ key/value heads of size
$hd$, MLP hidden $h$ with $m$ matrices (3 SwiGLU, 2 GELU) and vocabulary $V$, one forward pass
over $T$ tokens costs (MACs, the project's convention; attention counted as the dense $T \\times T$
product the kernel computes):

$$\\text{MACs}(T) = L\\,[T(2D^2 + 2D\\,n_{kv}hd + mDh) + 2T^2D] + TDV$$

and the KV cache holds $2\\,L\\,n_{kv}\\,hd\\,T$ numbers. *Prefill* processes the prompt's $T$
tokens in one pass (matrix-matrix products: compute-bound); *decode* produces one token per pass
(matrix-vector products that read every weight once per token: memory- or overhead-bound).

Speculative decoding (Leviathan et al., 2023; Chen et al., 2023): a cheap draft model proposes
$k$ tokens; the target scores all of them in one pass and keeps the longest prefix it agrees
with, plus its own next token. With greedy acceptance the output is *exactly* the target's greedy
output; the speed-up depends on the acceptance rate and the draft's relative cost.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from .latency import compare_latency

__all__ = [
    "SpecResult", "decode_latency", "generate", "kv_cache_bytes", "kv_memory_table", "lm_macs", "lm_size_table",
    "speculative_generate",
    "speculative_speedup", "weight_bytes",
]  # fmt: skip


def _cfg(model: nn.Module) -> dict:
    cfg = getattr(model, "config", None)
    if cfg is None:
        raise ValueError(f"{type(model).__name__} has no .config; decoding helpers need a TinyLM")
    return cfg


def kv_cache_bytes(model: nn.Module, context: int, *, batch: int = 1, dtype_bytes: int = 4) -> int:
    """Bytes of keys and values for ``context`` tokens: $2 \\cdot L \\cdot n_{kv} \\cdot hd \\cdot T \\cdot B \\cdot$ bytes."""
    c = _cfg(model)
    layers = c["depth"] * c["repeat"]
    return 2 * layers * c["kv_heads"] * (c["dim"] // c["heads"]) * context * batch * dtype_bytes


def weight_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers (shared tensors once, RoPE tables excluded)."""
    seen, total = set(), 0
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        if id(t) in seen or name.endswith((".cos", ".sin")):
            continue
        seen.add(id(t))
        total += t.numel() * t.element_size()
    return total


def lm_macs(model: nn.Module, tokens: int) -> int:
    """The closed-form MACs of one forward pass over ``tokens`` tokens (module docstring)."""
    from ..layers.lm import LM_MLPS

    c = _cfg(model)
    d, hd, T = c["dim"], c["dim"] // c["heads"], tokens
    hidden = model.blocks[0].mlp.down.in_features
    per_layer = T * (2 * d * d + 2 * d * c["kv_heads"] * hd + LM_MLPS[c["mlp"]][1] * d * hidden) + 2 * T * T * d
    return c["depth"] * c["repeat"] * per_layer + T * d * c["vocab"]


def _pick(logits: torch.Tensor, temperature: float, top_k: int | None, gen: torch.Generator | None) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(logits.softmax(-1), 1, generator=gen)


@torch.no_grad()
def generate(model: nn.Module, prompt: torch.Tensor, max_new: int, *, temperature: float = 0.0,
             top_k: int | None = None, seed: int = 0, use_cache: bool = True) -> torch.Tensor:  # fmt: skip
    """Continue ``prompt`` ``(B, T)`` by ``max_new`` tokens; returns only the new tokens ``(B, max_new)``.

    Args:
        temperature: 0 is greedy (argmax); > 0 samples from ``softmax(logits / temperature)``.
        top_k: sample only among the ``top_k`` most likely tokens.
        seed: sampling seed.
        use_cache: decode one token per pass on a KV cache (else re-run the whole sequence each
            step: the same tokens, quadratically more work; kept for checking).
    """
    if temperature < 0 or max_new < 1:
        raise ValueError(f"need temperature >= 0 and max_new >= 1, got {temperature}, {max_new}")
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    out = []
    if use_cache:
        caches = model.new_caches(prompt.shape[0], prompt.shape[1] + max_new, dtype=model.embed.weight.dtype)
        logits = model(prompt, caches)[:, -1]
        for i in range(max_new):
            nxt = _pick(logits, temperature, top_k, gen)
            out.append(nxt)
            if i + 1 < max_new:
                logits = model(nxt, caches)[:, -1]
    else:
        seq = prompt
        for _ in range(max_new):
            nxt = _pick(model(seq)[:, -1], temperature, top_k, gen)
            out.append(nxt)
            seq = torch.cat([seq, nxt], dim=1)
    return torch.cat(out, dim=1)


@dataclass(frozen=True)
class SpecResult:
    """What :func:`speculative_generate` returns.

    Attributes:
        tokens: the new tokens ``(1, max_new)``.
        drafted: draft tokens proposed; accepted: of those, kept by the target.
        target_passes: forward passes of the target (prefill excluded).
        k: draft tokens per round.
    """

    tokens: torch.Tensor
    drafted: int
    accepted: int
    target_passes: int
    k: int

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.drafted if self.drafted else float("nan")

    @property
    def tokens_per_pass(self) -> float:
        """New tokens per target pass (plain decoding makes exactly 1)."""
        return self.tokens.shape[1] / self.target_passes if self.target_passes else float("nan")


def speculative_generate(target: nn.Module, draft: nn.Module, prompt: torch.Tensor, max_new: int, *, k: int = 4) -> SpecResult:
    """Greedy speculative decoding: ``draft`` proposes ``k`` tokens, ``target`` verifies them in one pass.

    The result equals ``generate(target, prompt, max_new)`` (greedy): a drafted token is kept only
    when it is the target's own argmax after the same prefix, and every round adds the target's
    next token after the kept prefix.

    Args:
        target, draft: TinyLMs with the same vocabulary; batch 1 prompts ``(1, T)``.
        k: draft tokens per round (>= 1).
    """
    with torch.no_grad():  # a context, not a decorator: wb.show_source then shows this file
        if prompt.shape[0] != 1 or k < 1 or max_new < 1:
            raise ValueError(f"need a batch-1 prompt, k >= 1 and max_new >= 1; got batch {prompt.shape[0]}, k={k}, max_new={max_new}")
        target.eval(), draft.eval()
        room = prompt.shape[1] + max_new + k + 1
        tc = target.new_caches(1, room, dtype=target.embed.weight.dtype)
        dc = draft.new_caches(1, room, dtype=draft.embed.weight.dtype)
        pending = target(prompt, tc)[:, -1:].argmax(-1)  # (1, 1): the target's next token, not yet cached
        draft(prompt, dc)
        draft_todo = pending  # tokens the draft's cache still lacks
        out, drafted, accepted, passes = [pending], 0, 0, 0
        produced = 1
        while produced < max_new:
            proposals = []
            logits = draft(draft_todo, dc)[:, -1:]
            for i in range(k):
                proposals.append(logits.argmax(-1))
                if i + 1 < k:
                    logits = draft(proposals[-1], dc)[:, -1:]
            props = torch.cat(proposals, dim=1)  # (1, k)
            base = tc[0].length
            verdict = target(torch.cat([pending, props], dim=1), tc).argmax(-1)  # (1, k + 1)
            passes += 1
            agree = (verdict[0, :k] == props[0]).long()
            n = int(agree.cumprod(0).sum())  # leading agreements
            drafted, accepted = drafted + k, accepted + n
            for c in tc:
                c.truncate(base + 1 + n)  # keep pending + the accepted drafts
            for c in dc:
                c.truncate(min(c.length, base + 1 + n))
            nxt = verdict[:, n : n + 1]
            draft_todo = torch.cat([props[:, k - 1 :], nxt], dim=1) if n == k else nxt
            out += [props[:, :n], nxt]
            pending = nxt
            produced += n + 1
        tokens = torch.cat(out, dim=1)[:, :max_new]
        return SpecResult(tokens, drafted, accepted, passes, k)


class _Prefill(nn.Module):
    def __init__(self, model: nn.Module, tokens: int) -> None:
        super().__init__()
        self.model, self.caches = model, model.new_caches(1, tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.caches:
            c.truncate(0)
        return self.model(x, self.caches)[:, -1]


class _DecodeStep(nn.Module):
    """One new token after ``context`` cached tokens (the cache is rolled back every call)."""

    def __init__(self, model: nn.Module, context: int) -> None:
        super().__init__()
        self.model, self.context = model, context
        self.caches = model.new_caches(1, context + 1)
        with torch.no_grad():
            model(model.example_input((1, 1, context)), self.caches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.caches:
            c.truncate(self.context)
        return self.model(x, self.caches)[:, -1]


def decode_latency(models: dict[str, nn.Module], contexts: Sequence[int], *, rounds: int = 10,
                   threads: int | None = None, sample_ms: float = 20.0) -> pd.DataFrame:  # fmt: skip
    """Prefill of ``T`` tokens vs one decode step after ``T`` cached tokens, batch 1, interleaved.

    For each context ``T`` every model's prefill and decode step are timed in one
    :func:`compare_latency` run, so ratios within a ``T`` share the machine's state.

    Returns:
        one row per (model, context): ``model, context, prefill_ms, decode_ms,
        prefill_tok_s, decode_tok_s`` (tokens per second), ``prefill_speedup`` (prefill tokens/s
        / decode tokens/s), ``decode_ratio`` (decode time / the first model's, interleaved,
        with ``decode_ratio_q1/q3``), ``weight_mb``, ``kv_kb``, ``decode_gb_s`` (weights + cache
        read per decode step / its time: the bandwidth decoding would need if memory-bound).
    """
    rows = []
    for t in contexts:
        mods = {}
        for name, m in models.items():
            m.eval()
            mods[f"{name}|prefill"] = _Prefill(m, t)
            mods[f"{name}|decode"] = _DecodeStep(m, t)
        first = next(iter(models))
        order = [f"{first}|decode"] + [n for n in mods if n != f"{first}|decode"]
        # inputs differ (T tokens vs 1): time each with its own example through a tensor per name
        inputs = {n: (m.model.example_input((1, 1, t)) if n.endswith("prefill") else m.model.example_input((1, 1, 1)))
                  for n, m in mods.items()}  # fmt: skip
        lat = compare_latency({n: _Fixed(mods[n], inputs[n]) for n in order}, _DUMMY, rounds=rounds,
                              threads=threads, sample_ms=sample_ms, warmup_s=0.05)  # fmt: skip
        lat = lat.set_index("name")
        for name, m in models.items():
            pre, dec = lat.loc[f"{name}|prefill"], lat.loc[f"{name}|decode"]
            wb, kv = weight_bytes(m), kv_cache_bytes(m, t)
            rows.append({
                "model": name, "context": t, "prefill_ms": pre.median_ms, "decode_ms": dec.median_ms,
                "prefill_tok_s": 1000 * t / pre.median_ms, "decode_tok_s": 1000 / dec.median_ms,
                "prefill_speedup": t * dec.median_ms / pre.median_ms, "decode_ratio": dec.ratio,
                "decode_ratio_q1": dec.ratio_q1, "decode_ratio_q3": dec.ratio_q3,
                "weight_mb": wb / 2**20, "kv_kb": kv / 1024, "decode_gb_s": (wb + kv) / (dec.median_ms / 1000) / 1e9,
            })  # fmt: skip
    return pd.DataFrame(rows)


#: compare_latency hands every model this tensor; :class:`_Fixed` ignores it and uses its own input.
_DUMMY = torch.zeros(1, 1)


class _Fixed(nn.Module):
    """Runs ``module(x)`` on a fixed input, whatever it is called with (mixed input shapes in one run)."""

    def __init__(self, module: nn.Module, x: torch.Tensor) -> None:
        super().__init__()
        self.module, self.x = module, x

    def forward(self, _: torch.Tensor) -> torch.Tensor:
        return self.module(self.x)


def speculative_speedup(target: nn.Module, draft: nn.Module, prompts: Sequence[torch.Tensor], max_new: int, *,
                        ks: Sequence[int] = (2, 4), rounds: int = 3) -> pd.DataFrame:  # fmt: skip
    """Measured tokens/s of greedy decoding vs speculative decoding with ``draft``, interleaved.

    Each round times plain greedy decoding and then speculative decoding for every ``k`` over
    all ``prompts``; the speed-up is the median over rounds of the per-round time ratio.

    Returns:
        one row per method (``greedy`` then ``speculative k=...``): ``method, k, acceptance_rate,
        tokens_per_pass, tok_s, speedup, speedup_q1, speedup_q3, identical`` (every output equals
        greedy decoding of the target).
    """
    ref = [generate(target, p, max_new) for p in prompts]
    methods = {"greedy": None} | {f"speculative k={k}": k for k in ks}
    times: dict[str, list[float]] = {m: [] for m in methods}
    stats: dict[str, list[SpecResult]] = {m: [] for m in methods}
    for r in range(rounds):
        names = list(methods)
        names = names[r % len(names) :] + names[: r % len(names)]
        for m in names:
            t0 = time.perf_counter()
            if methods[m] is None:
                for p in prompts:
                    generate(target, p, max_new)
            else:
                res = [speculative_generate(target, draft, p, max_new, k=methods[m]) for p in prompts]
                if r == 0:
                    stats[m] = res
            times[m].append(time.perf_counter() - t0)
    rows = []
    n_tokens = max_new * len(prompts)
    for m, k in methods.items():
        ratios = [g / t for g, t in zip(times["greedy"], times[m], strict=True)]
        q = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) >= 2 else [ratios[0]] * 3
        res = stats[m]
        rows.append({
            "method": m, "k": k or 0,
            "acceptance_rate": sum(s.accepted for s in res) / sum(s.drafted for s in res) if res else float("nan"),
            "tokens_per_pass": n_tokens / sum(s.target_passes for s in res) if res else 1.0,
            "tok_s": n_tokens / statistics.median(times[m]), "speedup": statistics.median(ratios),
            "speedup_q1": q[0], "speedup_q3": q[2],
            "identical": all(torch.equal(s.tokens, g) for s, g in zip(res, ref, strict=True)) if res else True,
        })  # fmt: skip
    return pd.DataFrame(rows)


def kv_memory_table(models: dict[str, nn.Module], contexts: Sequence[int], *, batch: int = 1,
                    dtype_bytes: int = 4) -> pd.DataFrame:  # fmt: skip
    """KV-cache size (closed form) per model and context, next to the weights it serves.

    Returns:
        one row per (model, context): ``model, kv_heads, heads, context, kv_kb, weight_kb,
        kv_over_weights`` (cache bytes / weight bytes) and ``kv_vs_first`` (cache / the first
        model's at the same context: ``kv_heads / heads`` for GQA and MQA against MHA).
    """
    rows = []
    first = next(iter(models))
    for t in contexts:
        ref = kv_cache_bytes(models[first], t, batch=batch, dtype_bytes=dtype_bytes)
        for name, m in models.items():
            kv, wb = kv_cache_bytes(m, t, batch=batch, dtype_bytes=dtype_bytes), weight_bytes(m)
            rows.append({"model": name, "kv_heads": m.config["kv_heads"], "heads": m.config["heads"], "context": t,
                         "kv_kb": kv / 1024, "weight_kb": wb / 1024, "kv_over_weights": kv / wb,
                         "kv_vs_first": kv / ref})  # fmt: skip
    return pd.DataFrame(rows)


def lm_size_table(models: dict[str, nn.Module], tokens: int) -> pd.DataFrame:
    """Architecture, parameters and MACs (counted and closed form) of language models over ``tokens`` tokens.

    Returns:
        one row per model: ``variant, depth, dim, heads, kv_heads, tie_embeddings, params,
        macs`` (:func:`~workbench.measure.count_macs`), ``macs_formula`` (:func:`lm_macs`),
        ``embedding_share_pct`` (embedding matrix / all parameters).
    """
    from .macs import count_macs

    rows = []
    for name, m in models.items():
        c, params = _cfg(m), sum(p.numel() for p in m.parameters())
        rows.append({"variant": name, **{k: c[k] for k in ("depth", "dim", "heads", "kv_heads", "tie_embeddings")},
                     "params": params, "macs": count_macs(m, m.example_input((1, 1, tokens))).macs,
                     "macs_formula": lm_macs(m, tokens), "embedding_share_pct": 100 * m.embed.weight.numel() / params})  # fmt: skip
    return pd.DataFrame(rows)
