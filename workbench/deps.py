"""What a notebook run used: the package modules it loaded and the repository files it read.

``workbench report`` sets ``$WORKBENCH_DEPS_FILE`` for each notebook's kernel. ``import workbench``
then calls :func:`start_from_env`, which installs an import finder and an audit hook
(:func:`sys.addaudithook`) that append one line to that file the first time something is used:

* ``module workbench.plots.search`` -- a module of the package was loaded (a finder at the head of
  :data:`sys.meta_path` sees every first load, by ``import`` or by :func:`importlib.import_module`;
  cached imports never reach it);
* ``file datasets/literature/claims.csv`` -- a file under ``datasets/`` or the package was opened
  for reading (path relative to the repository).

Processes a notebook starts (bank builds with ``jobs > 1``) inherit the variable and append to the
same file. The report runner turns the lines into the notebook's dependency list and re-executes
the notebook only when one of those files changes (:func:`workbench.report.cache.deps_key`): an edit
to one figure function re-runs the notebooks that drew with it, not all of them.

Module granularity is sound: code runs only from a loaded module, and a module's data is read
through the module. It is only precise where the notebooks' subpackages load their modules on
first use (``wb.plots``, ``wb.lessons``); ``import workbench`` itself loads the layers, models and
measurement code, so every notebook depends on those.
"""

from __future__ import annotations

import os
import sys

from .paths import DATASETS_DIR, PACKAGE_DIR, REPO_ROOT

ENV = "WORKBENCH_DEPS_FILE"
_WATCHED = (str(DATASETS_DIR) + os.sep, str(PACKAGE_DIR) + os.sep)
_state: dict = {"path": None, "seen": set(), "busy": False}


def start_from_env() -> bool:
    """Start recording into ``$WORKBENCH_DEPS_FILE`` when it is set (once per process).

    Returns:
        Whether recording is on in this process.
    """
    path = os.environ.get(ENV)
    if not path:
        return False
    if _state["path"] is None:
        _state["path"] = path
        for name in list(sys.modules):
            if name == "workbench" or name.startswith("workbench."):
                _note(f"module {name}")
        sys.meta_path.insert(0, _Finder())
        sys.addaudithook(_hook)
    return True


class _Finder:
    """Notes each package module Python looks for (first loads only), then lets the real finders
    find it."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == "workbench" or fullname.startswith("workbench."):
            _note(f"module {fullname}")
        return None


def _reading(mode: object, flags: object) -> bool:
    if isinstance(mode, str):  # builtins.open / io.open
        return not any(c in mode for c in "wax+")
    if isinstance(flags, int):  # os.open
        return not flags & (os.O_WRONLY | os.O_RDWR)
    return True


def _hook(event: str, args: tuple) -> None:
    # called for every audit event in the process: return at once for all others
    if event == "open" and not _state["busy"]:
        path = args[0]
        if isinstance(path, (str, os.PathLike)) and _reading(args[1], args[2] if len(args) > 2 else None):
            full = os.path.abspath(os.fspath(path))
            if full.startswith(_WATCHED) and not full.endswith((".pyc", ".py")):
                _note(f"file {os.path.relpath(full, REPO_ROOT)}")


def _note(line: str) -> None:
    seen = _state["seen"]
    if line in seen or _state["busy"]:
        return
    seen.add(line)
    _state["busy"] = True  # writing opens a file: that event must not recurse into a note
    try:
        fd = os.open(_state["path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())  # one write per line: whole lines with O_APPEND
        finally:
            os.close(fd)
    except OSError:
        pass  # a missing record only means the notebook re-runs on any package edit
    finally:
        _state["busy"] = False


def read(path: str | os.PathLike) -> dict[str, list[str]] | None:
    """The recorded dependencies: ``{"modules": [...], "files": [...]}`` (sorted), or ``None``
    when nothing was recorded."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()  # noqa: SIM115
    except OSError:
        return None
    modules = sorted({ln[7:] for ln in lines if ln.startswith("module ")})
    files = sorted({ln[5:] for ln in lines if ln.startswith("file ")})
    return {"modules": modules, "files": files} if modules else None
