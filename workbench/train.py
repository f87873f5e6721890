"""A small, honest training loop: classification (:func:`fit`), SR (:func:`fit_sr`), a results cache.

Conventions: accuracies are percentages (0-100), losses are per-image means, ``seconds`` is the
training time of an epoch (evaluation excluded, reported separately), ``images_per_s`` is training
images / training seconds. Same seed, same data, same thread count -> identical history on CPU.

Extension points, so techniques need no loop of their own:

* ``loss_fn(model, x, y, output) -> loss`` replaces cross-entropy (knowledge distillation);
* ``callbacks``: objects with any of ``on_fit_start(state)``, ``on_step(state)`` (after each
  optimizer step: pruning masks, QAT observers), ``on_epoch_end(state, history)``,
  ``on_fit_end(state, history)``; ``state`` is a :class:`StepState`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .data._io import atomic_write, results_cache_dir
from .data.loaders import DataBundle
from .data.metrics import psnr, rgb_to_y, ssim
from .data.sr_images import image_to_tensor, sr_eval_set, sr_patches

__all__ = [
    "History", "EvalResult", "StepState", "FitResult", "SRHistory", "OPTIMIZERS", "SCHEDULES",
    "fit", "evaluate", "cached_fit", "save_checkpoint", "load_checkpoint", "fit_sr", "evaluate_sr",
]  # fmt: skip


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    # no decay on BN/LN scales and biases (1-d tensors): decaying them only hurts (timm default)
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda groups, lr, momentum: torch.optim.SGD(
        groups, lr=lr, momentum=momentum, nesterov=True
    ),
    "adamw": lambda groups, lr, momentum: torch.optim.AdamW(groups, lr=lr, betas=(momentum, 0.999)),
}

# Each builds a per-step scheduler for `total` optimizer steps at peak learning rate `lr`.
SCHEDULES: dict[
    str, Callable[[torch.optim.Optimizer, float, int], torch.optim.lr_scheduler.LRScheduler]
] = {
    "constant": lambda opt, lr, total: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0),
    "cosine": lambda opt, lr, total: torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    ),
    # OneCycle (Smith 2018): warm up over the first 25 %, anneal by cosine to lr / 1e4; it also
    # cycles momentum (SGD) / beta1 (AdamW) between 0.85 and 0.95.
    "onecycle": lambda opt, lr, total: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=total, pct_start=0.25
    ),
}


def _make_optimizer(model, optimizer, lr, weight_decay, momentum, schedule, total_steps):
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    opt = OPTIMIZERS[optimizer](_param_groups(model, weight_decay), lr, momentum)
    return opt, SCHEDULES[schedule](opt, lr, max(total_steps, 1))


@dataclass
class StepState:
    """What callbacks see. ``loss`` is the last step's (detached) loss tensor."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int = 0
    step: int = 0
    global_step: int = 0
    total_steps: int = 0
    loss: torch.Tensor | None = None


def _call(callbacks: Iterable, hook: str, *args) -> None:
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(*args)


