"""Array digests for the data caches; paths and atomic writes come from :mod:`workbench.paths`.

``data_cache_dir``, ``results_cache_dir`` and ``atomic_write`` are re-exported for the modules
that still import them from here (``workbench.train``); new code imports ``workbench.paths``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..paths import REPO_ROOT, atomic_write, cache_dir, data_dir

data_cache_dir = data_dir


def results_cache_dir(base: str | os.PathLike | None = None) -> Path:
    """Where trained results live: ``base``, else ``$WORKBENCH_CACHE``, else ``.cache/workbench/``."""
    return cache_dir(base=base)


def sha256_array(a: np.ndarray) -> str:
    """Digest of an array's dtype, shape and bytes (C order), so a reshaped copy differs."""
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


__all__ = ["REPO_ROOT", "atomic_write", "data_cache_dir", "results_cache_dir", "sha256_array"]
