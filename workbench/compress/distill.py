"""Knowledge distillation: a small student trained on a trained teacher's outputs.

Hinton, Vinyals and Dean (2015), *Distilling the Knowledge in a Neural Network*: soften both
networks' logits with a temperature $T$ and add the KL divergence between them to the usual
cross-entropy,

$$\\mathcal{L} = \\alpha\\, T^2\\, \\mathrm{KL}\\big(\\mathrm{softmax}(t/T)\\,\\|\\,\\mathrm{softmax}(s/T)\\big)
+ (1 - \\alpha)\\, \\mathrm{CE}(s, y)$$

($T^2$ keeps the soft term's gradient scale independent of $T$). With $\\alpha = 1$ no label is
read, so the student can learn from unlabelled images (SSLD, *Beyond Self-Supervision*, 2021).
Feature KD (FitNets, Romero et al. 2015) adds $\\beta \\lVert W f_s - f_t \\rVert^2$ on the
penultimate embeddings through a learned linear projector $W$ (discarded after training).

The teacher's outputs do not change while the student trains (the teacher is frozen, and without
augmentation every epoch sees the same images), so they can be computed once and stored
(:func:`teacher_targets`): *Dataset Reinforcement* (Faghri et al., 2023) stores them so that "every
later model trains for free". :func:`distill` accepts either a live teacher (online KD) or the store.

One function, any zoo classifier as teacher or student: the only requirement is a final
``nn.Linear`` (the embedding is its input) for feature KD.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data.loaders import DataBundle, TensorLoader
from ..measure import num_threads
from ..train.classify import History, evaluate
from ..train.loop import (
    autocast,
    check_lr,
    check_positive_int,
    prepare_training,
    resolve_device,
    run_epochs,
)

__all__ = [
    "DistillResult",
    "TeacherTargets",
    "distill",
    "distill_table",
    "embedding_layer",
    "kd_loss",
    "teacher_targets",
    "unlabeled",
]

UNLABELED = -1  # the label of an image whose label was dropped


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    labels: torch.Tensor | None = None,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
) -> torch.Tensor:
    """Hinton's distillation loss: ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE``.

    Args:
        student_logits, teacher_logits: (B, C) logits (``teacher_logits`` unused, may be None, when
            ``alpha == 0``).
        labels: (B,) class indices; ``-1`` marks an unlabelled image (no cross-entropy term).
            May be None when ``alpha == 1``.
        temperature: $T > 0$; both distributions are ``softmax(logits / T)``.
        alpha: weight of the soft term in [0, 1]; 0 is plain cross-entropy, 1 reads no label.

    Returns:
        the mean loss over the batch (cross-entropy averaged over the labelled images only).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    s = student_logits.float()
    loss = s.new_zeros(())
    if alpha > 0:
        if teacher_logits is None:
            raise ValueError("alpha > 0 needs teacher_logits")
        log_p_s = F.log_softmax(s / temperature, dim=1)
        log_p_t = F.log_softmax(teacher_logits.float() / temperature, dim=1)
        loss = loss + alpha * temperature**2 * F.kl_div(log_p_s, log_p_t, log_target=True, reduction="batchmean")
    if alpha < 1:
        if labels is None:
            raise ValueError("alpha < 1 needs labels (the cross-entropy term); pass alpha=1 for label-free KD")
        known = labels >= 0
        if bool(known.any()):
            loss = loss + (1 - alpha) * F.cross_entropy(s[known], labels[known], reduction="sum") / len(labels)
    return loss


def embedding_layer(model: nn.Module) -> nn.Linear:
    """The final ``nn.Linear`` of a classifier (its input is the embedding feature KD matches).

    Raises:
        ValueError: the model has no ``nn.Linear`` (naming its type).
    """
    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Linear):
        return head
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear head: feature KD needs one (its input is the embedding)")
    return linears[-1]


class _Embedding:
    """Captures the input of a model's final linear layer on every forward (a forward pre-hook)."""

    def __init__(self, model: nn.Module) -> None:
        self.value: torch.Tensor | None = None
        self._handle = embedding_layer(model).register_forward_pre_hook(self._hook)

    def _hook(self, _module, args) -> None:
        self.value = args[0].flatten(1)

    def remove(self) -> None:
        self._handle.remove()


