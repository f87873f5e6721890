"""Which algorithm runs a dense 3x3 convolution, and is it really above the GEMM peak?

A dense 3x3 conv that shows more than 100 % of the measured GEMM peak has three candidate
explanations:

1. the library ran a *fast algorithm* (Winograd, FFT) that does fewer multiplies than the
   $K^2 C_{in} C_{out} H W$ MACs we count;
2. the GEMM peak it is compared with is *stale* (cached from a run on a quieter or faster
   machine state);
3. the GEMM benchmark (``torch.mm`` of two square matrices) is simply not the machine's ceiling,
   and a well-blocked direct convolution gets closer to it.

:func:`conv_algorithm` tests them instead of asserting one: it runs the conv once in a fresh
process under ``ONEDNN_VERBOSE=1`` and parses the implementation and algorithm oneDNN chose
(e.g. ``jit:avx512_core`` / ``convolution_direct``), re-measures the GEMM peak now (keeping the
cached value for comparison), and times the conv against the same conv written as explicit
im2col (``unfold``) + one GEMM, interleaved.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .latency import compare_latency, num_threads
from .peak import machine_peak

# Runs in a child process: ONEDNN_VERBOSE must be set before oneDNN initialises, and its
# output must not end up in the notebook.
_PROBE = """
import sys, torch
torch.set_num_threads({threads})
conv = torch.nn.Conv2d({c}, {c}, 3, padding=1, bias=False).eval()
with torch.no_grad():
    for _ in range(2):
        conv(torch.randn(1, {c}, {size}, {size}))
"""


@dataclass(frozen=True)
class ConvAlgorithm:
    """Evidence on how a dense 3x3 convolution runs on this machine.

    Attributes:
        channels: C of the C -> C conv; size: feature-map side (px); threads: intra-op threads.
        implementation: oneDNN implementation name (e.g. ``jit:avx512_core``), or
            ``"not oneDNN"`` when no oneDNN convolution ran (another backend took it).
        algorithm: oneDNN algorithm (``convolution_direct``, ``convolution_winograd``, ...),
            empty when unknown.
        macs: counted multiply-accumulates of the conv ($9 C^2 H W$).
        conv_ms / im2col_ms: median latency (ms) of the library conv and of unfold + GEMM,
            measured interleaved.
        fresh_peak_gflops: GEMM peak measured in this call (GFLOP/s).
        cached_peak_gflops: the cached peak found before re-measuring (None if there was none).
    """

    channels: int
    size: int
    threads: int
    implementation: str
    algorithm: str
    macs: int
    conv_ms: float
    im2col_ms: float
    fresh_peak_gflops: float
    cached_peak_gflops: float | None

    @property
    def winograd(self) -> bool:
        """True when oneDNN reports a Winograd algorithm."""
        return "winograd" in self.algorithm or "wino" in self.implementation

    @property
    def conv_gflops(self) -> float:
        return 2 * self.macs / self.conv_ms / 1e6

    @property
    def im2col_gflops(self) -> float:
        return 2 * self.macs / self.im2col_ms / 1e6

    @property
    def pct_of_fresh_peak(self) -> float:
        return 100 * self.conv_gflops / self.fresh_peak_gflops

    @property
    def pct_of_cached_peak(self) -> float | None:
        return (
            None
            if self.cached_peak_gflops is None
            else 100 * self.conv_gflops / self.cached_peak_gflops
        )

    def summary(self) -> str:
        """Three lines of evidence: algorithm, peaks, achieved throughput."""
        cached = (
            "none cached"
            if self.cached_peak_gflops is None
            else f"{self.cached_peak_gflops:.3g} cached before"
        )
        return (
            f"oneDNN chose: {self.implementation} / {self.algorithm or 'unknown algorithm'} (Winograd: {self.winograd})\n"
            f"GEMM peak: {self.fresh_peak_gflops:.3g} GFLOP/s measured now ({cached})\n"
            f"dense 3x3, C={self.channels}, {self.size} px: library conv {self.conv_gflops:.3g} GFLOP/s "
            f"({self.pct_of_fresh_peak:.0f}% of peak), im2col + GEMM {self.im2col_gflops:.3g} GFLOP/s"
        )

    def to_dict(self) -> dict:
        """All fields and derived figures, for ``wb.record``."""
        d = dict(self.__dict__)
        for k in (
            "winograd",
            "conv_gflops",
            "im2col_gflops",
            "pct_of_fresh_peak",
            "pct_of_cached_peak",
        ):
            d[k] = getattr(self, k)
        return d


class Im2colConv(nn.Module):
    """The same 3x3 conv as explicit im2col + one GEMM (the textbook lowering).

    ``unfold`` copies every input pixel $K^2$ times into a $(C K^2) \\times (H W)$ matrix, then
    one matrix product with the $(C_{out}) \\times (C K^2)$ weight does all the MACs.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.weight = conv.weight
        self.kernel_size, self.padding = conv.kernel_size, conv.padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        cols = F.unfold(x, self.kernel_size, padding=self.padding)  # (B, C*K*K, H*W)
        out = self.weight.flatten(1) @ cols  # (B, C_out, H*W)
        return out.view(b, -1, h, w)


