"""The model bank's API: :func:`trained` (train once, share everywhere), :func:`ensure` (build
what is missing, in parallel), :func:`status`, :func:`list_entries` and :func:`clear`.

The key of an entry is content-addressed: the model's code fingerprint, its keyword arguments,
every recipe field, the data version, the seed, the torch version and the device type. Editing a
model's code retrains it; editing a plot does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ..models.fingerprint import model_fingerprint
from ..train import History, fit, resolve_device
from . import store
from .recipes import Recipe, get_recipe
from .tasks import TaskEntry

__all__ = ["BankEntry", "BankResult", "EntryKey", "BankWarning", "clear", "ensure", "list_entries", "status", "trained"]

KEY_FORMAT = 1


class BankWarning(UserWarning):
    """A bank entry was found corrupt and is being retrained."""


@dataclass
class BankResult:
    """What :func:`trained` returns.

    Attributes:
        model: the trained model (eval mode, on the CPU where the workbench measures; move it
            with ``.to(device)`` to train further).
        history: its :class:`~workbench.train.History` (accuracy in %, seconds).
        cache_hit: True when loaded from the bank, False when trained by this call.
        path: the entry folder.
        key: the full content-addressed key.
    """

    model: nn.Module
    history: History
    cache_hit: bool
    path: Path
    key: dict


class EntryKey(dict):
    """A plain dict that is also hashable (by its JSON), so callers can de-duplicate by ``key()``."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True, default=str))


@dataclass(frozen=True, eq=False)
class BankEntry:
    """One bank entry a notebook needs: model name, recipe name, seed, ``create_model`` kwargs.

    Hashable (usable in sets) and compared by its request (:meth:`key`, as JSON), so kwargs may
    hold nested values such as ``attn_kwargs={"rd_ratio": 0.25}``; ``kwargs`` is stored as sorted
    ``(name, value)`` pairs.
    """

    model: str
    recipe: str
    seed: int = 0
    kwargs: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        items = self.kwargs.items() if isinstance(self.kwargs, Mapping) else self.kwargs
        object.__setattr__(self, "kwargs", tuple(sorted(items)))

    def key(self) -> EntryKey:
        """The entry's request as a (hashable) dict; the full content key is behind :meth:`digest`."""
        return EntryKey(model=self.model, recipe=self.recipe, seed=self.seed, kwargs=dict(self.kwargs))

    def __hash__(self) -> int:
        return hash(self.key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BankEntry) and self.key() == other.key()

    def label(self) -> str:
        """``model/recipe/seedN`` (plus kwargs), for progress lines."""
        kw = ",".join(f"{k}={v}" for k, v in self.kwargs)
        return f"{self.model}/{self.recipe}/seed{self.seed}" + (f"[{kw}]" if kw else "")

    def digest(self, *, device: str = "auto") -> str:
        """The content-addressed digest of the entry's full key (builds the model to hash its code)."""
        return _plan(self.model, self.recipe, self.seed, None, device, dict(self.kwargs))[2]


def _data_for(recipe: Recipe, data):
    if data is not None:
        if not getattr(data, "version", None):
            raise ValueError("bank data must be a DataBundle with a version (from wb.data.fashion_mnist)")
        return data
    from ..data import fashion_mnist

    return fashion_mnist(
        subset=recipe.subset, test_subset=recipe.test_subset, augment=recipe.augment,
        batch_size=recipe.batch_size,
    )  # fmt: skip


def _build_model(model_name: str, data, seed: int, kwargs: dict) -> nn.Module:
    from ..models import create_model

    torch.manual_seed(seed)
    kw = {"num_classes": data.num_classes, "in_chans": data.in_chans} | kwargs
    return create_model(model_name, **kw)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _plan(model_name, recipe, seed, data, device, kwargs):
    """(recipe, data, digest, key, model, device) for one request."""
    rec = get_recipe(recipe)
    from ..models import MODELS

    if ":" in model_name or model_name not in MODELS:
        raise KeyError(MODELS.unknown_message(model_name) if ":" not in model_name
                       else f"the bank trains registry models only, not {model_name!r}")
    dev = resolve_device(device)
    data = _data_for(rec, data)
    model = _build_model(model_name, data, seed, kwargs)
    key = {
        "format": KEY_FORMAT, "model": model_name, "code": model_fingerprint(model_name, model=model),
        "kwargs": kwargs, "recipe": rec.key(), "data": data.version, "seed": seed,
        "torch": torch.__version__.split("+")[0], "device": dev.type,
    }  # fmt: skip
    blob = json.dumps(key, sort_keys=True, default=str)
    return rec, data, hashlib.sha256(blob.encode()).hexdigest()[:16], json.loads(blob), model, dev


