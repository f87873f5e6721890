"""Notebook/session set-up in one call: seeds, thread count, environment."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from .measure.env import environment


def setup(seed: int = 0, threads: int = 0) -> dict:
    """Seed every RNG and fix torch's intra-op thread count.

    Args:
        seed: seeds ``random``, numpy and torch.
        threads: intra-op threads; ``0`` = ``$WORKBENCH_THREADS`` (set by ``workbench report``
            so parallel notebooks share the cores) or, if unset, torch's default (all cores).

    Returns:
        :func:`workbench.measure.environment` after the change (torch, CPU, ISA, threads).
    """
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    threads = threads or int(os.environ.get("WORKBENCH_THREADS", 0)) or torch.get_num_threads()
    torch.set_num_threads(threads)
    return environment(threads)