def parse_onednn_verbose(text: str) -> tuple[str, str]:
    """(implementation, algorithm) of the last convolution in ``ONEDNN_VERBOSE`` output.

    Returns ``("not oneDNN", "")`` when the text has no executed convolution primitive.
    """
    impl, alg = "not oneDNN", ""
    for line in text.splitlines():
        fields = line.split(",")
        if "exec" in fields and "convolution" in fields:
            i = fields.index("convolution")
            impl = fields[i + 1] if i + 1 < len(fields) else "unknown"
            alg = next((f.split(":", 1)[1] for f in fields if f.startswith("alg:")), "")
    return impl, alg


def onednn_conv_choice(
    channels: int, size: int, threads: int, *, timeout_s: float = 120
) -> tuple[str, str]:
    """Run a dense 3x3 conv in a child process under ``ONEDNN_VERBOSE=1``; see :func:`parse_onednn_verbose`."""
    env = dict(os.environ, ONEDNN_VERBOSE="1", OMP_NUM_THREADS=str(threads))
    code = _PROBE.format(c=channels, size=size, threads=threads)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout_s
    )
    return parse_onednn_verbose(proc.stdout + proc.stderr)


def conv_algorithm(
    channels: int = 256, size: int = 28, *, threads: int | None = None, rounds: int = 10
) -> ConvAlgorithm:
    """Find out how a dense 3x3 C -> C conv runs here (see the module docstring).

    Re-measures and re-caches the GEMM peak, so later profiles in the same run use a fresh one.

    Args:
        channels: C (>= 1); size: feature-map side in pixels (>= 3).
        threads: intra-op threads (default: current).
        rounds: rounds of the interleaved conv vs im2col + GEMM comparison.
    """
    if channels < 1 or size < 3:
        raise ValueError(
            f"conv_algorithm needs channels >= 1 and size >= 3, got channels={channels}, size={size}"
        )
    with num_threads(threads) as t:
        cached = machine_peak(t)
        cached_gflops = cached.gemm_gflops if cached.cached else None
        fresh = machine_peak(t, refresh=True)
        impl, alg = onednn_conv_choice(channels, size, t)
        conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False).eval()
        cmp = compare_latency(
            {"conv": conv, "im2col": Im2colConv(conv)},
            (channels, size, size),
            rounds=rounds,
            threads=t,
        )
    ms = dict(zip(cmp.name, cmp.median_ms, strict=True))
    return ConvAlgorithm(
        channels=channels, size=size, threads=t, implementation=impl, algorithm=alg,
        macs=9 * channels * channels * size * size, conv_ms=ms["conv"], im2col_ms=ms["im2col"],
        fresh_peak_gflops=fresh.gemm_gflops, cached_peak_gflops=cached_gflops,
    )  # fmt: skip
