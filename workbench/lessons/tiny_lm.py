"""Verdict and takeaways of the ``tiny_lm`` notebook: MobileLLM's design claims at ~0.3 M
parameters, and the economics of decoding on this CPU.

Rule (:func:`conclude`), one part per testable piece (``combine_parts``):

* **depth**: at equal parameters the deep-thin decoder's validation loss is lower than the
  shallow-wide one's by more than twice the seed spread (*untestable* with one seed or when
  training is too short: no model beats the unigram loss by :data:`MIN_LEARNED_NATS`);
* **sharing + GQA**: tied embeddings plus grouped-query attention cost at most
  ``max(QUALITY_TOL_NATS, 2 x spread)`` of validation loss against the deep-thin MHA model;
* **prefill vs decode**: prefill processes more tokens per second than decode at every context;
* **int8**: weight-only int8 changes perplexity by at most :data:`INT8_PPL_TOL_PCT` at every group size;
* **speculative**: greedy speculative decoding gives the target's exact output, and the best
  ``k``'s speed-up has its lower quartile above 1 (*fails* when every upper quartile is below 1,
  *untestable* when the interquartile range straddles 1);
* **memory-bound**: the largest model's decode step streams its weights at
  >= :data:`MEMORY_BOUND_SHARE` of the measured copy bandwidth.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .verdicts import Lesson, combine_parts, finite, seed_spread

CLAIM = (
    "At equal parameters a deep-thin decoder beats a shallow-wide one, and embedding sharing plus grouped-query "
    "attention save weights and KV cache at little loss (MobileLLM); decoding is memory-bound and slower per token "
    "than prefill, weight-only int8 keeps perplexity, and speculative decoding with a small draft speeds decoding up "
    "without changing the greedy output."
)

#: MobileLLM's variants at our scale: create_model("tiny_lm", **kwargs) (plus vocab and max_len).
VARIANTS: dict[str, dict[str, Any]] = {
    "shallow_wide": {"depth": 2, "dim": 96, "heads": 4},
    "deep_thin": {"depth": 6, "dim": 56, "heads": 4},
    "deep_thin_tied": {"depth": 6, "dim": 56, "heads": 4, "tie_embeddings": True},
    "deep_thin_gqa": {"depth": 6, "dim": 56, "heads": 4, "kv_heads": 2},
    "deep_thin_tied_gqa": {"depth": 6, "dim": 56, "heads": 4, "kv_heads": 2, "tie_embeddings": True},
    "deep_thin_tied_mqa": {"depth": 6, "dim": 56, "heads": 4, "kv_heads": 1, "tie_embeddings": True},
    "deep_thin_ls": {"depth": 3, "dim": 56, "heads": 4, "repeat": 2},  # MobileLLM-LS: each block twice
    "draft": {"depth": 1, "dim": 48, "heads": 4, "tie_embeddings": True},
}
#: Published numbers (seed abstracts, quoted exactly).
PAPER_QUOTES = {
    "MobileLLM": "a remarkable 2.7%/4.3% accuracy boost over preceding 125M/350M state-of-the-art models",
    "MobileLLM-LS": "a further accuracy enhancement of 0.7%/0.8% than MobileLLM 125M/350M",
    "MELT": "corroborates that LLM inference is largely memory-bound",
    "Kangaroo": "Kangaroo achieves speedups up to 1.68times on Spec-Bench",
}
MIN_LEARNED_NATS = 0.3  # below the unigram loss by this much, or training was too short to compare
QUALITY_TOL_NATS = 0.02  # "little loss": 0.02 nats/char is ~1 % of perplexity at our losses
INT8_PPL_TOL_PCT = 1.0
MEMORY_BOUND_SHARE = 0.5


def variants(names: list[str] | tuple[str, ...], *, vocab: int, max_len: int = 256, dropout: float = 0.0) -> dict[str, dict]:
    """``{name: create_model("tiny_lm") kwargs}`` for the named rows of :data:`VARIANTS`."""
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise KeyError(f"unknown tiny_lm variant {unknown[0]!r}; valid: {', '.join(VARIANTS)}")
    return {n: {**VARIANTS[n], "vocab": vocab, "max_len": max_len, "dropout": dropout} for n in names}


def quality_table(histories: dict[tuple[str, int], dict], *, unigram_nats: float) -> pd.DataFrame:
    """One row per variant from ``{(variant, seed): training history}``.

    Columns: ``variant, params, val_loss`` (nats/char, mean over seeds), ``val_loss_std``
    (NaN with one seed), ``seeds, val_bpc, ppl, steps_per_s, unigram_loss``.
    """
    rows = pd.DataFrame([{"variant": v, "seed": s, "params": h["params"], "val_loss": h["final_val_loss"],
                          "steps_per_s": h["steps_per_s"]} for (v, s), h in histories.items()])  # fmt: skip
    g = rows.groupby("variant", sort=False)
    t = g.agg(params=("params", "first"), val_loss=("val_loss", "mean"), val_loss_std=("val_loss", "std"),
              seeds=("seed", "count"), steps_per_s=("steps_per_s", "mean")).reset_index()  # fmt: skip
    t["val_bpc"] = t.val_loss / math.log(2)
    t["ppl"] = t.val_loss.map(math.exp)
    t["unigram_loss"] = unigram_nats
    return t


def curves(histories: dict[tuple[str, int], dict]) -> pd.DataFrame:
    """Long table of validation curves: ``variant, seed, step, val_bpc, train_bpc`` (bits per character)."""
    rows = [{"variant": v, "seed": s, "step": st, "val_bpc": vb, "train_bpc": tl / math.log(2)}
            for (v, s), h in histories.items() for st, vb, tl in zip(h["step"], h["val_bpc"], h["train_loss"], strict=True)]  # fmt: skip
    return pd.DataFrame(rows)


def throughput(decode: pd.DataFrame) -> pd.DataFrame:
    """``decode_latency`` rows as a long table ``series, context, tok_s`` (prefill and decode per model)."""
    pre = decode.assign(series=decode.model + " prefill", tok_s=decode.prefill_tok_s)
    dec = decode.assign(series=decode.model + " decode", tok_s=decode.decode_tok_s)
    return pd.concat([pre, dec], ignore_index=True)[["series", "context", "tok_s"]]


def _row(t: pd.DataFrame, name: str) -> pd.Series | None:
    hit = t[t.variant == name]
    return hit.iloc[0] if len(hit) else None


def _spread(t: pd.DataFrame, *names: str) -> float:
    s = t[t.variant.isin(names)].val_loss_std
    return float(s.max()) if s.notna().all() and len(s) else float("nan")


def conclude(quality: pd.DataFrame, *, decode: pd.DataFrame, quant: pd.DataFrame, spec: pd.DataFrame,
             bandwidth: pd.DataFrame, peak_gbs: float, steps: int) -> Lesson:  # fmt: skip
    """The tiny-LM verdict and takeaways from this run's tables.

    Args:
        quality: :func:`quality_table`.
        decode: ``wb.measure.decode_latency`` of the trained models (prefill vs decode).
        quant: ``wb.compress.weight_only.quantization_sweep`` (``scheme, bits, group_size,
            weight_mb, ppl_change_pct, decode_ratio``; first row fp32).
        spec: ``wb.measure.decoding.speculative_speedup``.
        bandwidth: ``decode_latency`` rows of the bandwidth sweep (``weight_mb, decode_gb_s``).
        peak_gbs: the machine's measured copy bandwidth (``wb.machine_peak().bandwidth_gbs``).
        steps: training steps per model.
    """
    n = int(quality.seeds.min()) if len(quality) else 0
    short = not len(quality) or quality.val_loss.min() > quality.unigram_loss.iloc[0] - MIN_LEARNED_NATS
    parts, takeaways, key = {}, [], {}
    wide, deep = _row(quality, "shallow_wide"), _row(quality, "deep_thin")
    spread = _spread(quality, "shallow_wide", "deep_thin")
    for _, r in quality.iterrows():
        key[f"{r.variant}: val bits/char"] = {"value": round(float(r.val_bpc), 3), "unit": f"bpc ({r.params:,} params)"}
    best = quality.loc[quality.val_loss.idxmin()] if len(quality) else None
    if short:
        takeaways.append(
            f"Training too short: after {steps} steps the best validation loss ({quality.val_loss.min():.2f} nats/char) is not "
            f"{MIN_LEARNED_NATS} nats below the unigram loss ({quality.unigram_loss.iloc[0]:.2f}); the quality comparisons are ignored."
        )
    elif best is not None:
        takeaways.append(
            f"After {steps} steps the best model is {best.variant} at {best.val_bpc:.2f} bits/char (perplexity {best.ppl:.2f}) "
            f"against {quality.unigram_loss.iloc[0] / math.log(2):.2f} bits/char for character frequencies alone; {seed_spread(spread, n)}."
        )
    if wide is not None and deep is not None:
        delta = float(wide.val_loss - deep.val_loss)
        if short or n < 2 or not finite(spread):
            parts["depth"] = "untestable"
        else:
            parts["depth"] = "holds" if delta > 2 * spread else "fails"
        takeaways.append(
            f"Deep-thin ({deep.params:,} params) vs shallow-wide ({wide.params:,}): validation loss {deep.val_loss:.3f} vs "
            f"{wide.val_loss:.3f} nats/char ({'deep-thin lower' if delta > 0 else 'shallow-wide lower'} by {abs(delta):.3f}; "
            f"{seed_spread(spread, n)}) -> depth part {parts['depth']}."
        )
    shared = _row(quality, "deep_thin_tied_gqa")
    if shared is not None and deep is not None:
        sp = _spread(quality, "deep_thin", "deep_thin_tied_gqa")
        cost = float(shared.val_loss - deep.val_loss)
        tol = max(QUALITY_TOL_NATS, 2 * sp) if finite(sp) else QUALITY_TOL_NATS
        parts["sharing+GQA"] = "untestable" if short or n < 2 or not finite(sp) else ("holds" if cost <= tol else "fails")
        saved = 100 * (1 - shared.params / deep.params)
        takeaways.append(
            f"Tied embeddings + GQA save {saved:.1f}% of the deep-thin model's parameters for {cost:+.3f} nats/char "
            f"(tolerance {tol:.3f}) -> {parts['sharing+GQA']}. With a {VARIANTS_VOCAB_NOTE}"
        )
        key["tied + GQA: params saved"] = {"value": round(float(saved), 1), "unit": "%"}
    if len(decode):
        parts["prefill vs decode"] = "holds" if (decode.prefill_speedup > 1).all() else "fails"
        lo, hi = decode.prefill_speedup.min(), decode.prefill_speedup.max()
        takeaways.append(
            f"Prefill processes {lo:.1f}-{hi:.1f}x the tokens per second of one-token decode steps "
            f"(contexts {sorted(int(c) for c in decode.context.unique())}): decode runs matrix-vector products, one pass per token."
        )
        key["prefill / decode tokens per s"] = f"{lo:.1f}-{hi:.1f}x"
        if wide is not None and {"shallow_wide", "deep_thin"} <= set(decode.model):
            d = decode[decode.model == "deep_thin"].decode_ratio
            takeaways.append(
                f"At equal parameters the deep-thin model decodes {d.median():.1f}x slower than the shallow-wide one "
                "(interleaved): on a CPU at batch 1 each layer's fixed per-operator cost adds up, a latency price "
                "MobileLLM's accuracy gain must pay."
            )
    if len(quant):
        q8, q4 = quant[quant.bits == 8], quant[quant.bits == 4]
        parts["int8"] = "holds" if len(q8) and (q8.ppl_change_pct.abs() <= INT8_PPL_TOL_PCT).all() else "fails"
        takeaways.append(
            f"Weight-only int8 changes perplexity by {q8.ppl_change_pct.min():+.2f}% to {q8.ppl_change_pct.max():+.2f}% "
            f"(groups {sorted(int(g) for g in q8.group_size.unique())}), int4 by {q4.ppl_change_pct.min():+.2f}% to {q4.ppl_change_pct.max():+.2f}%; "
            f"weights shrink from {quant.weight_mb.iloc[0]:.2f} MB to {q8.weight_mb.min():.2f} / {q4.weight_mb.min():.2f} MB."
        )
        if "decode_ratio" in quant and quant.decode_ratio.notna().any():
            r8, r4 = q8.decode_ratio.dropna(), q4.decode_ratio.dropna()
            hi8 = q8.decode_ratio_q3.dropna() if "decode_ratio_q3" in q8 else r8
            lo8 = q8.decode_ratio_q1.dropna() if "decode_ratio_q1" in q8 else r8
            # "faster" / "slower" only when the whole interquartile range is on one side of 1
            faster = ("faster" if len(hi8) and hi8.max() < 1 else "slower" if len(lo8) and lo8.min() > 1
                      else "neither measurably faster nor slower")  # fmt: skip
            takeaways.append(
                f"Dequantizing on the fly makes int8 decoding {faster} on this CPU: int8 {r8.median():.2f}x and int4 "
                f"{r4.median():.2f}x the fp32 step time. Eager PyTorch has no int4/int8 matrix-vector kernel, so the "
                "dequantization is extra work; the memory saving only turns into speed with a fused kernel that streams "
                "the small codes from DRAM, which matters once the weights no longer fit in cache."
            )
        key["int8 / int4 perplexity change"] = f"{q8.ppl_change_pct.abs().max():.2f}% / {q4.ppl_change_pct.abs().max():.2f}%"
    if len(spec):
        sp_rows = spec[spec.k > 0]
        ident = bool(spec.identical.all())
        bestk = sp_rows.loc[sp_rows.speedup.idxmax()]
        if not ident:
            parts["speculative"] = "fails"
        elif bestk.speedup_q1 > 1:
            parts["speculative"] = "holds"
        elif (sp_rows.speedup_q3 < 1).all():
            parts["speculative"] = "fails"
        else:
            parts["speculative"] = "untestable"
        takeaways.append(
            f"Speculative decoding ({bestk.method}): acceptance {100 * bestk.acceptance_rate:.0f}%, "
            f"{bestk.tokens_per_pass:.2f} tokens per target pass, measured speed-up {bestk.speedup:.2f}x "
            f"(IQR {bestk.speedup_q1:.2f}-{bestk.speedup_q3:.2f}); outputs {'identical to' if ident else 'DIFFERENT from'} "
            "greedy decoding of the target. Kangaroo reports up to 1.68x on Spec-Bench."
        )
        key["speculative speed-up"] = {"value": round(float(bestk.speedup), 2), "unit": f"x ({bestk.method})"}
        key["draft acceptance rate"] = {"value": round(100 * float(bestk.acceptance_rate), 1), "unit": "%"}
    if len(bandwidth) and finite(peak_gbs):
        big = bandwidth.loc[bandwidth.weight_mb.idxmax()]
        small = bandwidth.loc[bandwidth.weight_mb.idxmin()]
        share = big.decode_gb_s / peak_gbs
        parts["memory-bound"] = "holds" if share >= MEMORY_BOUND_SHARE else "fails"
        bound = (
            "the largest decode step runs near the memory bandwidth, as MELT finds; small ones are bound by per-operator overhead"
            if share >= MEMORY_BOUND_SHARE
            else "even the largest stays far below it: at these sizes decoding is bound by per-operator overhead and "
            "cache-resident weights, not by DRAM bandwidth (MELT's models are gigabytes)"
        )
        takeaways.append(
            f"Decode steps stream their weights at {small.decode_gb_s:.2f} GB/s for {small.weight_mb:.2f} MB of weights and "
            f"{big.decode_gb_s:.2f} GB/s for {big.weight_mb:.1f} MB, against {peak_gbs:.1f} GB/s measured copy bandwidth "
            f"({100 * share:.0f}%): {bound}."
        )
        key["largest decode: share of copy bandwidth"] = {"value": round(100 * float(share), 1), "unit": "%"}
    key["training"] = "too short: quality ignored" if short else f"{steps} steps, {n} seed(s)"
    verdict = combine_parts(parts.values())
    evidence = "; ".join(f"{k} {v}" for k, v in parts.items()) + "."
    return Lesson(CLAIM, verdict, evidence[0].upper() + evidence[1:], tuple(takeaways), key)


VARIANTS_VOCAB_NOTE = (
    "character vocabulary the shared matrix is tiny (vocab x width); at a 32k-token subword vocabulary it is "
    "the largest single matrix of a sub-billion model, which is why MobileLLM shares it."
)
