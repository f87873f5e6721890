"""Weight-only group quantization of linear layers (int8 / int4), dequantized on the fly.

LLM runtimes (llama.cpp's Q8_0 / Q4_0, GPTQ and AWQ kernels, MobileQuant's weight path) store
each weight row in groups of ``g`` consecutive input weights, each group with its own scale:
symmetric, $s = \\max_{group} |w| / q_{max}$ with $q_{max} = 2^{b-1} - 1$ (127 for int8, 7 for
int4), $w_q = \\text{clamp}(\\lfloor w / s \\rceil, -q_{max}, q_{max})$, $\\hat w = s\\, w_q$. So
$|w - \\hat w| \\le s/2$ for every weight, and the storage is $b + 32/g$ bits per weight with fp32
scales (int4 codes are packed two per byte).

Activations stay fp32: :class:`WeightOnlyLinear` dequantizes its weight on every call and runs
a float matmul. That saves memory (and memory *traffic* in a fused kernel), but in eager PyTorch
on a CPU the dequantization is extra work: whether it is faster must be measured, not assumed.
"""

from __future__ import annotations

import copy
import math

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["WeightOnlyLinear", "dequantize_groups", "quantization_sweep", "quantize_groups", "weight_only_quantize"]

_BITS = (4, 8)


def _check(bits: int, group_size: int) -> None:
    if bits not in _BITS:
        raise ValueError(f"unsupported bits {bits}; valid: {', '.join(map(str, _BITS))}")
    if group_size < 2 or group_size % 2:
        raise ValueError(f"group_size must be even and >= 2, got {group_size}")


