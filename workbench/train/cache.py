"""The results cache: :func:`cached_fit` trains once per key, checkpoints are atomic.

A key holds everything that changes the result -- including a fingerprint of the model's *code*
(:func:`workbench.models.fingerprint.model_fingerprint`), so editing a model's ``forward`` (or
the ``build=`` callable) retrains instead of returning the old code's history.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..data.loaders import DataBundle
from ..models.fingerprint import model_fingerprint
from ..paths import atomic_write, file_lock
from ..paths import cache_dir as _cache_dir
from .classify import History

__all__ = ["FitResult", "cached_fit", "load_checkpoint", "save_checkpoint"]


def save_checkpoint(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model.state_dict()`` atomically (``torch.save``)."""
    return atomic_write(path, lambda tmp: torch.save(model.state_dict(), tmp))


def load_checkpoint(model: nn.Module, path: str | os.PathLike, *, strict: bool = True) -> nn.Module:
    """Load a state dict saved by :func:`save_checkpoint` (``weights_only=True``: tensors only)."""
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=strict)
    return model


@dataclass
class FitResult:
    """What :func:`cached_fit` returns: the trained model (on the CPU), its history, and whether
    it was cached."""

    model: nn.Module
    history: History
    cache_hit: bool
    path: Path
    key: dict


# fit() arguments that do not change the result (or cannot be keyed): left out of cache keys
_UNKEYED = ("progress", "threads", "callbacks", "loss_fn")


def _fit():
    """``workbench.train.fit``, looked up at call time so a test can wrap it and count calls."""
    return importlib.import_module(__package__).fit


def cached_fit(
    name: str,
    data: DataBundle,
    *,
    overrides: dict | None = None,
    build: Callable[[], nn.Module] | None = None,
    tag: str | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    refresh: bool = False,
    **fit_kwargs,
) -> FitResult:
    """:func:`~workbench.train.fit` a model once; later calls with the same settings load it.

    The cache key is (``name``, the model's code fingerprint, ``overrides``, ``tag``,
    ``data.version``, ``seed``, the fit arguments except ``progress``/``threads``/``callbacks``/
    ``loss_fn``). Entries live in ``<cache_dir>/<name>-<key hash>/`` as ``key.json``,
    ``model.pt`` (state dict) and ``history.json`` (written last, so a half-written entry is a
    miss). A per-entry file lock makes concurrent processes train an entry once.

    Args:
        name: registry name (``create_model(name, num_classes=..., in_chans=..., **overrides)``
            builds the model unless ``build`` is given; ``name`` then only labels the entry).
        data: the bundle to train on (its ``version`` is part of the key).
        overrides: keyword overrides for ``create_model``.
        build: zero-argument model factory for models outside the registry (its code is keyed).
        tag: required with ``callbacks`` or ``loss_fn`` (which cannot be hashed): a string that
            changes whenever they do, e.g. ``'kd-T4-a0.9-teacher=resnet'``.
        seed: weights are built under ``torch.manual_seed(seed)`` and ``fit`` gets ``seed``.
        cache_dir: default ``$WORKBENCH_CACHE`` or ``.cache/workbench/`` in the repository.
        refresh: retrain and overwrite even if cached.
        **fit_kwargs: passed to :func:`~workbench.train.fit`.

    Raises:
        ValueError: ``callbacks``/``loss_fn`` without ``tag``, or data without a version.
        FloatingPointError: training diverged (nothing is cached).
    """
    if (fit_kwargs.get("callbacks") or fit_kwargs.get("loss_fn")) and not tag:
        raise ValueError(
            "cached_fit with callbacks or loss_fn needs a tag= naming them (they cannot be hashed)"
        )
    if not getattr(data, "version", None):
        raise ValueError(
            "cached_fit needs a DataBundle with a version (from wb.data.fashion_mnist)"
        )
    overrides = dict(overrides or {})

    def make() -> nn.Module:
        torch.manual_seed(seed)
        if build is not None:
            return build()
        from ..models import create_model

        return create_model(name, num_classes=data.num_classes, in_chans=data.in_chans, **overrides)

    model = make()
    code = model_fingerprint(None if build is not None else name, model=model, build=build)
    key = {
        "format": 2, "model": name, "code": code, "overrides": overrides, "tag": tag, "seed": seed,
        # which factory: the registry entry or a build callable (its code is in "code")
        "build": None if build is None else f"{build.__module__}.{getattr(build, '__qualname__', build)}",
        "data": getattr(data, "version", None),
        "fit": {k: v for k, v in sorted(fit_kwargs.items()) if k not in _UNKEYED},
    }  # fmt: skip
    blob = json.dumps(key, sort_keys=True, default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    root = _cache_dir(base=cache_dir)
    folder = root / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}-{digest}"
    hist_path, model_path = folder / "history.json", folder / "model.pt"
    with file_lock(root / ".locks" / f"{folder.name}.lock"):
        if not refresh and hist_path.exists() and model_path.exists():
            model = load_checkpoint(model, model_path).eval()
            history = History.from_dict(json.loads(hist_path.read_text()))
            return FitResult(model, history, True, folder, key)
        history = _fit()(model, data, seed=seed, **fit_kwargs)
        hist_path.unlink(missing_ok=True)  # a refresh must not leave the old history valid
        atomic_write(folder / "key.json", lambda tmp: tmp.write_text(blob))
        model.cpu()  # results are returned on the CPU, trained on any device (as loaded ones are)
        save_checkpoint(model, model_path)
        atomic_write(hist_path, lambda tmp: tmp.write_text(json.dumps(history.to_dict(), default=str)))
    return FitResult(model, history, False, folder, key)
