"""Classification training (:func:`fit`) and evaluation (:func:`evaluate`) on the shared loop.

Conventions: accuracies are percentages (0-100), losses are per-image means, ``seconds`` is the
training time of an epoch (evaluation excluded, reported separately), ``images_per_s`` is training
images / training seconds. Same seed, same data, same thread count -> identical history on CPU.

Extension points, so techniques need no loop of their own: ``loss_fn(model, x, y, output) ->
loss`` replaces cross-entropy (knowledge distillation); ``callbacks`` (see :mod:`.loop`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data.loaders import DataBundle
from .loop import (
    autocast,
    check_lr,
    check_positive_int,
    model_device,
    prepare_training,
    resolve_device,
    run_epochs,
)

__all__ = ["EvalResult", "History", "evaluate", "fit"]


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
        """Best test accuracy (%) over the evaluated epochs (optimistic: selected on the test set)."""
        return max((a for a in self.test_acc if not math.isnan(a)), default=math.nan)

    @property
    def total_seconds(self) -> float:
        """Training plus evaluation time of all epochs, s."""
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
    device: str | torch.device = "auto",
    channels_last: bool = False,
    precision: str = "fp32",
    eval_every: int = 1,
) -> History:
    """Train a classifier, evaluating on the test loader every ``eval_every`` epochs and after the last.

    Args:
        model: the network; trained in place and left in eval mode on ``device``.
        data: a :class:`~workbench.data.DataBundle`, a ``(train, test)`` pair of loaders, or a
            single training loader (no evaluation). Loaders yield ``(x, y)`` batches.
        epochs: passes over the training loader (>= 1).
        lr: peak learning rate (OneCycle's max, cosine's start); finite and > 0.
        optimizer: ``'sgd'`` (Nesterov momentum) or ``'adamw'``.
        schedule: ``'onecycle'``, ``'cosine'`` or ``'constant'``, stepped per batch.
        batch_size: re-batch a TensorLoader (None: the loader's own).
        max_batches: cap on training batches per epoch (>= 1; quick runs); evaluation is not capped.
        seed: seeds torch (dropout, ...) and the loader's shuffling/augmentation per epoch. The
            model's initial weights are the caller's: build it under ``torch.manual_seed``.
        threads: torch intra-op threads during the run (restored afterwards).
        progress: show a ``tqdm.auto`` bar.
        loss_fn: ``loss_fn(model, x, y, output) -> scalar`` replacing cross-entropy.
        callbacks: objects with optional ``on_fit_start``/``on_step``/``on_epoch_end``/``on_fit_end``.
        weight_decay: decoupled (AdamW) or L2 (SGD) decay on weights with ndim > 1 only.
        momentum: SGD momentum / AdamW beta1 (OneCycle cycles it).
        label_smoothing: for the default cross-entropy.
        device: ``'auto'`` (CUDA when available, else CPU), ``'cpu'``, ``'cuda'``, ...
        channels_last: NHWC memory format for model and inputs (faster convs on many CPUs).
        precision: ``'fp32'`` or ``'bf16'`` (autocast of the training steps; weights and optimizer
            stay fp32, and the per-epoch evaluation runs in fp32).
        eval_every: evaluate after every ``eval_every``-th epoch and always after the last one;
            skipped epochs record NaN test loss/accuracy. A full 10k-image Fashion-MNIST
            evaluation costs ~10-15 % of a 20k-image training epoch on this CPU, so the model
            bank evaluates once, at the end (>= 1).

    Returns:
        :class:`History`.

    Raises:
        ValueError: a bad argument (naming the valid range or choices).
        FloatingPointError: the loss became NaN/inf (training stops; naming epoch and step).
    """
    check_positive_int("epochs", epochs)
    check_positive_int("eval_every", eval_every)
    check_positive_int("max_batches", max_batches, allow_none=True)
    check_positive_int("batch_size", batch_size, allow_none=True)
    check_lr(lr)
    dev = resolve_device(device)
    train, test = _split_data(data)
    if batch_size is not None and batch_size != getattr(train, "batch_size", batch_size):
        if not hasattr(train, "with_options"):
            raise ValueError(
                "batch_size can only re-batch a TensorLoader; build your DataLoader with it"
            )
        train = train.with_options(batch_size=batch_size)
    steps = len(train) if max_batches is None else min(len(train), max_batches)
    if steps < 1:
        raise ValueError("the training loader yields no batches (too few images for one batch?)")
    autocast(dev, precision)  # validates precision
    opt, sched = prepare_training(
        model, dev, optimizer=optimizer, schedule=schedule, lr=lr, weight_decay=weight_decay,
        momentum=momentum, total_steps=epochs * steps,
        memory_format=torch.channels_last if channels_last else torch.contiguous_format,
    )  # fmt: skip
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    hist = History(meta=dict(
        model=getattr(model, "registry_name", type(model).__name__),
        params=sum(p.numel() for p in model.parameters()), epochs=epochs, lr=lr, optimizer=optimizer,
        schedule=schedule, batch_size=getattr(train, "batch_size", None), max_batches=max_batches,
        seed=seed, threads=threads or torch.get_num_threads(), weight_decay=weight_decay,
        label_smoothing=label_smoothing, device=str(dev), channels_last=channels_last,
        precision=precision, data=getattr(data, "version", None),
    ))  # fmt: skip
    # accumulate on the device; one host sync per epoch for the metrics
    acc = {}

    def reset():
        acc.update(loss=torch.zeros((), device=dev, dtype=torch.float64),
                   correct=torch.zeros((), device=dev, dtype=torch.int64), seen=0)  # fmt: skip

    def batches(epoch):
        reset()
        for x, y in _batches(train, epoch, seed):
            yield _to(x, dev, channels_last), y.to(dev, non_blocking=True)

    def loss_of(x, y):
        out = model(x)
        return (loss_fn(model, x, y, out) if loss_fn else criterion(out, y)), out

    def on_batch(loss, out, y):
        acc["loss"] += loss * len(y)
        acc["correct"] += (_logits(out).detach().argmax(1) == y).sum()
        acc["seen"] += len(y)

    def end_epoch(epoch, train_seconds):
        seen = max(acc["seen"], 1)
        hist.epoch.append(epoch + 1)
        hist.lr.append(opt.param_groups[0]["lr"])
        hist.train_loss.append(float(acc["loss"]) / seen)
        hist.train_acc.append(100.0 * float(acc["correct"]) / seen)
        hist.seconds.append(train_seconds)
        hist.images_per_s.append(acc["seen"] / train_seconds if train_seconds > 0 else math.nan)
        t1 = time.perf_counter()
        due = (epoch + 1) % eval_every == 0 or epoch + 1 == epochs
        res = (
            # fp32 evaluation whatever the training precision: the weights are fp32 and that is
            # how the model is used afterwards, so the recorded accuracy is the deployed one
            evaluate(model, test, device=dev, channels_last=channels_last)
            if test is not None and due
            else None
        )
        hist.eval_seconds.append(time.perf_counter() - t1)
        hist.test_loss.append(res.loss if res else math.nan)
        hist.test_acc.append(res.accuracy if res else math.nan)
        return dict(loss=f"{hist.train_loss[-1]:.3f}", test_acc=f"{hist.test_acc[-1]:.2f}" if res else "-")

    run_epochs(
        model, opt, sched, epochs=epochs, steps=steps, batches=batches, loss_of=loss_of,
        on_batch=on_batch, end_epoch=end_epoch, history=hist, device=dev, precision=precision,
        seed=seed, threads=threads, callbacks=callbacks, progress=progress, desc="fit",
    )  # fmt: skip
    return hist


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    data,
    *,
    device: str | torch.device | None = None,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    max_batches: int | None = None,
    channels_last: bool = False,
    precision: str = "fp32",
) -> EvalResult:
    """Accuracy, loss, per-class accuracy and confusion matrix of ``model`` on a loader.

    Args:
        model: the classifier (evaluated in eval mode; its previous mode is restored).
        data: a loader of ``(x, y)`` batches or a :class:`~workbench.data.DataBundle` (its test
            loader).
        device: where to run (default: where the model's parameters are; ``'auto'`` allowed).
        num_classes: confusion-matrix size (default: the bundle's, else the model's output width).
        class_names: labels for the result (default: the bundle's, else ``'0'..'C-1'``).
        max_batches: evaluate only the first batches (quick checks).
        channels_last: NHWC inputs.
        precision: ``'fp32'`` or ``'bf16'`` autocast of the forward pass.
    """
    check_positive_int("max_batches", max_batches, allow_none=True)
    dev = model_device(model) if device is None else resolve_device(device)
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
        x, y = _to(x, dev, channels_last), y.to(dev)
        with autocast(dev, precision):
            out = model(x)
        logits = _logits(out).float()
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        preds.append(logits.argmax(1).cpu())
        labels.append(y.cpu())
        num_classes = num_classes or logits.shape[1]
    model.train(was_training)
    if not labels:
        raise ValueError("evaluate: the loader yielded no batches")
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
