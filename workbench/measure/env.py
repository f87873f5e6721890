"""The environment a measurement was taken in, recorded with every latency number."""

from __future__ import annotations

import functools
import os
import platform

import torch


@functools.cache
def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux) or ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(threads: int | None = None, device: str = "cpu") -> dict:
    """What a latency figure depends on: torch build, CPU/ISA or GPU, threads.

    Returns:
        dict with ``torch``, ``python``, ``platform``, ``cpu``, ``isa`` (the SIMD level ATen
        dispatches to, e.g. ``AVX2``/``AVX512``), ``cores`` (logical CPUs visible),
        ``threads`` (intra-op threads used), ``device`` and, for CUDA, ``gpu``.
    """
    try:
        isa = torch.backends.cpu.get_cpu_capability()
    except Exception:  # very old torch
        isa = "unknown"
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu": cpu_model(),
        "isa": isa,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "threads": threads if threads is not None else torch.get_num_threads(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return env