def quantize_groups(w: torch.Tensor, bits: int, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-group codes and scales of a ``(out, in)`` weight.

    A row whose length ``in`` is not a multiple of ``group_size`` is zero-padded to one (the
    last group is shorter in effect; zeros quantize exactly).

    Returns:
        ``(codes, scales)``: ``int8`` codes ``(out, in_padded)`` in ``[-qmax, qmax]`` and fp32
        scales ``(out, in_padded / group_size)``.
    """
    _check(bits, group_size)
    qmax = 2 ** (bits - 1) - 1
    w = F.pad(w.detach().float(), (0, -w.shape[1] % group_size))
    g = w.reshape(w.shape[0], -1, group_size)  # (out, groups, g)
    scales = g.abs().amax(-1).clamp_min(1e-12) / qmax
    codes = (g / scales[..., None]).round().clamp(-qmax, qmax).to(torch.int8)
    return codes.reshape(w.shape), scales


def dequantize_groups(codes: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """``scale * code`` back to an fp32 ``(out, in)`` weight."""
    out, n = codes.shape
    g = n // scales.shape[1]
    return (codes.reshape(out, -1, g).float() * scales[..., None]).reshape(out, n)


def _pack4(codes: torch.Tensor) -> torch.Tensor:
    u = (codes + 8).to(torch.uint8)  # [-7, 7] -> [1, 15]
    return u[:, 0::2] | (u[:, 1::2] << 4)


def _unpack4(packed: torch.Tensor) -> torch.Tensor:
    lo = (packed & 0xF).to(torch.int8) - 8
    hi = (packed >> 4).to(torch.int8) - 8
    return torch.stack([lo, hi], dim=-1).reshape(packed.shape[0], -1)


class WeightOnlyLinear(nn.Module):
    """A linear layer holding int8 or packed int4 group-quantized weights, dequantized per call.

    Args:
        linear: the float layer to quantize (not modified).
        bits: 8 or 4.
        group_size: input weights per scale (32, 64, 128, ...; rows are zero-padded to a multiple).
    """

    def __init__(self, linear: nn.Linear, bits: int = 8, group_size: int = 64) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bits, self.group_size = bits, group_size
        codes, scales = quantize_groups(linear.weight, bits, group_size)
        self.register_buffer("codes", _pack4(codes) if bits == 4 else codes)
        self.register_buffer("scales", scales)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def weight(self) -> torch.Tensor:
        """The dequantized fp32 weight ``(out, in)``."""
        codes = _unpack4(self.codes) if self.bits == 4 else self.codes
        return dequantize_groups(codes, self.scales)[:, : self.in_features]  # drop the padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bits={self.bits}, group_size={self.group_size}"


def weight_only_quantize(model: nn.Module, bits: int = 8, group_size: int = 64, *,
                         skip: tuple[str, ...] = ()) -> nn.Module:  # fmt: skip
    """A copy of ``model`` whose ``nn.Linear`` layers are :class:`WeightOnlyLinear` (embeddings stay fp32).

    Args:
        bits: 8 or 4.
        group_size: input weights per scale (rows are zero-padded to a multiple of it).
        skip: module names (prefixes) to leave in fp32 (listed in ``model.weight_only_skipped``).
    """
    _check(bits, group_size)
    q = copy.deepcopy(model).eval()
    skipped = []
    for name, mod in list(q.named_modules()):
        if not isinstance(mod, nn.Linear):
            continue
        if skip and name.startswith(skip):
            skipped.append(name)
            continue
        parent_name, _, attr = name.rpartition(".")
        parent = q.get_submodule(parent_name) if parent_name else q
        setattr(parent, attr, WeightOnlyLinear(mod, bits, group_size))
    q.weight_only_skipped = skipped
    return q


def quantization_sweep(model: nn.Module, tokens: torch.Tensor, *, bits: tuple[int, ...] = (8, 4),
                       group_sizes: tuple[int, ...] = (32, 64, 128), seq_len: int = 64, max_windows: int = 128,
                       latency_group: int | None = 64, context: int = 64, rounds: int = 5,
                       threads: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Perplexity, weight bytes and (optionally) decode speed of weight-only quantized copies of ``model``.

    Args:
        model: a trained TinyLM.
        tokens: held-out tokens to score (e.g. ``corpus.val``).
        bits, group_sizes: the schemes (every combination).
        seq_len, max_windows: the scoring windows (:func:`workbench.train.lm.evaluate_lm`).
        latency_group: time one decode step of fp32 and of every ``bits`` at this group size,
            interleaved (``None``: skip latency).
        context, rounds, threads: the decode-latency measurement.

    Returns:
        one row per scheme, fp32 first: ``scheme, bits, group_size, weight_mb, bits_per_weight,
        val_loss, ppl, ppl_change_pct, decode_ratio`` (decode step time / fp32's; NaN when not
        timed, with ``decode_ratio_q1/q3``).
    """
    from ..measure.decoding import decode_latency, weight_bytes
    from ..train.lm import evaluate_lm

    base_loss = evaluate_lm(model, tokens, seq_len=seq_len, max_windows=max_windows)
    rows = [{"scheme": "fp32", "bits": 32, "group_size": 0, "weight_mb": weight_bytes(model) / 2**20,
             "bits_per_weight": 32.0, "val_loss": base_loss}]  # fmt: skip
    timed = {"fp32": model}
    for b in bits:
        for g in group_sizes:
            q = weight_only_quantize(model, b, g)
            name = f"int{b} g{g}"
            rows.append({"scheme": name, "bits": b, "group_size": g, "weight_mb": weight_bytes(q) / 2**20,
                         "bits_per_weight": b + 32 / g,
                         "val_loss": evaluate_lm(q, tokens, seq_len=seq_len, max_windows=max_windows)})  # fmt: skip
            if g == latency_group:
                timed[name] = q
    t = pd.DataFrame(rows)
    t["ppl"] = t.val_loss.map(math.exp)
    t["ppl_change_pct"] = 100 * (t.ppl / t.ppl.iloc[0] - 1)
    t["decode_ratio"] = t["decode_ratio_q1"] = t["decode_ratio_q3"] = float("nan")
    if latency_group is not None and len(timed) > 1:
        lat = decode_latency(timed, [context], rounds=rounds, threads=threads).set_index("model")
        for col in ("decode_ratio", "decode_ratio_q1", "decode_ratio_q3"):
            t[col] = t.scheme.map(lat[col])
    return t