def trained(
    model_name: str,
    recipe: str | Recipe,
    *,
    seed: int = 0,
    data=None,
    device: str = "auto",
    progress: bool = True,
    threads: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    callbacks: Sequence = (),
    **model_kwargs,
) -> BankResult:
    """The model ``model_name`` trained with ``recipe``: from the bank, or trained once and stored.

    Args:
        model_name: registry name (``workbench models``).
        recipe: a name in :data:`RECIPES` (``'smoke'``, ``'fmnist_short'``, ``'fmnist_full'``).
        seed: weights are built under ``torch.manual_seed(seed)``; also the data order.
        data: a versioned :class:`~workbench.data.DataBundle` (default: the recipe's Fashion-MNIST).
        device: ``'auto'`` (CUDA when available, else CPU), ``'cpu'`` or ``'cuda'``.
        progress: show the training progress bar.
        threads: torch threads while training (not part of the key).
        cache_dir: cache root (default ``$WORKBENCH_CACHE`` or ``.cache/workbench``).
        callbacks: training callbacks when the entry is trained (not part of the key).
        **model_kwargs: ``create_model`` keyword arguments (e.g. ``small_input=True``).

    Returns:
        :class:`BankResult`.

    Raises:
        KeyError: unknown recipe or model (naming the valid ones).
        CacheWriteError: the bank folder cannot be written (full disk, permissions).
        FloatingPointError: training diverged; nothing is stored.
    """
    rec, data, digest, key, model, dev = _plan(model_name, recipe, seed, data, device, dict(model_kwargs))
    root = store.bank_root(cache_dir)
    folder = root / f"{_slug(model_name)}-{digest}"
    with store.entry_lock(root, folder.name):
        if folder.exists():
            try:
                _, hist, state = store.read_entry(folder)
                model.load_state_dict(state)
                return BankResult(model.eval(), History.from_dict(hist), True, folder, key)
            except (store.BankCorrupt, RuntimeError) as e:
                warnings.warn(f"model bank: corrupt entry removed and retrained: {e}", BankWarning, stacklevel=2)
                store.remove(folder)
        store.sweep(root)  # staging folders of killed builds (SIGKILL runs no cleanup)
        with store.staging(root, folder.name) as tmp:
            history = fit(
                model, data, seed=seed, device=dev, progress=progress, threads=threads,
                batch_size=rec.batch_size, callbacks=callbacks, **rec.fit_kwargs(),
            )  # fmt: skip
            history.meta.update(recipe=rec.name, bank_key=digest, model_kwargs=dict(model_kwargs))
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            store.write_entry(tmp, folder, key, history.to_dict(), state)
    return BankResult(model.cpu().eval(), history, False, folder, key)


