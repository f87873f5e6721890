"""Wall-clock latency, measured the way a reviewer would accept.

* Warm-up first (allocator, oneDNN primitive caches, ``torch.compile``), then repeated timed
  forwards under ``torch.inference_mode``; the median is the figure, with IQR and CV as its
  spread and ``n`` samples. Each sample times a block of forwards so tiny models are not
  dominated by timer resolution.
* The environment (torch, CPU, ISA, threads) is recorded with every number.
* On a shared machine whose speed drifts 1.2-2x between runs, absolute times from different
  runs are not comparable. :func:`compare_latency` measures several models round-robin in one
  process and reports ratios to the first: the only honest comparison there.
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from ._inputs import make_input
from .env import environment
from .stats import bootstrap_ci

BACKENDS = ("eager", "compile")
#: Default time cap (s) of the timed rounds of an adaptive :func:`compare_latency`.
ADAPTIVE_MAX_S = 30.0
#: An adaptive comparison never judges its intervals on fewer rounds: a bootstrap over 2-4
#: values cannot show their spread.
MIN_ADAPTIVE_ROUNDS = 5
#: Fewer rounds than this give NaN ratio intervals (unknown), not the zero width of one value.
MIN_CI_ROUNDS = 3

# The clock every timed block reads; a seam so tests can drive a fake clock and check the
# statistics exactly instead of against a noisy machine.
_clock = time.perf_counter


def _check_timing_args(*, sample_ms: float, warmup_s: float, samples: int | None = None,
                       rounds: int | None = None) -> None:
    """Refuse timing settings that cannot produce a measurement (one line naming the valid range)."""
    if not (isinstance(sample_ms, numbers.Real) and math.isfinite(sample_ms) and sample_ms > 0):
        raise ValueError(f"sample_ms must be a finite number of milliseconds > 0, got {sample_ms!r}")
    if not (isinstance(warmup_s, numbers.Real) and math.isfinite(warmup_s) and warmup_s >= 0):
        raise ValueError(f"warmup_s must be a finite number of seconds >= 0, got {warmup_s!r}")
    for name, value in (("samples", samples), ("rounds", rounds)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


@contextlib.contextmanager
def num_threads(threads: int | None) -> Iterator[int]:
    """Temporarily set torch's intra-op thread count (``None`` keeps the current one)."""
    old = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


@dataclass(frozen=True)
class LatencyResult:
    """Latency of one forward pass of a batch.

    Attributes:
        median_ms: median over samples, milliseconds per batch (the headline figure).
        q1_ms, q3_ms, iqr_ms: quartiles and inter-quartile range, ms.
        mean_ms, min_ms: for reference; the median is robust to scheduler hiccups, the mean not.
        cv: coefficient of variation of the samples (std / mean).
        n: number of samples; each sample is the mean of ``iters_per_sample`` forwards.
        batch_size, threads, backend, channels_last, device: the conditions.
        env: :func:`workbench.measure.env.environment` at measurement time.
    """

    median_ms: float
    q1_ms: float
    q3_ms: float
    iqr_ms: float
    mean_ms: float
    min_ms: float
    cv: float
    n: int
    iters_per_sample: int
    batch_size: int
    threads: int
    backend: str
    channels_last: bool
    device: str
    env: dict = field(default_factory=dict)
    samples_ms: tuple[float, ...] = ()

    @property
    def per_image_ms(self) -> float:
        return self.median_ms / self.batch_size

    @property
    def throughput(self) -> float:
        """Images per second at this batch size."""
        return 1000.0 * self.batch_size / self.median_ms

    def __str__(self) -> str:
        return (
            f"{self.median_ms:.3f} ms (IQR {self.iqr_ms:.3f}, CV {100 * self.cv:.1f}%, n={self.n}, "
            f"batch {self.batch_size}, {self.threads} thread(s), {self.backend})"
        )


