"""Staging, atomic publication and recovery of ``reports/<profile>/``.

Everything is built in ``reports/.staging-<profile>-<id>/``; only a complete build replaces
``reports/<profile>/`` (two renames). An interrupted run (Ctrl-C, SIGTERM, kill) leaves the
previously published reports untouched; its leftovers are removed by the next run
(:func:`recover`), which also completes a swap cut in half. One run per profile and reports
folder at a time (:func:`profile_lock`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..paths import atomic_write, file_lock


@contextlib.contextmanager
def profile_lock(reports_dir: Path, profile: str) -> Iterator[None]:
    """Hold the lock of ``reports_dir/<profile>``; ``ValueError`` if another run holds it."""
    try:
        with file_lock(reports_dir / f".lock-{profile}", timeout=0):
            yield
    except TimeoutError:
        raise ValueError(
            f"another `workbench report --profile {profile}` is running on {reports_dir}"
        ) from None


def new_staging(reports_dir: Path, profile: str) -> Path:
    """Create and return a fresh staging folder for ``profile``."""
    staging = reports_dir / f".staging-{profile}-{os.getpid()}-{secrets.token_hex(3)}"
    staging.mkdir()
    return staging


def recover(reports_dir: Path, profile: str) -> None:
    """Undo what an interrupted run left: staging folders, or a swap cut in half."""
    published = reports_dir / profile
    olds = sorted(reports_dir.glob(f".old-{profile}-*"), key=lambda p: p.stat().st_mtime)
    if not published.exists() and olds:
        olds.pop().rename(published)
    for p in [*olds, *reports_dir.glob(f".staging-{profile}-*")]:
        shutil.rmtree(p, ignore_errors=True)


def publish(staging: Path, published: Path) -> None:
    """Replace ``published`` by the complete ``staging`` folder (two renames)."""
    old = published.with_name(f".old-{published.name}-{secrets.token_hex(3)}")
    if published.exists():
        published.rename(old)
    staging.rename(published)  # a kill between the renames is undone by recover()
    shutil.rmtree(old, ignore_errors=True)


def load_manifest(published: Path) -> dict[str, Any]:
    """The published ``manifest.json`` (``{}`` when missing or unreadable)."""
    try:
        return json.loads((published / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``folder/manifest.json`` atomically."""
    text = json.dumps(manifest, indent=1)
    return atomic_write(folder / "manifest.json", lambda tmp: tmp.write_text(text))
