"""Array digests for the data caches (paths and atomic writes come from :mod:`workbench.paths`)."""

from __future__ import annotations

import hashlib

import numpy as np


def sha256_array(a: np.ndarray) -> str:
    """Digest of an array's dtype, shape and bytes (C order), so a reshaped copy differs."""
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


__all__ = ["sha256_array"]