def _logits(out) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _train_loader(data) -> TensorLoader:
    loader = data.train if isinstance(data, DataBundle) else data
    if not isinstance(loader, TensorLoader):
        raise TypeError(f"distillation needs a DataBundle or TensorLoader (in-memory images), got {type(loader).__name__}")
    return loader


def unlabeled(loader: TensorLoader | DataBundle) -> TensorLoader:
    """The same images with their labels dropped (every label ``-1``): a stand-in for unlabelled data.

    Any accidental use of the labels fails loudly (``cross_entropy`` rejects ``-1``) instead of
    leaking them into a "label-free" experiment.
    """
    ld = _train_loader(loader)
    return TensorLoader(ld.images, torch.full_like(ld.labels, UNLABELED), batch_size=ld.batch_size, shuffle=ld.shuffle,
                        drop_last=ld.drop_last, mean=ld.mean, std=ld.std, resize=ld.resize, augment=ld.augment,
                        pad=ld.pad, seed=ld.seed)  # fmt: skip


def _combined(train: TensorLoader, extra: TensorLoader | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of the training set followed by the extra (unlabelled) images."""
    if extra is None:
        return train.images, train.labels
    if extra.images.shape[1:] != train.images.shape[1:]:
        raise ValueError(f"unlabelled images are {tuple(extra.images.shape[1:])}, the training images {tuple(train.images.shape[1:])}")
    if (extra.mean, extra.std, extra.resize) != (train.mean, train.std, train.resize):
        raise ValueError("unlabelled images must use the training loader's normalisation and resize")
    return torch.cat([train.images, extra.images]), torch.cat([train.labels, torch.full_like(extra.labels, UNLABELED)])


@dataclass
class TeacherTargets:
    """A teacher's outputs on a fixed image set, computed once (the "reinforced dataset").

    Attributes:
        logits: (N, C) float32, row ``i`` for image ``i`` of the set in its stored order.
        features: (N, D) float32 embeddings (the final linear layer's input), or None.
        seconds: wall time of the teacher's forward passes.
        images_per_s: teacher inference throughput while storing.
        accuracy: the teacher's top-1 (%) on the labelled images of the set (NaN if none).
    """

    logits: torch.Tensor
    features: torch.Tensor | None
    seconds: float
    images_per_s: float
    accuracy: float

    def first(self, n: int) -> TeacherTargets:
        """The targets of the first ``n`` images (the labelled part of a labelled + unlabelled store)."""
        check_positive_int("n", n)
        if n > len(self.logits):
            raise ValueError(f"the store holds {len(self.logits)} images, asked for the first {n}")
        feats = self.features[:n] if self.features is not None else None
        return TeacherTargets(self.logits[:n], feats, self.seconds, self.images_per_s, self.accuracy)

    @property
    def megabytes(self) -> float:
        n = self.logits.numel() + (self.features.numel() if self.features is not None else 0)
        return n * 4 / 1e6


def teacher_targets(
    teacher: nn.Module,
    data: TensorLoader | DataBundle,
    *,
    unlabeled_images: TensorLoader | None = None,
    features: bool = False,
    batch_size: int = 1024,
    precision: str = "fp32",
    channels_last: bool = True,
    threads: int | None = None,
) -> TeacherTargets:
    """Run ``teacher`` once over the training images (then ``unlabeled_images``) and store its outputs.

    The order is the stored order of the images, the same order :func:`distill` indexes, so the
    result can replace the live teacher there (``targets=``).

    Args:
        teacher: a trained classifier (evaluated in eval mode; not modified).
        data: the training set (a ``DataBundle``'s training loader, or a ``TensorLoader``).
        unlabeled_images: extra images appended after the training images (as in :func:`distill`).
        features: also store the embeddings (for feature KD).
        batch_size: images per forward pass.
        precision: ``'fp32'`` (default: the stored targets are the reference) or ``'bf16'``.
        channels_last: run an NHWC copy of the teacher on NHWC batches (oneDNN's preferred layout:
            2.3x the images/s of NCHW for mobilenetv2_050 at 28 px, bf16, 1 thread); the teacher
            passed in is not touched.
        threads: intra-op threads while storing.
    """
    check_positive_int("batch_size", batch_size)
    train = _train_loader(data)
    if train.augment:
        raise ValueError("stored targets are computed on un-augmented images; use a loader with augment=False")
    images, labels = _combined(train, unlabeled_images)
    loader = TensorLoader(images, labels, batch_size=batch_size, mean=train.mean, std=train.std, resize=train.resize)
    dev = next(teacher.parameters()).device
    was_training = teacher.training
    if channels_last:
        teacher = copy.deepcopy(teacher).to(memory_format=torch.channels_last)
    teacher.eval()
    hook = _Embedding(teacher) if features else None
    logits, feats = [], []
    t0 = time.perf_counter()
    try:
        with num_threads(threads), torch.inference_mode():
            for x, _ in loader.epoch(0):
                with autocast(dev, precision):
                    x = x.to(dev)
                    out = _logits(teacher(x.contiguous(memory_format=torch.channels_last) if channels_last else x))
                logits.append(out.float().cpu())
                if hook is not None:
                    feats.append(hook.value.float().cpu())
    finally:
        if hook is not None:
            hook.remove()
        teacher.train(was_training)
    seconds = time.perf_counter() - t0
    lg = torch.cat(logits)
    known = labels >= 0
    acc = 100.0 * float((lg[known].argmax(1) == labels[known]).float().mean()) if bool(known.any()) else math.nan
    return TeacherTargets(lg, torch.cat(feats) if feats else None, seconds, len(lg) / seconds, acc)


@dataclass
class DistillResult:
    """One distillation run.

    Attributes:
        model: the trained student (a copy; the student passed in is not modified), eval mode.
        history: per-epoch :class:`~workbench.train.History` (test accuracy at the end).
        seconds: training wall time (teacher forward passes included when online).
        images_per_s: training images per second (labelled + unlabelled).
        config: the run's settings (mode, temperature, alpha, feature_weight, images, ...).
    """

    model: nn.Module
    history: History
    seconds: float
    images_per_s: float
    config: dict = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.history.final_acc


class _StudentWithProjector(nn.Module):
    """The student plus the feature-KD projector, so one optimizer trains both."""

    def __init__(self, student: nn.Module, projector: nn.Module | None) -> None:
        super().__init__()
        self.student = student
        self.projector = projector

    def forward(self, x: torch.Tensor):
        return self.student(x)


def distill(
    student: nn.Module,
    teacher: nn.Module | None,
    data: DataBundle,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
    feature_weight: float = 0.0,
    unlabeled_images: TensorLoader | None = None,
    targets: TeacherTargets | None = None,
    epochs: int = 3,
    lr: float = 0.1,
    optimizer: str = "sgd",
    schedule: str = "onecycle",
    weight_decay: float = 5e-4,
    momentum: float = 0.9,
    seed: int = 0,
    threads: int | None = None,
    precision: str = "bf16",
    channels_last: bool = True,
    device: str | None = None,
    progress: bool = False,
) -> DistillResult:
    """Train a copy of ``student`` on ``data`` with the teacher's soft targets (Hinton KD).

    ``alpha=0`` and ``feature_weight=0`` is plain cross-entropy training (the "no KD" baseline;
    ``teacher`` may then be None). ``alpha=1`` reads no label: label-free KD.

    Args:
        student: the (untrained) student; copied, never modified.
        teacher: the trained teacher (frozen, eval mode) for online KD, or None with ``targets``.
        data: a ``DataBundle``: its training loader (in-memory ``TensorLoader``) and test loader.
        temperature, alpha: as :func:`kd_loss`.
        feature_weight: $\\beta$ of the feature term (MSE between the projected student embedding
            and the teacher's); 0 turns it off.
        unlabeled_images: extra images trained on with the soft term only (their labels ignored),
            e.g. :func:`unlabeled` of the rest of the training split (SSLD).
        targets: stored teacher outputs from :func:`teacher_targets` on the same images (and the
            same ``unlabeled_images``): no teacher forward pass during training.
        epochs, lr, optimizer, schedule, weight_decay, momentum: as :func:`~workbench.train.fit`.
        seed, threads, precision, channels_last, device, progress: as :func:`~workbench.train.fit`.

    Raises:
        ValueError: bad hyper-parameters, a missing teacher, stored targets that do not match the
            images, or unlabelled images with ``alpha == 0`` (nothing would learn from them).
    """
    check_positive_int("epochs", epochs)
    check_lr(lr)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if feature_weight < 0:
        raise ValueError(f"feature_weight must be >= 0, got {feature_weight!r}")
    if unlabeled_images is not None and alpha == 0 and feature_weight == 0:
        raise ValueError("unlabelled images need a teacher term (alpha > 0 or feature_weight > 0): cross-entropy cannot use them")
    needs_teacher = alpha > 0 or feature_weight > 0
    if needs_teacher and teacher is None and targets is None:
        raise ValueError("alpha > 0 or feature_weight > 0 needs a teacher or stored targets (teacher_targets)")
    if not isinstance(data, DataBundle):
        raise TypeError(f"data must be a DataBundle (train + test loaders), got {type(data).__name__}")
    train = _train_loader(data)
    images, labels = _combined(train, unlabeled_images)
    n = len(labels)
    if targets is not None:
        if train.augment:
            raise ValueError("stored targets need a loader with augment=False (they were computed on fixed images)")
        if len(targets.logits) != n:
            raise ValueError(f"stored targets have {len(targets.logits)} rows, the training images {n}: compute them with the same data and unlabeled_images")
        if feature_weight > 0 and targets.features is None:
            raise ValueError("feature_weight > 0 with stored targets needs teacher_targets(..., features=True)")

    dev = resolve_device(device or "auto")
    model = copy.deepcopy(student)
    projector = None
    s_emb = t_emb = None
    if feature_weight > 0:
        s_emb = _Embedding(model)
        t_dim = targets.features.shape[1] if targets is not None else embedding_layer(teacher).in_features
        projector = nn.Linear(embedding_layer(model).in_features, t_dim, bias=False)
    wrapper = _StudentWithProjector(model, projector)
    loader = TensorLoader(images, torch.arange(n), batch_size=train.batch_size, shuffle=True, drop_last=n > train.batch_size,
                          mean=train.mean, std=train.std, resize=train.resize, augment=train.augment, pad=train.pad, seed=train.seed)  # fmt: skip
    steps = len(loader)
    opt, sched = prepare_training(
        wrapper, dev, optimizer=optimizer, schedule=schedule, lr=lr, weight_decay=weight_decay, momentum=momentum,
        total_steps=epochs * steps, memory_format=torch.channels_last if channels_last else torch.contiguous_format,
    )  # fmt: skip
    online = needs_teacher and targets is None
    if online:  # a frozen copy on the training device, in the student's fast layout; the caller's is not touched
        teacher = copy.deepcopy(teacher).to(dev, memory_format=torch.channels_last if channels_last else torch.preserve_format)
        teacher.eval()
        if feature_weight > 0:
            t_emb = _Embedding(teacher)
    labels_d = labels.to(dev)
    t_logits = targets.logits.to(dev) if targets is not None else None
    t_feats = targets.features.to(dev) if targets is not None and targets.features is not None else None
    hist = History(meta=dict(model=getattr(student, "registry_name", type(student).__name__), epochs=epochs, lr=lr,
                             optimizer=optimizer, schedule=schedule, seed=seed, precision=precision,
                             temperature=temperature, alpha=alpha, feature_weight=feature_weight,
                             mode="stored" if targets is not None else ("online" if needs_teacher else "none")))  # fmt: skip
    acc: dict = {}

    def batches(epoch):
        acc.update(loss=torch.zeros((), dtype=torch.float64, device=dev), correct=torch.zeros((), dtype=torch.int64, device=dev), seen=0, labelled=0)
        for x, idx in loader.epoch(epoch, seed):
            x = x.to(dev)
            yield (x.contiguous(memory_format=torch.channels_last) if channels_last else x), idx.to(dev)

    def loss_of(x, idx):
        y = labels_d[idx]
        s = _logits(wrapper(x))
        t = tf = None
        if online:
            with torch.no_grad():
                t = _logits(teacher(x))
                tf = t_emb.value if t_emb is not None else None
        elif targets is not None:
            t = t_logits[idx]
            tf = t_feats[idx] if t_feats is not None else None
        loss = kd_loss(s, t, y, temperature=temperature, alpha=alpha)
        if feature_weight > 0:
            loss = loss + feature_weight * F.mse_loss(projector(s_emb.value).float(), tf.float())
        return loss, (s, y)

    def on_batch(loss, out, _idx):
        s, y = out
        known = y >= 0
        acc["loss"] += loss * len(y)
        acc["correct"] += (s.detach().argmax(1)[known] == y[known]).sum()
        acc["seen"] += len(y)
        acc["labelled"] += int(known.sum())

    def end_epoch(epoch, train_seconds):
        hist.epoch.append(epoch + 1)
        hist.lr.append(opt.param_groups[0]["lr"])
        hist.train_loss.append(float(acc["loss"]) / max(acc["seen"], 1))
        hist.train_acc.append(100.0 * float(acc["correct"]) / acc["labelled"] if acc["labelled"] else math.nan)
        hist.seconds.append(train_seconds)
        hist.images_per_s.append(acc["seen"] / train_seconds if train_seconds > 0 else math.nan)
        t1 = time.perf_counter()
        res = evaluate(model, data.test, device=dev, channels_last=channels_last) if data.test is not None and epoch + 1 == epochs else None
        hist.eval_seconds.append(time.perf_counter() - t1)
        hist.test_loss.append(res.loss if res else math.nan)
        hist.test_acc.append(res.accuracy if res else math.nan)
        return dict(loss=f"{hist.train_loss[-1]:.3f}")

    try:
        run_epochs(wrapper, opt, sched, epochs=epochs, steps=steps, batches=batches, loss_of=loss_of, on_batch=on_batch,
                   end_epoch=end_epoch, history=hist, device=dev, precision=precision, seed=seed, threads=threads,
                   progress=progress, desc="distill")  # fmt: skip
    finally:
        for h in (s_emb, t_emb):
            if h is not None:
                h.remove()
    seconds = float(sum(hist.seconds))
    config = dict(hist.meta, images=n, labelled=int((labels >= 0).sum()), steps=epochs * steps)
    return DistillResult(model.eval(), hist, seconds, epochs * n / seconds if seconds > 0 else math.nan, config)


def distill_table(runs: dict[str, list[DistillResult]], *, teacher_accuracy: float | None = None, baseline: str | None = None) -> pd.DataFrame:
    """One row per variant: accuracy mean and std over its seeds, the gap to the teacher closed, cost.

    Args:
        runs: ``{variant name: [one DistillResult per seed]}``.
        teacher_accuracy: the teacher's test accuracy (%), for ``gap_closed_pct``.
        baseline: the variant without KD (default: the first); ``gain`` is the mean accuracy minus its.

    Columns: ``name, seeds, accuracy, accuracy_std, accuracies, gain, gap_closed_pct, seconds,
    images_per_s, images, labelled, mode, temperature, alpha, feature_weight``.
    """
    if not runs:
        raise ValueError("distill_table needs at least one variant")
    rows = []
    for name, results in runs.items():
        if not results:
            raise ValueError(f"variant {name!r} has no runs")
        accs = [r.accuracy for r in results]
        c = results[0].config
        rows.append(dict(
            name=name, seeds=len(results), accuracy=float(pd.Series(accs).mean()),
            accuracy_std=float(pd.Series(accs).std()) if len(accs) > 1 else math.nan, accuracies=[round(a, 2) for a in accs],
            seconds=float(pd.Series([r.seconds for r in results]).mean()),
            images_per_s=float(pd.Series([r.images_per_s for r in results]).mean()), images=c["images"], labelled=c["labelled"],
            mode=c["mode"], temperature=c["temperature"], alpha=c["alpha"], feature_weight=c["feature_weight"],
        ))  # fmt: skip
    table = pd.DataFrame(rows)
    base = table.set_index("name").loc[baseline or table.name.iloc[0], "accuracy"]
    table["gain"] = table.accuracy - base
    if teacher_accuracy is not None and math.isfinite(teacher_accuracy) and teacher_accuracy > base:
        table["gap_closed_pct"] = 100.0 * table.gain / (teacher_accuracy - base)
    else:
        table["gap_closed_pct"] = math.nan
    cols = ["name", "seeds", "accuracy", "accuracy_std", "accuracies", "gain", "gap_closed_pct", "seconds", "images_per_s",
            "images", "labelled", "mode", "temperature", "alpha", "feature_weight"]  # fmt: skip
    return table[cols]
