"""Trained-once models for tasks beyond Fashion-MNIST classification (SR, detection, LMs, supernets).

The classification bank (:func:`workbench.bank.trained`) knows its recipes; other tasks bring
their own training function. :func:`cached_train` keys the result on everything that can change
it -- the model's code, the training function's code, the caller's settings (data version,
steps, seed, ...) and torch -- trains once under a per-entry lock, and stores the weights and the
JSON history atomically, so a killed run never leaves a half-written entry::

    r = wb.bank.cached_train(
        "fsrcnn_x2", build=lambda: wb.create_model("fsrcnn", scale=2),
        train=wb.sr.train_sr, settings={"data": data.version, "steps": 2000, "seed": 0},
    )
    r.model, r.history["psnr"], r.cache_hit

Entries live beside the bank's, in ``<cache>/tasks/<name>-<hash>/`` (``key.json``,
``model.pt``, ``history.json`` written last).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..models.fingerprint import code_fingerprint
from ..paths import atomic_write, file_lock
from ..paths import cache_dir as _cache_dir

__all__ = ["TaskEntry", "TaskResult", "cached_train"]

_FORMAT = 1


@dataclass
class TaskResult:
    """What :func:`cached_train` returns.

    Attributes:
        model: the trained model, on the CPU, in eval mode.
        history: the JSON-able dict the training function returned (losses, metrics, seconds).
        cache_hit: ``True`` when the entry was loaded instead of trained.
        path: the entry's folder.
        key: the full cache key (what the entry depends on).
    """

    model: nn.Module
    history: dict
    cache_hit: bool
    path: Path
    key: dict = field(repr=False)


@dataclass(frozen=True, eq=False)
class TaskEntry:
    """A :func:`cached_train` call a notebook is going to make, declared ahead so that
    ``workbench report`` runs it in its bank phase, in parallel with the classification entries
    (:func:`workbench.bank.ensure`), instead of inside the notebook.

    ``fn(*args, cache_dir=...)`` must make exactly the call the notebook makes (same settings, so the
    same key); ``fn`` is a module-level function and ``args`` JSON-able, so the entry can be sent to a
    worker process. Building an entry that already exists only loads it.

    Attributes:
        name: a readable label (``"ofa_supernet"``).
        fn: e.g. :func:`workbench.lessons.once_for_all.supernet_entry`.
        args: its positional arguments (e.g. the notebook's parameters).
    """

    name: str
    fn: Callable
    args: tuple = ()

    def key(self) -> tuple[str, str, str]:
        """Identity of the call: label, function, arguments (as canonical JSON)."""
        return (self.name, f"{self.fn.__module__}.{self.fn.__qualname__}", json.dumps(self.args, sort_keys=True, default=repr))

    def label(self) -> str:
        return f"{self.name} (task)"

    def build(self, cache_dir: str | os.PathLike | None = None) -> None:
        """Make the call (train, or load when the entry exists)."""
        self.fn(*self.args, cache_dir=cache_dir)

    def __hash__(self) -> int:
        return hash(self.key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskEntry) and self.key() == other.key()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def cached_train(
    name: str,
    *,
    build: Callable[[], nn.Module],
    train: Callable[[nn.Module], dict],
    settings: dict,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    refresh: bool = False,
) -> TaskResult:
    """Train ``build()`` with ``train(model)`` once; later calls with the same key load the weights.

    Args:
        name: a readable label for the entry (``"fsrcnn_x2"``); not part of the uniqueness.
        build: zero-argument factory of the untrained model (called under
            ``torch.manual_seed(seed)``).
        train: ``train(model) -> history``: trains the model in place and returns a JSON-able
            dict. Its source is keyed, so close over settings with ``functools.partial`` or pass
            them in ``settings`` -- a lambda's captured values are not seen.
        settings: every value that changes the result and is not in the code: data version,
            steps, learning rate, input size, ... (JSON-able).
        seed: the weight-initialisation seed (also keyed).
        cache_dir: cache root (default ``$WORKBENCH_CACHE`` or ``.cache/workbench``).
        refresh: retrain and overwrite even if cached.

    Raises:
        TypeError: ``settings`` or the returned history is not JSON-serialisable.
        ValueError: ``settings`` is not a dict.
    """
    if not isinstance(settings, dict):
        raise ValueError(f"settings must be a dict of the values that change the result, got {type(settings).__name__}")
    torch.manual_seed(seed)
    model = build()
    key = {
        "format": _FORMAT, "name": name, "code": code_fingerprint(model, build, train),
        "train": f"{getattr(train, '__module__', '?')}.{getattr(train, '__qualname__', repr(train))}",
        "settings": settings, "seed": seed, "torch": torch.__version__.split("+")[0],
    }  # fmt: skip
    try:
        blob = json.dumps(key, sort_keys=True)
    except TypeError as e:
        raise TypeError(f"settings of {name!r} must be JSON-serialisable: {e}") from None
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    root = _cache_dir("tasks", base=cache_dir)
    folder = root / f"{_slug(name)}-{digest}"
    hist_path, model_path = folder / "history.json", folder / "model.pt"
    with file_lock(root / ".locks" / f"{folder.name}.lock"):
        if not refresh and hist_path.exists() and model_path.exists():
            state = torch.load(model_path, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
            return TaskResult(model.eval(), json.loads(hist_path.read_text()), True, folder, key)
        history = train(model)
        try:
            hist_blob = json.dumps(history, sort_keys=True)
        except TypeError as e:
            raise TypeError(f"the history returned by train() for {name!r} must be JSON-serialisable: {e}") from None
        hist_path.unlink(missing_ok=True)  # a refresh must not leave the old history valid
        model = model.cpu().eval()
        atomic_write(folder / "key.json", lambda tmp: tmp.write_text(blob))
        atomic_write(model_path, lambda tmp: torch.save(model.state_dict(), tmp))
        atomic_write(hist_path, lambda tmp: tmp.write_text(hist_blob))  # last: marks the entry complete
    return TaskResult(model, history, False, folder, key)