class _ShareCores:
    """Training callback: re-divides the cores among the builds still running.

    ``ensure`` starts ``jobs`` workers with ``cores // jobs`` threads each; without this, the last
    entry of a batch trains on one core while the other sits idle. Every ``every`` steps the
    worker sets its torch threads to ``cores // running`` (``running`` is shared by the workers).
    """

    def __init__(self, running, cores: int, every: int = 20):
        self.running, self.cores, self.every, self.steps = running, cores, every, 0

    def on_step(self, state) -> None:
        self.steps += 1
        if self.steps % self.every:
            return
        want = max(1, self.cores // max(1, self.running.value))
        if want != torch.get_num_threads():
            torch.set_num_threads(want)


_RUNNING = None  # the workers' shared count of running builds (set by _init_worker)


def _init_worker(running) -> None:
    global _RUNNING
    _RUNNING = running


def _build_one(entry: BankEntry | TaskEntry, threads: int | None, cache_dir) -> str:
    """Worker: build one entry (in a spawned process when ``jobs > 1``)."""
    if isinstance(entry, TaskEntry):
        if threads:
            torch.set_num_threads(threads)
        entry.build(cache_dir)
        return entry.label()
    callbacks = ()
    if _RUNNING is not None:
        with _RUNNING.get_lock():
            _RUNNING.value += 1
        callbacks = (_ShareCores(_RUNNING, os.cpu_count() or 1),)
    try:
        r = trained(entry.model, entry.recipe, seed=entry.seed, progress=False, threads=threads,
                    cache_dir=cache_dir, callbacks=callbacks, **dict(entry.kwargs))  # fmt: skip
    finally:
        if _RUNNING is not None:
            with _RUNNING.get_lock():
                _RUNNING.value -= 1
    return str(r.path)


def ensure(
    entries: Iterable[BankEntry],
    *,
    jobs: int = 1,
    progress: bool | Callable[[str], None] = True,
    cache_dir: str | os.PathLike | None = None,
) -> list[BankResult]:
    """Build the missing entries (``jobs`` processes in parallel), then return all of them.

    Args:
        entries: what the notebooks need (duplicates are built once): :class:`BankEntry` objects, and
            :class:`~workbench.bank.tasks.TaskEntry` calls of :func:`cached_train`, which are run
            (trained, or loaded when present) but not returned.
        jobs: parallel training processes; each starts with ``cores // jobs`` torch threads and
            takes the cores of finished workers when fewer builds than workers remain.
        progress: True: one ``tqdm`` line over the entries to build; a callable: called with a
            one-line message per event (``'built reference_cnn/smoke/seed0 (1/2, 12.3 s)'``),
            as the report runner does; False: silent.
        cache_dir: cache root (default ``$WORKBENCH_CACHE``).

    Returns:
        One :class:`BankResult` per distinct :class:`BankEntry`, in first-seen order.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    todo = list(dict.fromkeys(entries))
    tasks = [e for e in todo if isinstance(e, TaskEntry)]  # cached_train calls: built (or loaded) every time
    todo = [e for e in todo if not isinstance(e, TaskEntry)]
    missing = [e for e, built in zip(todo, status(todo, cache_dir=cache_dir).built, strict=True) if not built]
    missing += tasks
    say = progress if callable(progress) else (lambda msg: None)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(missing), desc="model bank", disable=callable(progress) or not progress or not missing)
    t0 = time.perf_counter()
    say(f"{len(missing)} of {len(todo)} entries to build" + (f" with {jobs} processes" if jobs > 1 and len(missing) > 1 else ""))

    def done(i: int, e: BankEntry) -> None:
        bar.update()
        say(f"built {e.label()} ({i}/{len(missing)}, {time.perf_counter() - t0:.1f} s)")

    if jobs == 1 or len(missing) <= 1:
        for i, e in enumerate(missing, 1):
            bar.set_postfix_str(e.label())
            _build_one(e, None, cache_dir)
            done(i, e)
    else:
        import concurrent.futures as cf
        import multiprocessing as mp

        threads = max(1, (os.cpu_count() or 1) // jobs)
        ctx = mp.get_context("spawn")
        running = ctx.Value("i", 0)
        with cf.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker, initargs=(running,)) as pool:
            futs = {pool.submit(_build_one, e, threads, cache_dir): e for e in missing}
            for i, f in enumerate(cf.as_completed(futs), 1):
                f.result()
                done(i, futs[f])
    bar.close()
    return [trained(e.model, e.recipe, seed=e.seed, progress=False, cache_dir=cache_dir, **dict(e.kwargs))
            for e in todo]  # fmt: skip


def status(entries: Iterable[BankEntry], *, cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Which entries are built: one row each with model, recipe, seed, kwargs, built, path."""
    root = store.bank_root(cache_dir)
    rows = []
    for e in entries:
        folder = root / f"{_slug(e.model)}-{e.digest()}"
        built = all((folder / f).exists() for f in store.FILES)
        rows.append(dict(model=e.model, recipe=e.recipe, seed=e.seed, kwargs=dict(e.kwargs),
                         built=built, path=str(folder)))  # fmt: skip
    return pd.DataFrame(rows, columns=["model", "recipe", "seed", "kwargs", "built", "path"])


def list_entries(*, cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every complete entry in the bank: model, recipe, seed, accuracy (%), seconds, size (bytes),
    precision, kwargs, path. Incomplete or unreadable folders are listed with NaN accuracy."""
    root = store.bank_root(cache_dir)
    rows = []
    for folder in sorted(p for p in root.glob("*-*") if p.is_dir() and not p.name.startswith(".")):
        row = dict(model=None, recipe=None, seed=None, accuracy=float("nan"), seconds=float("nan"),
                   size=0, precision=None, kwargs=None, path=str(folder))  # fmt: skip
        try:
            key = json.loads((folder / "key.json").read_text())
            hist = History.from_dict(json.loads((folder / "history.json").read_text()))
            row.update(model=key["model"], recipe=key["recipe"]["name"], seed=key["seed"],
                       accuracy=hist.final_acc, seconds=hist.total_seconds,
                       size=(folder / "model.pt").stat().st_size,
                       precision=key["recipe"]["precision"], kwargs=key["kwargs"])  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            pass
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", "recipe", "seed", "accuracy", "seconds", "size",
                                       "precision", "kwargs", "path"])  # fmt: skip


def clear(model: str | None = None, *, cache_dir: str | os.PathLike | None = None) -> int:
    """Delete bank entries (all, or those of ``model``) and dead builds' staging folders.

    Returns:
        Number of entry folders removed.
    """
    root = store.bank_root(cache_dir)
    if not root.exists():
        return 0
    store.sweep(root)
    n = 0
    for folder in root.glob("*-*"):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        if model is not None and folder.name.rsplit("-", 1)[0] != _slug(model):
            continue
        with store.entry_lock(root, folder.name):
            store.remove(folder)
        n += 1
    return n
