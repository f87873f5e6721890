"""Where things live, and how files are written: the one place for repository paths, caches,
atomic writes and inter-process locks.

Everything else in the package imports these names instead of computing ``parents[N]`` of its
own ``__file__``. This module imports nothing from the package, so every layer may use it.

Environment variables:

* ``WORKBENCH_CACHE`` -- per-machine caches: trained models (the model bank), counting cache,
  machine peak, latency tables. Default ``<repo>/.cache/workbench``.
* ``WORKBENCH_DATA`` -- fetched data sets. Default ``<repo>/datasets/cache``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
REPORTS_DIR = REPO_ROOT / "reports"
DATASETS_DIR = REPO_ROOT / "datasets"


def cache_dir(sub: str | None = None, *, base: str | os.PathLike | None = None) -> Path:
    """Per-machine cache folder: ``base``, else ``$WORKBENCH_CACHE``, else ``<repo>/.cache/workbench``.

    Args:
        sub: optional sub-folder (``"bank"``, ``"counts"``, ...).
        base: explicit cache root (tests pass a temporary folder).
    """
    root = Path(base) if base is not None else Path(
        os.environ.get("WORKBENCH_CACHE") or REPO_ROOT / ".cache" / "workbench"
    )
    return root / sub if sub else root


def data_dir(base: str | os.PathLike | None = None) -> Path:
    """Where fetched data sets live: ``base``, else ``$WORKBENCH_DATA``, else ``datasets/cache``."""
    if base is not None:
        return Path(base)
    return Path(os.environ.get("WORKBENCH_DATA") or DATASETS_DIR / "cache")


class CacheWriteError(OSError):
    """A cache file could not be written (full disk, read-only or unwritable folder)."""


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``, so readers never see a partial file.

    The temporary file sits in the destination folder (``os.replace`` is atomic only within one
    file system) and is removed if ``write`` raises or the process is interrupted.

    Raises:
        CacheWriteError: the folder is not writable or the disk is full -- one clear sentence
            naming the path, instead of a traceback from deep inside ``torch.save``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise CacheWriteError(e.errno, f"cannot write {path}: {e.strerror or e}") from e
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; the cache is an ordinary file
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise CacheWriteError(e.errno, f"cannot write {path}: {e.strerror}") from e
        if isinstance(e, RuntimeError) and "No space left" in str(e):  # torch.save wraps ENOSPC
            raise CacheWriteError(errno.ENOSPC, f"cannot write {path}: no space left on device") from e
        raise
    return path


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, *, timeout: float | None = None, poll: float = 0.2) -> Iterator[Path]:
    """Hold an exclusive inter-process lock on ``path`` (created if missing) for the ``with`` body.

    ``fcntl.flock`` locks are released by the kernel when the holder dies, so a killed process
    never leaves a stale lock behind.

    Args:
        timeout: give up after this many seconds (``TimeoutError``); ``None`` waits forever.
        poll: seconds between attempts while waiting.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    start = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if timeout is not None and time.monotonic() - start > timeout:
                    raise TimeoutError(f"could not lock {path} within {timeout:.0f} s") from None
                time.sleep(poll)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


__all__ = [
    "CacheWriteError", "DATASETS_DIR", "NOTEBOOKS_DIR", "PACKAGE_DIR", "REPORTS_DIR", "REPO_ROOT",
    "atomic_write", "cache_dir", "data_dir", "file_lock",
]