@dataclass
class History:
    """Per-epoch record of a :func:`fit` run (accuracies in %, losses per image).

    ``test_*`` are NaN when there is no test loader. ``meta`` holds the run's settings.
    """

    epoch: list[int] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)
    images_per_s: list[float] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch."""
        return pd.DataFrame({k: v for k, v in asdict(self).items() if k != "meta"})

    @property
    def final_acc(self) -> float:
        """Test accuracy (%) after the last epoch."""
        return self.test_acc[-1] if self.test_acc else math.nan

    @property
    def best_acc(self) -> float:
        """Best test accuracy (%) over epochs (optimistic: selected on the test set)."""
        return max(self.test_acc, default=math.nan)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds) + sum(self.eval_seconds))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**d)


@dataclass
class EvalResult:
    """Classification metrics on one loader.

    Attributes:
        accuracy: top-1, %.
        loss: mean cross-entropy per image.
        n: images evaluated.
        per_class_accuracy: (C,) recall per true class, %.
        confusion: (C, C) counts, rows = true class, columns = predicted class.
        class_names: one per class index.
    """

    accuracy: float
    loss: float
    n: int
    per_class_accuracy: np.ndarray
    confusion: np.ndarray
    class_names: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        """Per-class table: class, images, accuracy (%)."""
        return pd.DataFrame(
            {
                "class": list(self.class_names),
                "images": self.confusion.sum(1),
                "accuracy": self.per_class_accuracy,
            }
        )


def _split_data(data) -> tuple[Iterable, Iterable | None]:
    if isinstance(data, DataBundle):
        return data.train, data.test
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1]
    return data, None


def _batches(loader, epoch: int, seed: int):
    # TensorLoader: reproducible (seed, epoch) order; any other iterable: its own order
    return loader.epoch(epoch, seed) if hasattr(loader, "epoch") else iter(loader)


def _logits(output):
    return output[0] if isinstance(output, (tuple, list)) else output


def _to(x: torch.Tensor, device, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.ndim == 4 else x


class _threads:
    """Context manager: torch intra-op threads set to ``n`` (None: unchanged), restored after."""

    def __init__(self, n: int | None) -> None:
        self.n, self.prev = n, torch.get_num_threads()

    def __enter__(self):
        if self.n is not None:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.prev)


def fit(
    model: nn.Module,
    data,
    *,
    epochs: int = 1,
    lr: float = 0.1,
    optimizer: str = "sgd",
    schedule: str = "onecycle",
    batch_size: int | None = None,
    max_batches: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    callbacks: Sequence = (),
    weight_decay: float = 5e-4,
    momentum: float = 0.9,
    label_smoothing: float = 0.0,
    device: str | torch.device = "cpu",
    channels_last: bool = False,
) -> History:
    """Train a classifier, evaluating on the test loader after every epoch.

    Args:
        model: the network; trained in place and left in eval mode on ``device``.
        data: a :class:`~workbench.data.DataBundle`, a ``(train, test)`` pair of loaders, or a
            single training loader (no evaluation). Loaders yield ``(x, y)`` batches.
        epochs: passes over the training loader.
        lr: peak learning rate (OneCycle's max, cosine's start).
        optimizer: ``'sgd'`` (Nesterov momentum) or ``'adamw'``.
        schedule: ``'onecycle'``, ``'cosine'`` or ``'constant'``, stepped per batch.
        batch_size: re-batch a TensorLoader (None: the loader's own).
        max_batches: cap on training batches per epoch (quick runs); evaluation is not capped.
        seed: seeds torch (dropout, ...) and the loader's shuffling/augmentation per epoch. The
            model's initial weights are the caller's: build it under ``torch.manual_seed``.
        threads: torch intra-op threads during the run (restored afterwards).
        progress: show a ``tqdm.auto`` bar.
        loss_fn: ``loss_fn(model, x, y, output) -> scalar`` replacing cross-entropy.
        callbacks: objects with optional ``on_fit_start``/``on_step``/``on_epoch_end``/``on_fit_end``.
        weight_decay: decoupled (AdamW) or L2 (SGD) decay on weights with ndim > 1 only.
        momentum: SGD momentum / AdamW beta1 (OneCycle cycles it).
        label_smoothing: for the default cross-entropy.
        device: where to train.
        channels_last: NHWC memory format for model and inputs (faster convs on many CPUs).

    Returns:
        :class:`History`.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    train, test = _split_data(data)
    if batch_size is not None and batch_size != getattr(train, "batch_size", batch_size):
        if not hasattr(train, "with_options"):
            raise ValueError(
                "batch_size can only re-batch a TensorLoader; build your DataLoader with it"
            )
        train = train.with_options(batch_size=batch_size)
    steps = len(train) if max_batches is None else min(len(train), max_batches)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device, memory_format=fmt)
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    opt, sched = _make_optimizer(
        model, optimizer, lr, weight_decay, momentum, schedule, epochs * steps
    )
    hist = History(meta=dict(
        model=getattr(model, "registry_name", type(model).__name__),
        params=sum(p.numel() for p in model.parameters()), epochs=epochs, lr=lr, optimizer=optimizer,
        schedule=schedule, batch_size=getattr(train, "batch_size", None), max_batches=max_batches,
        seed=seed, threads=threads or torch.get_num_threads(), weight_decay=weight_decay,
        label_smoothing=label_smoothing, device=str(device), channels_last=channels_last,
        data=getattr(data, "version", None),
    ))  # fmt: skip
    state = StepState(model, opt, total_steps=epochs * steps)
    with _threads(threads):
        torch.manual_seed(seed)
        _call(callbacks, "on_fit_start", state)
        bar = tqdm(total=epochs * steps, disable=not progress, desc="fit", leave=False)
        for epoch in range(epochs):
            model.train()
            state.epoch = epoch
            loss_sum = torch.zeros((), device=device, dtype=torch.float64)
            correct = torch.zeros((), device=device, dtype=torch.int64)
            seen = 0
            t0 = time.perf_counter()
            for step, (x, y) in enumerate(_batches(train, epoch, seed)):
                if step >= steps:
                    break
                x, y = _to(x, device, channels_last), y.to(device, non_blocking=True)
                out = model(x)
                loss = loss_fn(model, x, y, out) if loss_fn else criterion(out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                # accumulate on device; one sync per epoch instead of one per step
                loss_sum += loss.detach() * len(y)
                correct += (_logits(out).detach().argmax(1) == y).sum()
                seen += len(y)
                state.step, state.loss = step, loss.detach()
                _call(callbacks, "on_step", state)
                state.global_step += 1
                bar.update()
            train_seconds = time.perf_counter() - t0
            hist.epoch.append(epoch + 1)
            hist.lr.append(opt.param_groups[0]["lr"])
            hist.train_loss.append(float(loss_sum) / max(seen, 1))
            hist.train_acc.append(100.0 * float(correct) / max(seen, 1))
            hist.seconds.append(train_seconds)
            hist.images_per_s.append(seen / train_seconds if train_seconds > 0 else math.nan)
            t1 = time.perf_counter()
            res = (
                evaluate(model, test, device=device, channels_last=channels_last)
                if test is not None
                else None
            )
            hist.eval_seconds.append(time.perf_counter() - t1)
            hist.test_loss.append(res.loss if res else math.nan)
            hist.test_acc.append(res.accuracy if res else math.nan)
            bar.set_postfix(loss=f"{hist.train_loss[-1]:.3f}", test_acc=f"{hist.test_acc[-1]:.2f}")
            _call(callbacks, "on_epoch_end", state, hist)
        bar.close()
        _call(callbacks, "on_fit_end", state, hist)
    model.eval()
    return hist


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    data,
    *,
    device: str | torch.device = "cpu",
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    max_batches: int | None = None,
    channels_last: bool = False,
) -> EvalResult:
    """Accuracy, loss, per-class accuracy and confusion matrix of ``model`` on a loader.

    Args:
        model: the classifier (evaluated in eval mode; its previous mode is restored).
        data: a loader of ``(x, y)`` batches or a :class:`~workbench.data.DataBundle` (its test
            loader).
        device: where to run.
        num_classes: confusion-matrix size (default: the bundle's, else the model's output width).
        class_names: labels for the result (default: the bundle's, else ``'0'..'C-1'``).
        max_batches: evaluate only the first batches (quick checks).
        channels_last: NHWC inputs.
    """
    if isinstance(data, DataBundle):
        num_classes = num_classes or data.num_classes
        class_names = class_names or data.class_names
        data = data.test
        if data is None:
            raise ValueError("the DataBundle has no test loader")
    was_training = model.training
    model.eval()
    loss_sum, preds, labels = 0.0, [], []
    for i, (x, y) in enumerate(_batches(data, 0, 0)):
        if max_batches is not None and i >= max_batches:
            break
        x, y = _to(x, device, channels_last), y.to(device)
        logits = _logits(model(x)).float()
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        preds.append(logits.argmax(1).cpu())
        labels.append(y.cpu())
        num_classes = num_classes or logits.shape[1]
    model.train(was_training)
    pred, true = torch.cat(preds), torch.cat(labels)
    confusion = torch.bincount(true * num_classes + pred, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )
    confusion = confusion.numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = 100.0 * np.diag(confusion) / confusion.sum(1)
    n = len(true)
    names = tuple(class_names) if class_names else tuple(str(i) for i in range(num_classes))
    return EvalResult(
        100.0 * int((pred == true).sum()) / n, loss_sum / n, n, per_class, confusion, names
    )