def _quartiles(xs: Sequence[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[1], q[2]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _prepare(model: nn.Module, backend: str, channels_last: bool, device: str) -> nn.Module:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if channels_last or device != "cpu":
        model = copy.deepcopy(model)  # never change the caller's model
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        model = model.to(device)
    model.eval()
    if backend == "compile":
        model = torch.compile(model)
    return model


def _time_block(model: nn.Module, x: torch.Tensor, iters: int, device: str) -> float:
    """Mean seconds per forward over ``iters`` back-to-back forwards."""
    _sync(device)
    t0 = _clock()
    for _ in range(iters):
        model(x)
    _sync(device)
    return (_clock() - t0) / iters


def _calibrate(model: nn.Module, x: torch.Tensor, device: str, warmup_s: float, sample_s: float) -> int:
    """Warm up for ``warmup_s`` (at least 3 forwards); return forwards per ~``sample_s`` sample."""
    t_end = _clock() + warmup_s
    times, n = [], 0
    while n < 3 or _clock() < t_end:
        times.append(_time_block(model, x, 1, device))
        n += 1
    per_iter = statistics.median(times[-5:])
    return max(1, round(sample_s / max(per_iter, 1e-6)))


def measure_latency(
    model: nn.Module,
    input_size: tuple[int, ...] | None = None,
    *,
    batch_size: int = 1,
    threads: int | None = None,
    channels_last: bool = False,
    backend: str = "eager",
    device: str = "cpu",
    samples: int = 40,
    sample_ms: float = 25.0,
    warmup_s: float = 0.5,
) -> LatencyResult:
    """Median forward latency of ``model`` with its spread.

    Args:
        model: the module; it is put in eval mode (and copied if it must be moved/converted).
        input_size: ``(C, H, W)`` or ``(B, C, H, W)``; default ``model.default_input_size``.
        batch_size: images per forward (ignored if ``input_size`` has a batch dimension).
        threads: intra-op threads for the measurement (restored afterwards); default current.
        channels_last: NHWC memory format for model and input (often faster on CPU).
        backend: ``'eager'`` or ``'compile'`` (``torch.compile``; compile time is spent in warm-up).
        device: ``'cpu'`` or ``'cuda[:i]'`` (synchronized around every timed block).
        samples: number of timed samples (>= 1).
        sample_ms: target duration of one sample in milliseconds (> 0); it averages as many
            forwards as fit.
        warmup_s: minimum warm-up time in seconds (>= 0; at least 3 forwards run regardless).

    Returns:
        :class:`LatencyResult` (per-batch milliseconds).

    Raises:
        ValueError: ``samples < 1``, ``sample_ms <= 0``, ``warmup_s < 0`` (or not finite), an
            unknown backend, ``threads < 1`` or a bad ``input_size``.
    """
    _check_timing_args(sample_ms=sample_ms, warmup_s=warmup_s, samples=samples)
    was_training = model.training
    with num_threads(threads) as t, torch.inference_mode():
        m = _prepare(model, backend, channels_last, device)
        x = make_input(m if backend == "eager" else model, input_size, batch_size, channels_last=channels_last).to(device)
        iters = _calibrate(m, x, device, warmup_s, sample_ms / 1000)
        times = [1000 * _time_block(m, x, iters, device) for _ in range(samples)]
        env = environment(t, device)
    model.train(was_training)
    q1, med, q3 = _quartiles(times)
    mean = statistics.fmean(times)
    return LatencyResult(
        median_ms=med,
        q1_ms=q1,
        q3_ms=q3,
        iqr_ms=q3 - q1,
        mean_ms=mean,
        min_ms=min(times),
        cv=(statistics.stdev(times) / mean) if len(times) > 1 else 0.0,
        n=len(times),
        iters_per_sample=iters,
        batch_size=x.shape[0] if x.ndim else 1,  # a 0-dim input (a scalar op) is one sample
        threads=t,
        backend=backend,
        channels_last=channels_last,
        device=device,
        env=env,
        samples_ms=tuple(times),
    )


def compare_latency(
    models: Mapping[str, nn.Module] | Sequence[nn.Module | str],
    input_size: tuple[int, ...] | None = None,
    *,
    rounds: int = 20,
    batch_size: int = 1,
    threads: int | None = None,
    channels_last: bool = False,
    backend: str = "eager",
    device: str = "cpu",
    sample_ms: float = 20.0,
    warmup_s: float = 0.3,
    target_ci: float | None = None,
    max_seconds: float | None = None,
    probe: bool = False,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Latency of several models measured interleaved, as ratios to the first one.

    Each round times every model once (a ~``sample_ms`` block of forwards), starting from a
    different model each round so no model always runs first. Machine drift hits all models
    of a round alike, so the per-round ratio ``t_model / t_baseline`` is stable even when the
    absolute times are not.

    Args:
        models: ``{name: module}``, or a list of modules / registry names (names are built with
            :func:`workbench.create_model`). The first is the baseline.
        input_size: shared input ``(C, H, W)``; ``None`` uses each model's default input size.
        rounds: number of round-robin rounds (samples per model, >= 1); with ``target_ci``
            the minimum number of rounds.
        target_ci: adaptive interleaving: keep adding rounds until every ratio's bootstrap
            interval has a half-width within this fraction of the ratio (0.03 = +-3 %) or
            ``max_seconds`` is hit. ``None`` (default) runs exactly ``rounds`` rounds.
        max_seconds: time cap (s) of the timed rounds of an adaptive comparison (default
            :data:`ADAPTIVE_MAX_S`); only with ``target_ci``. The minimum ``rounds`` always
            run, so a very slow machine can exceed it.
        probe: probe the machine (:func:`workbench.measure.probe_environment`, ~0.3 s each)
            before and after, and judge the contention against the idle peak.
        level: coverage of the ratio intervals (0.95 = 2.5th-97.5th percentile).
        seed: seed of the bootstrap (the intervals of the same rounds are reproducible).
        Other arguments as :func:`measure_latency`.

    Returns:
        DataFrame, one row per model: ``name, median_ms, iqr_ms, ratio`` (median of per-round
        ratios to the baseline), ``ratio_q1, ratio_q3`` (quartiles of the per-round ratios),
        ``ratio_lo, ratio_hi`` (bootstrap interval of the median ratio over rounds; NaN for
        fewer than :data:`MIN_CI_ROUNDS` rounds), ``rounds,
        baseline, batch_size, threads``. ``df.attrs['env']`` holds the environment,
        ``df.attrs['ci']`` ``{level, target, converged, rounds, seconds}`` (``converged`` is
        ``None`` without a target, ``False`` when the time cap stopped the rounds) and, with
        ``probe``, ``df.attrs['contention']`` the :meth:`Contention.to_dict` of the probes.
    """
    _check_timing_args(sample_ms=sample_ms, warmup_s=warmup_s, rounds=rounds)
    _check_adaptive_args(target_ci, max_seconds)
    if target_ci is not None and max_seconds is None:
        max_seconds = ADAPTIVE_MAX_S
    named = _as_named(models)
    if not named:
        raise ValueError("compare_latency needs at least one model")
    states = {n: m.training for n, m in named.items()}
    names = list(named)
    base = names[0]
    with num_threads(threads) as t, torch.inference_mode():
        before = _probe(t) if probe else None
        prepared, inputs, iters = {}, {}, {}
        for name, model in named.items():
            prepared[name] = _prepare(model, backend, channels_last, device)
            inputs[name] = make_input(model, input_size, batch_size, channels_last=channels_last).to(device)
            iters[name] = _calibrate(prepared[name], inputs[name], device, warmup_s, sample_ms / 1000)
        times: dict[str, list[float]] = {n: [] for n in names}
        converged = None
        t_start = _clock()
        r = 0
        while True:
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                times[name].append(1000 * _time_block(prepared[name], inputs[name], iters[name], device))
            r += 1
            if target_ci is None:
                if r >= rounds:
                    break
                continue
            if r >= max(rounds, MIN_ADAPTIVE_ROUNDS) and _within(times, base, target_ci, level, seed):
                converged = True
                break
            if r >= rounds and _clock() - t_start >= max_seconds:
                converged = False  # the minimum rounds always run: never fewer than without a target
                break
        seconds = _clock() - t_start
        after = _probe(t) if probe else None
        env = environment(t, device)
    for n, m in named.items():
        m.train(states[n])
    rows = []
    for name in names:
        ratios = _ratios(times, name, base)
        q1, med, q3 = _quartiles(times[name])
        r1, rmed, r3 = _quartiles(ratios)
        # fewer rounds show no spread: an unknown interval, never a zero-width one
        lo, hi = bootstrap_ci(ratios, level=level, seed=seed) if r >= MIN_CI_ROUNDS else (math.nan, math.nan)
        rows.append(
            {
                "name": name,
                "median_ms": med,
                "iqr_ms": q3 - q1,
                "ratio": rmed,
                "ratio_q1": r1,
                "ratio_q3": r3,
                "ratio_lo": lo,
                "ratio_hi": hi,
                "rounds": r,
                "baseline": base,
                "batch_size": inputs[name].shape[0],
                "threads": t,
            }
        )
    df = pd.DataFrame(rows)
    df.attrs["env"] = env
    df.attrs["ci"] = {"level": level, "target": target_ci, "converged": converged, "rounds": r, "seconds": seconds}
    if probe:
        from .probe import contention  # probe imports this module: import when asked

        df.attrs["contention"] = contention(before, after).to_dict()
    return df


def _check_adaptive_args(target_ci: float | None, max_seconds: float | None) -> None:
    for name, value in (("target_ci", target_ci), ("max_seconds", max_seconds)):
        if value is not None and not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be None or a finite number > 0, got {value!r}")
    if max_seconds is not None and target_ci is None:
        raise ValueError("max_seconds caps an adaptive comparison: give target_ci too (e.g. target_ci=0.03)")


def _probe(threads: int):
    from .probe import probe_environment  # probe imports this module: import when asked

    return probe_environment(threads=threads)


def _ratios(times: Mapping[str, list[float]], name: str, base: str) -> list[float]:
    return [a / b for a, b in zip(times[name], times[base], strict=True)]


def _within(times: Mapping[str, list[float]], base: str, target: float, level: float, seed: int) -> bool:
    """Whether every ratio's bootstrap interval has a half-width within ``target`` of the ratio."""
    for name in times:
        if name == base:
            continue
        ratios = _ratios(times, name, base)
        lo, hi = bootstrap_ci(ratios, level=level, seed=seed)
        if not (hi - lo) / 2 <= target * statistics.median(ratios):
            return False
    return True


def _as_named(models) -> dict[str, nn.Module]:
    from ..models import create_model  # measure sits above models; import lazily for names only

    if isinstance(models, Mapping):
        items = list(models.items())
    else:
        items = []
        for m in models:
            if isinstance(m, str):
                items.append((m, create_model(m)))
            else:
                items.append((getattr(m, "registry_name", type(m).__name__), m))
    named: dict[str, nn.Module] = {}
    for name, m in items:
        key, i = name, 2
        while key in named:  # comparing a model with itself is a valid sanity check
            key, i = f"{name}#{i}", i + 1
        named[key] = m
    return named
