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

Once a notebook has run, its *dependency key* (:func:`deps_key`) replaces the package and data
fingerprints by the files that run actually used (:mod:`workbench.deps`: the package modules it
loaded and the repository files it read). A notebook is current when either key matches, so an
edit to one plot module re-runs the notebooks that drew with it and no others.
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


def _file_digest(f: Path) -> bytes:
    """Content hash of a file; (size, mtime) above :data:`_BIG_FILE` (downloaded archives)."""
    st = f.stat()
    if st.st_size > _BIG_FILE:
        return f"{st.st_size}:{st.st_mtime_ns}".encode()
    return hashlib.sha256(f.read_bytes()).digest()


def _hash_files(root: Path, files: Iterable[Path], h: Any) -> None:
    for f in sorted(files):
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        h.update(_file_digest(f))


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


def file_hashes(package_dir: Path, datasets_dir: Path | None) -> dict[str, str]:
    """``{path: content hash}`` of the package source and the data files, taken once per run (a file
    edited while notebooks run counts with its content at the start, so the next run sees the edit).

    Keys are ``"<package_dir.name>/<relative path>"`` and ``"<datasets_dir.name>/<relative path>"``, the form
    :mod:`workbench.deps` records paths in (relative to the repository).
    """
    out: dict[str, str] = {}
    for root in (package_dir, datasets_dir):
        if root is None or not root.is_dir():
            continue
        for f in _walk(root, _PACKAGE_SUFFIXES if root == package_dir else None):
            out[f"{root.name}/{f.relative_to(root).as_posix()}"] = _file_digest(f).hex()
    return out


def module_file(module: str, package_dir: Path) -> str | None:
    """``"workbench/plots/search.py"`` for ``"workbench.plots.search"`` (a package: its ``__init__.py``),
    relative to the repository; ``None`` when no such file exists under ``package_dir``."""
    parts = module.split(".")[1:]
    for rel in (Path(*parts).with_suffix(".py") if parts else None, Path(*parts, "__init__.py")):
        if rel is not None and (package_dir / rel).is_file():
            return f"{package_dir.name}/{rel.as_posix()}"
    return None


def _presentation_only(module: str) -> bool:
    """The report pipeline and the CLI present results; they never change them (see the module doc)."""
    return (module.startswith(("workbench.report.", "workbench.cli.")) or module in ("workbench.report", "workbench.cli")) \
        and module != "workbench.report.record"


def deps_key(
    notebook: Path,
    parameters: dict[str, Any],
    *,
    profile: str,
    kernel: str,
    deps: dict[str, list[str]],
    hashes: dict[str, str],
    package_dir: Path,
) -> str | None:
    """The execution key of a notebook from the files its last run used (``deps`` from
    :func:`workbench.deps.read`), or ``None`` when a recorded module has no source file under
    ``package_dir`` (then only :func:`execution_key` decides).

    A recorded data file that no longer exists counts as changed (it hashes as ``missing``).
    """
    files = []
    for m in deps.get("modules", []):
        if _presentation_only(m):
            continue
        f = module_file(m, package_dir)
        if f is None:
            return None
        files.append(f)
    files += deps.get("files", [])
    h = hashlib.sha256(f"deps{FORMAT_VERSION}".encode())
    h.update(hashlib.sha256(notebook.read_bytes()).digest())
    h.update(json.dumps({"parameters": parameters, "profile": profile, "kernel": kernel}, sort_keys=True,
                        default=repr).encode())
    for f in sorted(set(files)):
        h.update(f"{f}\0{hashes.get(f, 'missing')}\0".encode())
    return h.hexdigest()
