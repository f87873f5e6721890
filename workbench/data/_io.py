"""Cache locations, atomic writes and array digests shared by the data and training caches."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where fetched data sets live: ``cache_dir``, else ``$WORKBENCH_DATA``, else ``datasets/cache/``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("WORKBENCH_DATA") or REPO_ROOT / "datasets" / "cache")


def results_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where trained results live: ``cache_dir``, else ``$WORKBENCH_CACHE``, else ``.cache/workbench/``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("WORKBENCH_CACHE") or REPO_ROOT / ".cache" / "workbench")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``, so readers never see a partial file.

    The temporary file sits in the destination folder: ``os.replace`` is atomic only within one
    file system.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; the cache is an ordinary file
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sha256_array(a: np.ndarray) -> str:
    """Digest of an array's dtype, shape and bytes (C order), so a reshaped copy differs."""
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
