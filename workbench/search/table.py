"""Latency lookup table: kernel key -> measured milliseconds, for one (machine, threads, batch).

FBNet and ProxylessNAS sum per-block tables, nn-Meter per-kernel ones; here every distinct
:class:`~workbench.search.kernels.Kernel` a model runs is timed stand-alone once. Kernels are
measured in ``rounds`` round-robin passes (each pass in a rotated order) and the median kept, so
a drift of the machine's speed during the build spreads over all kernels instead of biasing the
ones measured last. Tables are cached per machine like :func:`workbench.measure.machine_peak`
(CPU model, ISA, torch version, visible cores, threads, batch), written atomically under a lock,
and a build only measures the kernels the cached table lacks.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..measure.env import environment
from ..measure.latency import measure_latency, num_threads
from ..paths import atomic_write, cache_dir, file_lock
from .kernels import Kernel

_FORMAT = 1

#: ``timer(module, x) -> milliseconds`` per forward of ``module`` on ``x``.
Timer = Callable[[nn.Module, torch.Tensor], float]


@dataclass(frozen=True)
class RealTimer:
    """Median ms per forward, measured by :func:`workbench.measure.measure_latency`.

    Runs under the caller's thread count. Short settings suffice because a table build repeats
    every kernel over several rounds and keeps the median; each call costs about
    ``warmup_s + samples * sample_ms`` plus three warm-up forwards (~0.025 s with the defaults
    for a small kernel), so a 3000-kernel table takes about 4 min per thread count at 3 rounds.

    Attributes:
        samples: timed samples per call; sample_ms: duration of one sample (ms), as many
            forwards as fit; warmup_s: warm-up before timing (s, at least 3 forwards run).
    """

    samples: int = 4
    sample_ms: float = 3.0
    warmup_s: float = 0.01

    def __call__(self, module: nn.Module, x: torch.Tensor) -> float:
        return measure_latency(module, x, samples=self.samples, sample_ms=self.sample_ms,
                               warmup_s=self.warmup_s).median_ms  # fmt: skip


#: The default timer of table builds and lazy measurements.
real_timer = RealTimer()


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def machine_key(threads: int, batch: int) -> dict:
    """What a table depends on: this machine (CPU, ISA, torch, cores) and the run conditions."""
    env = environment(threads)
    return {**{k: env[k] for k in ("cpu", "isa", "torch", "cores")}, "threads": threads, "batch": batch}


def table_path(threads: int, batch: int = 1, *, base=None) -> Path:
    """The cache file of the table for ``threads`` and ``batch`` on this machine."""
    src = json.dumps(machine_key(threads, batch), sort_keys=True)
    return cache_dir("latency_tables", base=base) / f"lut-{hashlib.sha1(src.encode()).hexdigest()[:12]}.json"


@dataclass
class LatencyTable:
    """Kernel key -> measured latency (ms per forward) for one machine, thread count and batch.

    Attributes:
        threads: intra-op threads the kernels were timed with.
        batch: batch size of every kernel in the table.
        entries: key -> milliseconds.
        kernels: key -> the kernel (as detected, or restored from the file without its module),
            kept for the per-kind regressor's features.
        env: :func:`workbench.measure.environment` of the build.
        path: cache file, or ``None`` for an in-memory table.
    """

    threads: int
    batch: int = 1
    entries: dict[str, float] = field(default_factory=dict)
    kernels: dict[str, Kernel] = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, kernel: Kernel | str) -> bool:
        return (kernel if isinstance(kernel, str) else kernel.key()) in self.entries

    def __getitem__(self, kernel: Kernel | str) -> float:
        key = kernel if isinstance(kernel, str) else kernel.key()
        if key not in self.entries:
            raise KeyError(f"kernel {key!r} is not in the table ({len(self.entries)} entries); measure it first")
        return self.entries[key]

    def missing(self, kernels: Iterable[Kernel]) -> list[Kernel]:
        """The distinct kernels of ``kernels`` the table has no entry for, in first-seen order."""
        seen: dict[str, Kernel] = {}
        for k in kernels:
            key = k.key()
            if key not in self.entries and key not in seen:
                seen[key] = k
        return list(seen.values())

    def subset(self, kernels: Iterable[Kernel]) -> LatencyTable:
        """An in-memory table with only the entries of ``kernels`` (those it has).

        For honest evaluation: a predictor scored on unseen models must not look up (or train
        its regressor on) kernels that a cached table picked up from those models earlier.
        """
        keys = {k.key() for k in kernels} & set(self.entries)
        return LatencyTable(self.threads, self.batch, {k: self.entries[k] for k in keys},
                            {k: self.kernels[k] for k in keys if k in self.kernels}, dict(self.env))  # fmt: skip

    def copy(self) -> LatencyTable:
        """A copy that shares no dicts (and saves to the same cache file)."""
        return LatencyTable(self.threads, self.batch, dict(self.entries), dict(self.kernels), dict(self.env), self.path)

    def total_ms(self, kernels: Iterable[Kernel]) -> float:
        """Sum of the table entries of ``kernels`` (``KeyError`` if one is missing)."""
        return math.fsum(self[k] for k in kernels)

    # -- building ---------------------------------------------------------------------------
    def measure(self, kernels: Iterable[Kernel], *, timer: Timer | None = None, rounds: int = 3, chunk: int = 200,
                progress: Callable[[int, int], None] | None = None) -> int:  # fmt: skip
        """Time the kernels the table lacks and add them (in memory; :meth:`save` writes).

        Args:
            kernels: kernels to cover (duplicates and present ones are skipped).
            timer: ``timer(module, x) -> ms``; default :func:`real_timer`.
            rounds: round-robin passes; each kernel's entry is the median of its ``rounds`` times.
            chunk: kernels built and held in memory at a time (>= 1).
            progress: called as ``progress(done, total)`` after each kernel of each round.

        Returns:
            the number of kernels measured.

        Raises:
            ValueError: ``rounds < 1``, or a kernel's leading dim is not a multiple of the table's
                batch (it was detected at another batch size).
        """
        _check_positive_int("rounds", rounds)
        _check_positive_int("chunk", chunk)
        todo = self.missing(kernels)
        # a kernel inside a reshape (heads or windows folded into the leading dim) has a leading dim
        # that is a multiple of the batch; anything else was detected at another batch size
        bad = [k for k in todo if k.batch % self.batch]
        if bad:
            raise ValueError(f"kernel {bad[0].key()!r}: leading dim {bad[0].batch} is not a multiple of the table's "
                             f"batch {self.batch} (detected at another batch size?)")
        if not todo:
            return 0
        timer = timer or real_timer
        total, done = rounds * len(todo), 0
        with num_threads(self.threads), torch.inference_mode():
            # Chunks bound the memory (a zoo's kernels hold as many weights as the zoo); the
            # rounds rotate within a chunk, so drift still spreads over its kernels.
            for start in range(0, len(todo), chunk):
                part = todo[start : start + chunk]
                built = [k.build() for k in part]
                times: list[list[float]] = [[] for _ in part]
                order = list(range(len(part)))
                for r in range(rounds):
                    shift = (r * len(part)) // rounds  # a different kernel first in every round
                    for i in order[shift:] + order[:shift]:
                        module, x = built[i]
                        times[i].append(float(timer(module, x)))
                        done += 1
                        if progress is not None:
                            progress(done, total)
                for k, ts in zip(part, times, strict=True):
                    self.entries[k.key()] = statistics.median(ts)
                    self.kernels[k.key()] = k
                del built
        return len(todo)

    @classmethod
    def build(cls, kernels: Iterable[Kernel], *, timer: Timer | None = None, threads: int = 1, batch: int = 1,
              rounds: int = 3, chunk: int = 200, cache: bool = True, refresh: bool = False, base=None,
              progress: Callable[[int, int], None] | None = None) -> LatencyTable:  # fmt: skip
        """The table for ``threads``/``batch`` on this machine, covering ``kernels``.

        Loads the cached table (unless ``refresh``), measures only the kernels it lacks and saves
        it back (if ``cache``).

        Args:
            kernels: kernels to cover, e.g. ``detect_kernels(model)`` of every training model.
            timer: ``timer(module, x) -> ms``; default :func:`real_timer`. Tests pass a fake one.
            threads: intra-op threads for the measurement (>= 1).
            batch: batch size of the kernels (>= 1); a kernel of another batch is refused.
            rounds: round-robin passes (>= 1), the median is kept.
            chunk: kernels held in memory at a time (>= 1).
            cache: read and write the per-machine cache file.
            refresh: ignore the cached entries and measure everything again.
            base: cache root (tests pass a temporary folder); default :func:`workbench.paths.cache_dir`.
            progress: ``progress(done, total)`` callback.

        Raises:
            ValueError: bad ``threads``/``batch``/``rounds`` or a kernel of another batch.
        """
        _check_positive_int("threads", threads)
        _check_positive_int("batch", batch)
        kernels = list(kernels)
        if not cache:
            table = cls(threads, batch, env=environment(threads))
            table.measure(kernels, timer=timer, rounds=rounds, chunk=chunk, progress=progress)
            return table
        path = table_path(threads, batch, base=base)
        with file_lock(path.with_name(path.name + ".lock")):
            table = cls(threads, batch, env=environment(threads), path=path)
            if not refresh:
                table = cls.load(threads, batch, base=base) or table
            if table.measure(kernels, timer=timer, rounds=rounds, chunk=chunk, progress=progress) or not path.exists():
                table.save()
        return table

    # -- cache file ---------------------------------------------------------------------------
    def save(self, path: str | Path | None = None) -> Path:
        """Write the table as JSON (atomically) to ``path`` or its cache file."""
        path = Path(path) if path is not None else self.path
        if path is None:
            raise ValueError("this table has no cache file; pass a path")
        d = {
            "format": _FORMAT, "threads": self.threads, "batch": self.batch, "env": self.env,
            "entries": {k: {"ms": ms, "kernel": self.kernels[k].to_dict() if k in self.kernels else None}
                        for k, ms in sorted(self.entries.items())},
        }  # fmt: skip
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(d, indent=1)))
        self.path = path
        return path

    @classmethod
    def load(cls, threads: int, batch: int = 1, *, base=None, path: str | Path | None = None) -> LatencyTable | None:
        """The cached table for ``threads``/``batch`` on this machine, or ``None`` if there is none.

        A corrupt or outdated file counts as absent (and is removed), as for ``machine_peak``.
        """
        path = Path(path) if path is not None else table_path(threads, batch, base=base)
        if not path.exists():
            return None
        try:
            d = json.loads(path.read_text())
            if d["format"] != _FORMAT or d["threads"] != threads or d["batch"] != batch:
                raise ValueError("stale table")
            entries = {k: float(v["ms"]) for k, v in d["entries"].items()}
            kernels = {k: Kernel.from_dict({**v["kernel"], "key": k}) for k, v in d["entries"].items()
                       if v.get("kernel")}  # fmt: skip
        except (ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # corrupt cache: measure again
            return None
        return cls(threads, batch, entries, kernels, d.get("env", {}), path)
