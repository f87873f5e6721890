"""Counting cache: params and MACs of registry models, counted once per version of their code.

Tracing a model with fvcore takes up to seconds, and the zoo has dozens of models, so
:func:`count_model` keeps each result on disk under ``cache_dir("counts")`` (one atomic JSON file per
model name, ``create_model`` keyword arguments, input size and batch size). An entry holds the
model's code fingerprint (:func:`workbench.models.fingerprint.model_fingerprint`) and the
digests of the source files that fingerprint depends on
(:func:`~workbench.models.fingerprint.fingerprint_sources`), plus the counter's own files
(``macs.py``, ``params.py``, ``_inputs.py``) and library versions. A lookup re-reads those
digests -- no model is built -- and a changed file is a miss: the model is built, counted and
fingerprinted again. Editing a model's ``forward`` therefore recounts that model only; editing a
plot recounts nothing.

:func:`count_macs`/:func:`count_params` on a model object are unchanged and never cached (the
object may have been modified after it was built).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..paths import REPO_ROOT, atomic_write
from ..paths import cache_dir as _cache_root
from ._inputs import resolve_input_size
from .macs import count_macs
from .params import count_params

_FORMAT = 1
# The counter's own code: a change here changes every count.
_COUNTER_FILES = tuple(str(Path(__file__).with_name(f)) for f in ("macs.py", "params.py", "_inputs.py"))
_LIBS = ("torch", "fvcore", "timm", "torchvision")


@dataclass(frozen=True)
class Count:
    """Params and MACs of one registry model at one input size.

    Attributes:
        name: registry name.
        input_size: (B, C, H, W) counted.
        params: parameters.
        macs: multiply-accumulates (conv/linear/matmul, BatchNorm folded; see ``measure.macs``).
        macs_all_ops: ``macs`` plus every other counted operation.
        unsupported_ops: operators the counter could not count (must be empty to trust ``macs``).
        fingerprint: code fingerprint of the model the numbers belong to.
        cache_hit: whether the numbers came from the cache.
    """

    name: str
    input_size: tuple[int, ...]
    params: int
    macs: int
    macs_all_ops: int
    unsupported_ops: dict[str, int]
    fingerprint: str
    cache_hit: bool = False


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _rel(path: str) -> str:
    """``path`` relative to the repository (entries stay valid if the checkout moves)."""
    p = Path(path)
    return p.relative_to(REPO_ROOT).as_posix() if p.is_relative_to(REPO_ROOT) else p.as_posix()


def _digest(path: str) -> str | None:
    """sha256 of a file, memoized per (path, mtime, size); ``None`` if it no longer exists."""
    p = REPO_ROOT / path
    try:
        st = p.stat()
    except OSError:
        return None
    key = (str(p), st.st_mtime_ns, st.st_size)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return _DIGESTS[key]


def _lib_versions() -> dict[str, str]:
    out = {}
    for lib in _LIBS:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            out[lib] = "-"
    return out


def _entry_path(root: Path, name: str, kwargs: dict, input_size, batch_size: int) -> Path:
    key = json.dumps(
        {"name": name, "kwargs": kwargs, "input_size": input_size, "batch": batch_size, "format": _FORMAT},
        sort_keys=True,
        default=repr,
    )
    safe = "".join(c if c.isalnum() or c in "_-." else "_" for c in name)
    return root / f"{safe}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _load(path: Path) -> dict | None:
    """The cached entry if it is still valid for the code on disk, else ``None``."""
    try:
        d = json.loads(path.read_text())
        deps, result = d["deps"], d["result"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or corrupt: count again (the rewrite replaces it atomically)
    if d.get("libs") != _lib_versions():
        return None
    if any(_digest(f) != digest for f, digest in deps.items()):
        return None
    return {**result, "fingerprint": d["fingerprint"]}


def _measure(name: str, kwargs: dict, input_size, batch_size: int) -> tuple[dict, str, dict[str, str]]:
    from ..models import create_model, model_entry
    from ..models.fingerprint import code_fingerprint, fingerprint_sources

    model = create_model(name, **kwargs)
    entry_fn = model_entry(name).fn if ":" not in name else None
    macs = count_macs(model, input_size, batch_size=batch_size)
    result = {
        "input_size": list(macs.input_size),
        "params": count_params(model).total,
        "macs": macs.macs,
        "macs_all_ops": macs.macs_all_ops,
        "unsupported_ops": dict(macs.unsupported),
    }
    files = [*fingerprint_sources(model, entry_fn), *_COUNTER_FILES]
    deps = {_rel(f): _digest(_rel(f)) for f in files}
    return result, code_fingerprint(model, entry_fn), deps


def count_model(
    name: str,
    input_size: tuple[int, ...] | None = None,
    *,
    batch_size: int = 1,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    **create_kwargs,
) -> Count:
    """Params and MACs of registry model ``name``, from the counting cache when the code is unchanged.

    Args:
        name: a registered model name (``'timm:...'`` references are not cached: counted anew).
        input_size: ``(C, H, W)`` or ``(B, C, H, W)``; default: the entry's default input size
            (32 x 32 with ``small_input=True``).
        batch_size: batch when ``input_size`` is ``(C, H, W)``.
        cache: read and write the cache; ``False`` always counts (and writes nothing).
        cache_dir: cache root (default :func:`workbench.paths.cache_dir`); entries go to its
            ``counts/`` folder.
        **create_kwargs: :func:`workbench.models.create_model` keyword arguments.

    Raises:
        KeyError: unknown model name. ValueError: invalid ``input_size`` or create arguments.
        CacheWriteError: the cache folder is not writable.
    """
    from ..models import model_entry

    if ":" in name:
        cache = False
    else:
        model_entry(name)  # KeyError with suggestions before anything is built
    # ``None`` (the model's default size) is a key of its own: the default comes from the entry's
    # code, which the entry's digests cover, so a lookup needs no model.
    size = None if input_size is None else list(resolve_input_size(None, input_size))
    path = _entry_path(_cache_root("counts", base=cache_dir), name, create_kwargs, size, batch_size)
    if cache:
        hit = _load(path)
        if hit is not None:
            return _as_count(name, hit, cache_hit=True)
    result, fingerprint, deps = _measure(name, create_kwargs, size, batch_size)
    if cache and all(deps.values()):
        record = {"format": _FORMAT, "name": name, "kwargs": repr(create_kwargs), "fingerprint": fingerprint,
                  "libs": _lib_versions(), "deps": deps, "result": result}  # fmt: skip
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record, indent=1, sort_keys=True)))
    return _as_count(name, {**result, "fingerprint": fingerprint}, cache_hit=False)


def _as_count(name: str, d: dict, *, cache_hit: bool) -> Count:
    return Count(
        name=name,
        input_size=tuple(d["input_size"]),
        params=int(d["params"]),
        macs=int(d["macs"]),
        macs_all_ops=int(d["macs_all_ops"]),
        unsupported_ops={k: int(v) for k, v in d["unsupported_ops"].items()},
        fingerprint=d["fingerprint"],
        cache_hit=cache_hit,
    )


def count_zoo(
    names: Sequence[str] | None = None,
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Params and MACs of every registered model (or ``names``) at its default input size.

    Args:
        names: registry names; default every registered model.
        cache: use the counting cache (see :func:`count_model`).
        cache_dir: cache root (default :func:`workbench.paths.cache_dir`).
        progress: show a progress bar.

    Returns:
        One row per model: ``name, task, input_size, params, macs, macs_all_ops,
        unsupported_ops, fingerprint, cache_hit``.
    """
    from ..models import list_models, model_entry

    names = list_models() if names is None else list(names)
    it = names
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(names, desc="counting", leave=False)
    rows = []
    for n in it:
        row = asdict(count_model(n, cache=cache, cache_dir=cache_dir))
        row["task"] = model_entry(n).task
        rows.append(row)
    cols = ["name", "task", "input_size", "params", "macs", "macs_all_ops", "unsupported_ops", "fingerprint", "cache_hit"]
    return pd.DataFrame(rows, columns=cols)


def time_count_zoo(names: Sequence[str] | None = None, *, cache_dir: str | Path | None = None) -> tuple[float, float]:
    """(cold_seconds, warm_seconds) of :func:`count_zoo`: first into an empty cache, then again.

    Args:
        names: registry names; default every registered model.
        cache_dir: an empty folder to count into; default a temporary folder (removed after),
            so the user's cache is neither used nor disturbed.

    Raises:
        RuntimeError: the warm pass missed the cache (the cache would be broken).
    """
    with tempfile.TemporaryDirectory(prefix="wb-counts-") as tmp:
        root = Path(cache_dir) if cache_dir is not None else Path(tmp)
        t0 = time.perf_counter()
        count_zoo(names, cache_dir=root)
        t1 = time.perf_counter()
        warm = count_zoo(names, cache_dir=root)
        t2 = time.perf_counter()
    if not warm.cache_hit.all():
        missed = ", ".join(warm.name[~warm.cache_hit])
        raise RuntimeError(f"warm pass missed the counting cache for: {missed}")
    return t1 - t0, t2 - t1


__all__ = ["Count", "count_model", "count_zoo", "time_count_zoo"]
