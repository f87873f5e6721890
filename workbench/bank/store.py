"""On-disk layout of the model bank: one folder per content-addressed entry.

``<cache_dir('bank')>/<model>-<digest>/`` holds ``key.json`` (the full key), ``model.pt`` (state
dict), ``history.json`` and ``sha256`` (digest of ``model.pt``), written in that order into a
hidden staging folder that is renamed into place only when complete: a reader never sees half an
entry, and an interrupted build leaves only a staging folder that :func:`sweep` removes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import torch

from ..paths import CacheWriteError, cache_dir, file_lock

__all__ = ["BankCorrupt", "bank_root", "entry_lock", "read_entry", "remove", "staging", "sweep", "write_entry"]

FILES = ("key.json", "model.pt", "history.json", "sha256")


class BankCorrupt(Exception):
    """An entry's files are missing, unreadable, or its weights do not match their checksum."""


def bank_root(base: str | os.PathLike | None = None) -> Path:
    """The bank folder: ``<base or $WORKBENCH_CACHE or .cache/workbench>/bank``."""
    return cache_dir("bank", base=base)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def entry_lock(root: Path, folder_name: str) -> Iterator[None]:
    """Per-entry inter-process lock: two processes asking for one entry train it once.

    Raises:
        CacheWriteError: the bank folder cannot be created or written.
    """
    lock = root / ".locks" / f"{folder_name}.lock"
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(lock.parent, os.W_OK):
            raise PermissionError(errno.EACCES, "permission denied")
        cm = file_lock(lock)
        cm.__enter__()
    except TimeoutError:
        raise
    except OSError as e:
        raise CacheWriteError(e.errno, f"cannot write the model bank at {root}: {e.strerror or e}") from e
    try:
        yield
    finally:
        cm.__exit__(None, None, None)


def read_entry(folder: Path) -> tuple[dict, dict, dict]:
    """(key, history dict, state dict) of a complete entry, weights verified.

    Raises:
        BankCorrupt: missing file, unparseable JSON, checksum mismatch or unloadable weights.
    """
    missing = [f for f in FILES if not (folder / f).exists()]
    if missing:
        raise BankCorrupt(f"{folder.name}: missing {', '.join(missing)}")
    try:
        key = json.loads((folder / "key.json").read_text())
        history = json.loads((folder / "history.json").read_text())
        want = (folder / "sha256").read_text().strip()
    except (OSError, ValueError) as e:
        raise BankCorrupt(f"{folder.name}: unreadable metadata ({e})") from e
    got = _sha256(folder / "model.pt")
    if got != want:
        raise BankCorrupt(f"{folder.name}: model.pt checksum {got[:12]} != recorded {want[:12]}")
    try:
        state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any unpickling failure means the file is unusable
        raise BankCorrupt(f"{folder.name}: model.pt does not load ({e})") from e
    return key, history, state


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while building, so ``finally`` blocks clean up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def staging(root: Path, folder_name: str) -> Iterator[Path]:
    """A hidden folder to build an entry in; removed unless :func:`write_entry` renamed it.

    SIGTERM, Ctrl-C or an exception inside the ``with`` body leave nothing behind.
    """
    tmp = root / f".staging-{folder_name}-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    except OSError as e:
        raise CacheWriteError(e.errno, f"cannot write the model bank at {root}: {e.strerror or e}") from e
    try:
        with _sigterm_as_exit():
            yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_entry(tmp: Path, folder: Path, key: dict, history: dict, state: dict) -> None:
    """Write the four files into ``tmp`` (checksum last), then rename ``tmp`` onto ``folder``.

    Raises:
        CacheWriteError: full disk or unwritable folder (one sentence, not a torch traceback).
    """
    try:
        (tmp / "key.json").write_text(json.dumps(key, sort_keys=True, indent=1, default=str))
        torch.save(state, tmp / "model.pt")
        (tmp / "history.json").write_text(json.dumps(history, default=str))
        (tmp / "sha256").write_text(_sha256(tmp / "model.pt") + "\n")
        remove(folder)
        os.replace(tmp, folder)
    except OSError as e:
        raise CacheWriteError(e.errno, f"cannot write bank entry {folder}: {e.strerror or e}") from e
    except RuntimeError as e:  # torch.save wraps ENOSPC in a RuntimeError
        if "No space left" in str(e) or "write" in str(e).lower():
            raise CacheWriteError(errno.ENOSPC, f"cannot write bank entry {folder}: {e}") from e
        raise


def remove(folder: Path) -> None:
    """Delete an entry folder (missing is fine)."""
    shutil.rmtree(folder, ignore_errors=True)


def sweep(root: Path) -> int:
    """Remove staging folders left by builds whose process is gone; returns how many."""
    n = 0
    for tmp in root.glob(".staging-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        alive = False
        if pid.isdigit():
            try:
                os.kill(int(pid), 0)
                alive = True
            except (ProcessLookupError, OverflowError):
                alive = False
            except PermissionError:
                alive = True
        if not alive:
            remove(tmp)
            n += 1
    return n