def save_checkpoint(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model.state_dict()`` atomically (``torch.save``)."""
    return atomic_write(path, lambda tmp: torch.save(model.state_dict(), tmp))


def load_checkpoint(model: nn.Module, path: str | os.PathLike, *, strict: bool = True) -> nn.Module:
    """Load a state dict saved by :func:`save_checkpoint` (``weights_only=True``: tensors only)."""
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=strict)
    return model


@dataclass
class FitResult:
    """What :func:`cached_fit` returns: the trained model, its history, and whether it was cached."""

    model: nn.Module
    history: History
    cache_hit: bool
    path: Path
    key: dict


# fit() arguments that do not change the result (or cannot be keyed): left out of cache keys
_UNKEYED = ("progress", "threads", "callbacks", "loss_fn")


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
    """:func:`fit` a model once; later calls with the same settings load the stored result.

    The cache key is (``name``, ``overrides``, ``tag``, ``data.version``, ``seed``, the fit
    arguments except ``progress``/``threads``/``callbacks``/``loss_fn``). Entries live in
    ``<cache_dir>/<name>-<key hash>/`` as ``key.json``, ``model.pt`` (state dict) and
    ``history.json`` (written last, so a half-written entry is a miss).

    Args:
        name: registry name (``create_model(name, num_classes=..., in_chans=..., **overrides)``
            builds the model unless ``build`` is given; ``name`` then only labels the entry).
        data: the bundle to train on (its ``version`` is part of the key).
        overrides: keyword overrides for ``create_model``.
        build: zero-argument model factory for models outside the registry.
        tag: required with ``callbacks`` or ``loss_fn`` (which cannot be hashed): a string that
            changes whenever they do, e.g. ``'kd-T4-a0.9-teacher=resnet'``.
        seed: weights are built under ``torch.manual_seed(seed)`` and ``fit`` gets ``seed``.
        cache_dir: default ``$WORKBENCH_CACHE`` or ``.cache/workbench/`` in the repository.
        refresh: retrain and overwrite even if cached.
        **fit_kwargs: passed to :func:`fit`.
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
    key = {
        "format": 1, "model": name, "overrides": overrides, "tag": tag, "seed": seed,
        "data": getattr(data, "version", None),
        "fit": {k: v for k, v in sorted(fit_kwargs.items()) if k not in _UNKEYED},
    }  # fmt: skip
    blob = json.dumps(key, sort_keys=True, default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    folder = results_cache_dir(cache_dir) / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}-{digest}"

    def make() -> nn.Module:
        torch.manual_seed(seed)
        if build is not None:
            return build()
        from .models import create_model

        return create_model(name, num_classes=data.num_classes, in_chans=data.in_chans, **overrides)

    hist_path, model_path = folder / "history.json", folder / "model.pt"
    if not refresh and hist_path.exists() and model_path.exists():
        model = load_checkpoint(make(), model_path).eval()
        history = History.from_dict(json.loads(hist_path.read_text()))
        return FitResult(model, history, True, folder, key)
    model = make()
    history = fit(model, data, seed=seed, **fit_kwargs)
    atomic_write(folder / "key.json", lambda tmp: tmp.write_text(blob))
    save_checkpoint(model.cpu(), model_path)
    atomic_write(hist_path, lambda tmp: tmp.write_text(json.dumps(history.to_dict(), default=str)))
    return FitResult(model, history, False, folder, key)


# ---------------------------------------------------------------- super-resolution


def _sr_channels(model: nn.Module, channels: str | None) -> str:
    """'y' for 1-channel models (ESPCN/FSRCNN as published), 'rgb' for 3, from the first conv."""
    if channels is not None:
        if channels not in ("y", "rgb"):
            raise ValueError(f"unknown channels {channels!r}; valid: y, rgb")
        return channels
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None or conv.in_channels not in (1, 3):
        raise ValueError("cannot infer the model's input channels; pass channels='y' or 'rgb'")
    return "y" if conv.in_channels == 1 else "rgb"


def _quantize(t: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) in [0, 1] -> (H, W, C) float on the 8-bit grid, as a saved image would be."""
    return t[0].clamp(0, 1).mul(255).round().permute(1, 2, 0).cpu().double().numpy()


@torch.inference_mode()
def evaluate_sr(
    model: nn.Module,
    scale: int = 2,
    *,
    eval_set=None,
    channels: str | None = None,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """PSNR/SSIM (Y channel, border = scale) of ``model`` and of bicubic on the evaluation set.

    Args:
        model: maps an LR batch (1, C, h, w) in [0, 1] to (1, C, h*scale, w*scale).
        scale: 2, 3 or 4.
        eval_set: :class:`~workbench.data.SRImage` list (default :func:`sr_eval_set` (scale)).
        channels: ``'y'`` or ``'rgb'`` (default: inferred from the first conv).
        device: where to run.

    Returns:
        One row per image: image, scale, psnr, ssim, bicubic_psnr, bicubic_ssim (dB / unitless).
        Model outputs are rounded to 8 bits before scoring; Y models are scored on their Y output.
    """
    channels = _sr_channels(model, channels)
    eval_set = eval_set if eval_set is not None else sr_eval_set(scale)
    was_training = model.training
    model.eval()
    rows = []
    for im in eval_set:
        out = model(image_to_tensor(im.lr, channels).to(device))
        if out.shape[-2:] != im.hr.shape[:2]:
            raise ValueError(
                f"model output {tuple(out.shape[-2:])} != HR size {im.hr.shape[:2]} on {im.name}"
            )
        sr = _quantize(out)
        if channels == "y":
            hr, bic, sr = rgb_to_y(im.hr), rgb_to_y(im.bicubic), sr[..., 0]
            kw = dict(border=scale, y_channel=False)
        else:
            hr, bic, kw = im.hr, im.bicubic, dict(border=scale, y_channel=True)
        rows.append(dict(
            image=im.name, scale=scale, psnr=psnr(sr, hr, **kw), ssim=ssim(sr, hr, **kw),
            bicubic_psnr=psnr(bic, hr, **kw), bicubic_ssim=ssim(bic, hr, **kw),
        ))  # fmt: skip
    model.train(was_training)
    return pd.DataFrame(rows)


@dataclass
class SRHistory:
    """Per-epoch record of :func:`fit_sr`: L1 training loss and mean PSNR/SSIM on the eval set."""

    epoch: list[int] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    patches_per_s: list[float] = field(default_factory=list)
    bicubic_psnr: float = math.nan
    bicubic_ssim: float = math.nan
    meta: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch, with the (constant) bicubic baseline as columns."""
        d = {k: v for k, v in asdict(self).items() if isinstance(v, list)}
        return pd.DataFrame(d).assign(
            bicubic_psnr=self.bicubic_psnr, bicubic_ssim=self.bicubic_ssim
        )

    @property
    def final_psnr(self) -> float:
        return self.psnr[-1] if self.psnr else math.nan

    @property
    def gain_over_bicubic(self) -> float:
        """Final PSNR minus bicubic PSNR, dB."""
        return self.final_psnr - self.bicubic_psnr


SR_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,  # EDSR/most modern SR: sharper than MSE at equal PSNR
    "mse": F.mse_loss,  # SRCNN/FSRCNN/ESPCN as published
}


