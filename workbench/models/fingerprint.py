"""Fingerprints of the code that builds and runs a model, for every cache that stores results.

A cached result (trained weights, params/MAC counts) is only valid for the code that produced
it. Keys therefore include :func:`model_fingerprint`: a hash of

* the full source file of every package class found in the built model (each module's class
  and its base classes), so an edit anywhere in those files -- a ``forward``, a helper
  function beside it -- changes the key;
* the source of every package *function* those files use from other files (e.g. a
  ``channel_shuffle`` imported into a model file);
* the registry entry point's source file and the ``build`` callable, if any (its source, or its
  bytecode and constants when no source is available, e.g. a lambda typed in a console);
* for classes from other libraries (``torch.nn.Conv2d``, timm blocks) their qualified name and
  the library version.

Files the model does not use (plots, reports, other architectures) are not part of it, so
editing a plot never invalidates a trained model. Limitation: a package function reached only
through two or more hops of helper calls from another file is not followed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import inspect
import sys
import types
from collections.abc import Callable, Iterable
from pathlib import Path

from torch import nn

_PACKAGE = "workbench"


@functools.lru_cache(maxsize=512)
def _file_digest(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _digest_file(path: str) -> str:
    p = Path(path)
    return _file_digest(str(p), p.stat().st_mtime_ns)


def _lib_version(module_name: str) -> str:
    top = module_name.split(".")[0]
    try:
        return importlib.metadata.version(top)
    except importlib.metadata.PackageNotFoundError:
        return getattr(sys.modules.get(top), "__version__", "?")


def _is_ours(obj: object) -> bool:
    mod = getattr(obj, "__module__", None) or ""
    return mod == _PACKAGE or mod.startswith(_PACKAGE + ".")


def _callable_digest(fn: Callable) -> str:
    """Source of ``fn`` if available, else its bytecode and constants (lambdas, partials)."""
    if isinstance(fn, functools.partial):
        return "partial:" + _callable_digest(fn.func) + repr(fn.args) + repr(sorted(fn.keywords.items()))
    try:
        return "src:" + inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        if code is None:
            return "obj:" + repr(fn)
        return "code:" + code.co_code.hex() + repr(code.co_consts) + repr(code.co_names)


def _module_files(classes: Iterable[type]) -> tuple[set[str], set[str]]:
    """(package source files defining ``classes`` and their bases, foreign class names)."""
    files: set[str] = set()
    foreign: set[str] = set()
    for cls in classes:
        for k in inspect.getmro(cls):
            if k in (object, nn.Module):
                continue
            if _is_ours(k):
                f = inspect.getsourcefile(k)
                if f:
                    files.add(f)
            else:
                foreign.add(f"{k.__module__}.{k.__qualname__}=={_lib_version(k.__module__)}")
    return files, foreign


def _helpers_used(files: set[str]) -> list[str]:
    """Digests of package functions defined elsewhere and referenced from ``files``' modules."""
    out = []
    mods = [m for m in list(sys.modules.values()) if getattr(m, "__file__", None) in files]
    for mod in mods:
        for _name, obj in sorted(vars(mod).items()):
            if isinstance(obj, types.FunctionType) and _is_ours(obj):
                src = inspect.getsourcefile(obj)
                if src and src not in files:
                    out.append(f"{obj.__module__}.{obj.__qualname__}:{_callable_digest(obj)}")
    return sorted(set(out))


def code_fingerprint(model: nn.Module, *callables: Callable | None) -> str:
    """Hash of the code that defines ``model``'s modules and of the given factories (hex, 16 chars).

    Args:
        model: a built model (its module tree is walked).
        *callables: entry points or ``build`` functions that made it (``None`` entries skipped).
    """
    classes = {type(m) for m in model.modules()}
    files, foreign = _module_files(classes)
    for fn in callables:
        if fn is not None and _is_ours(fn) and inspect.getsourcefile(fn):
            files.add(inspect.getsourcefile(fn))
    h = hashlib.sha256(b"workbench-code-v1")
    for f in sorted(files):
        rel = Path(f).as_posix().rsplit(f"/{_PACKAGE}/", 1)[-1]
        h.update(f"file:{rel}:{_digest_file(f)}\n".encode())
    for line in _helpers_used(files):
        h.update(line.encode())
    for line in sorted(foreign):
        h.update(f"lib:{line}\n".encode())
    for fn in callables:
        if fn is not None and not _is_ours(fn):
            h.update(_callable_digest(fn).encode())
    return h.hexdigest()[:16]


def fingerprint_sources(model: nn.Module, *callables: Callable | None) -> list[str]:
    """The package source files whose contents :func:`code_fingerprint` depends on.

    While none of these files changes (and the libraries keep their versions), the fingerprint
    of ``model`` stays the same: a cache can check these files' digests instead of building the
    model again to recompute it (the counting cache does).

    Args:
        model: a built model.
        *callables: the entry points or ``build`` functions given to :func:`code_fingerprint`.
    """
    files, _ = _module_files({type(m) for m in model.modules()})
    for fn in callables:
        if fn is not None and _is_ours(fn) and inspect.getsourcefile(fn):
            files.add(inspect.getsourcefile(fn))
    helpers = set()
    for mod in [m for m in list(sys.modules.values()) if getattr(m, "__file__", None) in files]:
        for obj in vars(mod).values():
            if isinstance(obj, types.FunctionType) and _is_ours(obj):
                src = inspect.getsourcefile(obj)
                if src and src not in files:
                    helpers.add(src)
    return sorted(files | helpers)


def model_fingerprint(name: str | None = None, *, model: nn.Module | None = None,
                      build: Callable[[], nn.Module] | None = None, **kwargs) -> str:
    """Fingerprint of a registry model (built from ``name`` and ``kwargs`` if ``model`` is not given).

    Args:
        name: registry name (its entry point is part of the hash), or ``None`` with ``build``.
        model: the already-built model, to avoid building it twice.
        build: zero-argument factory used instead of the registry.
        **kwargs: ``create_model`` keyword arguments (only used to build the model).
    """
    from ._factory import MODELS, create_model

    entry_fn = MODELS.get(name).fn if name is not None and ":" not in name else None
    if model is None:
        model = build() if build is not None else create_model(name, **kwargs)
    return code_fingerprint(model, entry_fn, build)


__all__ = ["code_fingerprint", "fingerprint_sources", "model_fingerprint"]
