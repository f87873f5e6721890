"""Content hashes that decide whether a notebook must run again.

A notebook's *execution key* hashes everything its results can depend on:

* the notebook file (bytes);
* the package source: every ``*.py`` and package-data file (``.json``, ``.csv``) under
  ``workbench/``, **except** the report pipeline itself (``workbench/report/``, but
  ``record.py`` counts) and the CLI, which only present results -- editing the index page
  must not re-run an hour of notebooks;
* its parameters for the profile (canonical JSON), the profile and the kernel name;
* the data fingerprint: every file under ``datasets/``, by content for files up to 4 MiB and
  by (size, mtime) above (downloaded archives), so editing a claims CSV or re-fetching a
  dataset re-runs everything (the registry does not say which notebook reads which file).

A second, *render key* adds the report pipeline's own source, so a change to the HTML
conversion re-renders cached notebooks without executing them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..paths import PACKAGE_DIR

_PACKAGE_SUFFIXES = (".py", ".json", ".csv")
_REPORT_SUFFIXES = (".py", ".j2", ".css", ".js", ".html", ".json")
_BIG_FILE = 4 << 20
#: bump when the layout of published reports changes incompatibly
FORMAT_VERSION = "1"


def _hash_files(root: Path, files: Iterable[Path], h: Any) -> None:
    for f in sorted(files):
        st = f.stat()
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        if st.st_size > _BIG_FILE:
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        else:
            h.update(hashlib.sha256(f.read_bytes()).digest())


def _walk(root: Path, suffixes: tuple[str, ...] | None = None) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
        for name in filenames:
            if not name.startswith(".") and (suffixes is None or name.endswith(suffixes)):
                out.append(Path(dirpath) / name)
    return out


def package_fingerprint(package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of the package source that notebook results can depend on (see module doc)."""
    report_dir, cli_dir = package_dir / "report", package_dir / "cli"
    files = [
        f
        for f in _walk(package_dir, _PACKAGE_SUFFIXES)
        if not (f.is_relative_to(report_dir) or f.is_relative_to(cli_dir)) or f.name == "record.py"
    ]
    h = hashlib.sha256(b"package")
    _hash_files(package_dir, files, h)
    return h.hexdigest()


def report_fingerprint(package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of the report pipeline's own source and templates."""
    h = hashlib.sha256(b"report" + FORMAT_VERSION.encode())
    _hash_files(package_dir, _walk(package_dir / "report", _REPORT_SUFFIXES), h)
    return h.hexdigest()


def data_fingerprint(datasets_dir: Path | None) -> str:
    """Hash of everything under ``datasets_dir`` (``"none"`` if it does not exist)."""
    if datasets_dir is None or not datasets_dir.is_dir():
        return "none"
    h = hashlib.sha256(b"data")
    _hash_files(datasets_dir, _walk(datasets_dir), h)
    return h.hexdigest()


def sources_fingerprint(*roots: Path) -> str:
    """Hash of the files under ``roots`` (folders or single files; missing ones count as
    empty): a narrower key than :func:`package_fingerprint` for index sections that depend on
    part of the package."""
    h = hashlib.sha256(b"sources")
    for root in roots:
        h.update(str(root).encode() + b"\0")
        if root.is_dir():
            _hash_files(root, _walk(root, _PACKAGE_SUFFIXES + (".jsonl", ".md")), h)
        elif root.is_file():
            _hash_files(root.parent, [root], h)
    return h.hexdigest()


def execution_key(
    notebook: Path,
    parameters: dict[str, Any],
    *,
    profile: str,
    kernel: str,
    package_fp: str,
    data_fp: str,
) -> str:
    """The content hash deciding whether ``notebook`` must execute again."""
    h = hashlib.sha256(FORMAT_VERSION.encode())
    h.update(hashlib.sha256(notebook.read_bytes()).digest())
    blob = json.dumps(
        {
            "parameters": parameters,
            "profile": profile,
            "kernel": kernel,
            "package": package_fp,
            "data": data_fp,
        },
        sort_keys=True,
        default=repr,
    )
    h.update(blob.encode())
    return h.hexdigest()


def render_key(exec_key: str, report_fp: str) -> str:
    """The content hash deciding whether an executed notebook must be converted again."""
    return hashlib.sha256(f"{exec_key}:{report_fp}".encode()).hexdigest()