def fit_sr(
    model: nn.Module,
    scale: int = 2,
    *,
    epochs: int = 5,
    steps_per_epoch: int = 100,
    batch_size: int = 16,
    lr_patch: int = 24,
    lr: float = 1e-3,
    optimizer: str = "adamw",
    schedule: str = "cosine",
    weight_decay: float = 0.0,
    loss: str = "l1",
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
    channels: str | None = None,
    callbacks: Sequence = (),
    device: str | torch.device = "cpu",
) -> SRHistory:
    """Train a super-resolution model on :func:`~workbench.data.sr_patches`, scoring each epoch.

    Every epoch draws ``steps_per_epoch * batch_size`` fresh patch pairs (seeded by ``seed`` and
    the epoch) from the training photos, then evaluates on :func:`~workbench.data.sr_eval_set`.

    Args:
        model: LR (B, C, h, w) in [0, 1] -> HR (B, C, h*scale, w*scale).
        scale: 2, 3 or 4.
        epochs, steps_per_epoch, batch_size: training length.
        lr_patch: LR patch side in pixels (HR side = ``lr_patch * scale``).
        lr, optimizer, schedule, weight_decay: as in :func:`fit` (AdamW beta1 = 0.9).
        loss: ``'l1'`` or ``'mse'``.
        seed: patches and torch RNG; build the model under ``torch.manual_seed`` yourself.
        threads: torch intra-op threads during the run.
        progress: ``tqdm.auto`` bar.
        channels: ``'y'`` or ``'rgb'`` (default: inferred from the first conv).
        callbacks: as in :func:`fit`.
        device: where to train.

    Returns:
        :class:`SRHistory` with the bicubic baseline filled in.
    """
    if loss not in SR_LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(SR_LOSSES)}")
    channels = _sr_channels(model, channels)
    model.to(device)
    total = epochs * steps_per_epoch
    opt, sched = _make_optimizer(model, optimizer, lr, weight_decay, 0.9, schedule, total)
    hist = SRHistory(meta=dict(
        model=getattr(model, "registry_name", type(model).__name__), scale=scale, epochs=epochs,
        steps_per_epoch=steps_per_epoch, batch_size=batch_size, lr_patch=lr_patch, lr=lr,
        optimizer=optimizer, schedule=schedule, loss=loss, seed=seed, channels=channels,
    ))  # fmt: skip
    state = StepState(model, opt, total_steps=total)
    with _threads(threads):
        torch.manual_seed(seed)
        _call(callbacks, "on_fit_start", state)
        bar = tqdm(total=total, disable=not progress, desc="fit_sr", leave=False)
        for epoch in range(epochs):
            lr_all, hr_all = sr_patches(
                scale, steps_per_epoch * batch_size, lr_patch=lr_patch, seed=seed * 100_003 + epoch, channels=channels
            )  # fmt: skip
            model.train()
            state.epoch, loss_sum = epoch, torch.zeros((), dtype=torch.float64, device=device)
            t0 = time.perf_counter()
            for step in range(steps_per_epoch):
                sl = slice(step * batch_size, (step + 1) * batch_size)
                x, y = lr_all[sl].to(device), hr_all[sl].to(device)
                loss_t = SR_LOSSES[loss](model(x), y)
                opt.zero_grad(set_to_none=True)
                loss_t.backward()
                opt.step()
                sched.step()
                loss_sum += loss_t.detach()
                state.step, state.loss = step, loss_t.detach()
                _call(callbacks, "on_step", state)
                state.global_step += 1
                bar.update()
            seconds = time.perf_counter() - t0
            res = evaluate_sr(model, scale, channels=channels, device=device)
            hist.epoch.append(epoch + 1)
            hist.lr.append(opt.param_groups[0]["lr"])
            hist.train_loss.append(float(loss_sum) / steps_per_epoch)
            hist.psnr.append(float(res.psnr.mean()))
            hist.ssim.append(float(res.ssim.mean()))
            hist.seconds.append(seconds)
            hist.patches_per_s.append(steps_per_epoch * batch_size / seconds)
            hist.bicubic_psnr, hist.bicubic_ssim = (
                float(res.bicubic_psnr.mean()),
                float(res.bicubic_ssim.mean()),
            )
            bar.set_postfix(psnr=f"{hist.psnr[-1]:.2f}", bicubic=f"{hist.bicubic_psnr:.2f}")
            _call(callbacks, "on_epoch_end", state, hist)
        bar.close()
        _call(callbacks, "on_fit_end", state, hist)
    model.eval()
    return hist
