"""The one training-loop skeleton shared by classification (:mod:`.classify`) and SR (:mod:`.sr`).

It owns everything a loop does regardless of the task: device choice, optimizer and schedule
construction, thread count, seeding, mixed precision, the progress bar, callbacks, and stopping on
a non-finite loss. The task modules supply only "how to get batches", "how to compute the loss"
and "what to record after an epoch".

Callbacks are objects with any of ``on_fit_start(state)``, ``on_step(state)`` (after each
optimizer step: pruning masks, QAT observers), ``on_epoch_end(state, history)`` and
``on_fit_end(state, history)``; ``state`` is a :class:`StepState`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn
from tqdm.auto import tqdm

from ..measure import num_threads

__all__ = [
    "OPTIMIZERS", "PRECISIONS", "SCHEDULES", "Callback", "StepState", "autocast", "build_optimizer",
    "build_schedule", "call_hooks", "check_choices", "check_positive_int", "check_lr", "model_device",
    "param_groups", "prepare_training", "resolve_device", "run_epochs",
]  # fmt: skip

PRECISIONS = ("fp32", "bf16")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``'auto'`` -> CUDA when available, else CPU; anything else -> ``torch.device(device)``.

    Raises:
        ValueError: an unparseable device string, or ``'cuda'`` without a GPU.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; valid: auto, cpu")
    return dev


def check_lr(lr: float) -> None:
    """Raise ValueError unless ``lr`` is a finite number > 0."""
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")


def check_positive_int(name: str, value: int | None, *, allow_none: bool = False) -> None:
    """Raise ValueError unless ``value`` is an int >= 1 (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def check_choices(*, optimizer: str | None = None, schedule: str | None = None) -> None:
    """Raise ValueError for an unknown optimizer or schedule name (naming the valid ones)."""
    if optimizer is not None and optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    if schedule is not None and schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimizer groups: weights (ndim > 1) decayed, BN/LN scales and biases not.

    Decaying 1-d parameters only hurts (timm's default does the same).
    """
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


def _onecycle(opt: torch.optim.Optimizer, lr: float, total: int) -> torch.optim.lr_scheduler.LRScheduler:
    # OneCycle (Smith 2018): warm up over the first 25 %, anneal by cosine to lr / 1e4; it also
    # cycles momentum (SGD) / beta1 (AdamW) between 0.85 and 0.95. torch divides by the length of
    # each phase (pct_start * total - 1 steps, then the rest), so a phase of 0 steps -- e.g. 4
    # total steps at 25 % -- raises ZeroDivisionError inside OneCycleLR. Runs of >= 5 steps keep
    # 25 % (unchanged results); 3-4 steps peak at step 1; 2 steps warm up by half a step; a
    # single step uses the peak rate.
    if total < 2:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    pct = 0.25 if total >= 5 else 2 / total if total >= 3 else 0.75
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=pct)


# Each builds a per-step scheduler for `total` optimizer steps at peak learning rate `lr`.
SCHEDULES: dict[
    str, Callable[[torch.optim.Optimizer, float, int], torch.optim.lr_scheduler.LRScheduler]
] = {
    "constant": lambda opt, lr, total: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0),
    "cosine": lambda opt, lr, total: torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    ),
    "onecycle": _onecycle,
}


def build_optimizer(
    model: nn.Module, optimizer: str, lr: float, weight_decay: float = 0.0, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """The named optimizer over :func:`param_groups` of ``model``.

    Raises:
        ValueError: unknown ``optimizer`` (naming the valid ones) or a bad ``lr``.
    """
    check_choices(optimizer=optimizer)
    check_lr(lr)
    return OPTIMIZERS[optimizer](param_groups(model, weight_decay), lr, momentum)


def build_schedule(
    opt: torch.optim.Optimizer, schedule: str, lr: float, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-step learning-rate schedule over ``total_steps`` optimizer steps.

    Raises:
        ValueError: unknown ``schedule`` (naming the valid ones).
    """
    check_choices(schedule=schedule)
    return SCHEDULES[schedule](opt, lr, max(int(total_steps), 1))


def model_device(model: nn.Module) -> torch.device:
    """Where ``model``'s parameters are (the CPU for a model without parameters)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def prepare_training(
    model: nn.Module,
    device: torch.device,
    *,
    optimizer: str,
    schedule: str,
    lr: float,
    weight_decay: float,
    momentum: float,
    total_steps: int,
    memory_format: torch.memory_format | None = None,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Check the names, move ``model`` to ``device``, build its optimizer and per-step schedule.

    Args:
        model: the network (moved in place).
        device: where it trains.
        optimizer, schedule, lr, weight_decay, momentum: as :func:`build_optimizer` and
            :func:`build_schedule`.
        total_steps: optimizer steps of the whole run (the schedule's length).
        memory_format: also convert the parameters (``torch.channels_last``); ``None`` keeps theirs.

    Returns:
        ``(optimizer, scheduler)``.
    """
    check_choices(optimizer=optimizer, schedule=schedule)
    # moved before the optimizer takes references to the parameters
    if memory_format is None:
        model.to(device)
    else:
        model.to(device, memory_format=memory_format)
    opt = build_optimizer(model, optimizer, lr, weight_decay, momentum)
    return opt, build_schedule(opt, schedule, lr, total_steps)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Context for forward + loss: bf16 autocast for ``'bf16'``, nothing for ``'fp32'``.

    Raises:
        ValueError: unknown ``precision``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


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


class Callback(Protocol):
    """Any subset of these hooks (all optional; looked up with ``getattr``)."""

    def on_fit_start(self, state: StepState) -> None: ...
    def on_step(self, state: StepState) -> None: ...
    def on_epoch_end(self, state: StepState, history: Any) -> None: ...
    def on_fit_end(self, state: StepState, history: Any) -> None: ...


def call_hooks(callbacks: Iterable, hook: str, *args) -> None:
    """Call ``hook`` on every callback that defines it."""
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(*args)


def run_epochs(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    *,
    epochs: int,
    steps: int,
    batches: Callable[[int], Iterator[tuple[torch.Tensor, torch.Tensor]]],
    loss_of: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, Any]],
    on_batch: Callable[[torch.Tensor, Any, torch.Tensor], None],
    end_epoch: Callable[[int, float], dict],
    history: Any,
    device: torch.device,
    precision: str = "fp32",
    seed: int = 0,
    threads: int | None = None,
    callbacks: Sequence = (),
    progress: bool = True,
    desc: str = "fit",
) -> None:
    """Train ``epochs`` x at most ``steps`` optimizer steps; the task supplies the specifics.

    Args:
        batches: ``batches(epoch)`` yields ``(x, y)`` already on ``device``.
        loss_of: ``loss_of(x, y) -> (loss, output)``; run under :func:`autocast`.
        on_batch: ``on_batch(loss_detached, output, y)`` accumulates the task's training metrics.
        end_epoch: ``end_epoch(epoch, train_seconds) -> postfix`` records the epoch in
            ``history`` (evaluation included) and returns figures for the progress bar.
        history: passed to the ``on_epoch_end``/``on_fit_end`` callbacks.
        precision: ``'fp32'`` or ``'bf16'`` (autocast of forward and loss; weights stay fp32).
        seed: ``torch.manual_seed`` at the start (dropout, ...).
        threads: torch intra-op threads during the run (restored afterwards).

    Raises:
        FloatingPointError: the loss became NaN or infinite (naming epoch and step); training
            stops there, so no result of a diverged run is ever recorded or cached.
    """
    autocast(device, precision)  # validates precision before any work
    state = StepState(model, opt, total_steps=epochs * steps)
    with num_threads(threads):
        torch.manual_seed(seed)
        call_hooks(callbacks, "on_fit_start", state)
        bar = tqdm(total=epochs * steps, disable=not progress, desc=desc, leave=False)
        try:
            for epoch in range(epochs):
                model.train()
                state.epoch = epoch
                t0 = time.perf_counter()
                for step, (x, y) in enumerate(batches(epoch)):
                    if step >= steps:
                        break
                    with autocast(device, precision):
                        loss, out = loss_of(x, y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    lv = loss.detach()
                    # one host sync per step: a diverged run must stop before the optimizer
                    # writes NaN into the weights (on CPU the check costs nothing measurable)
                    if not bool(torch.isfinite(lv)):
                        raise FloatingPointError(
                            f"loss became {float(lv)} at epoch {epoch + 1}, step {step + 1}: "
                            "lower lr, check the data, or use precision='fp32'"
                        )
                    opt.step()
                    sched.step()
                    on_batch(lv, out, y)
                    state.step, state.loss = step, lv
                    call_hooks(callbacks, "on_step", state)
                    state.global_step += 1
                    bar.update()
                postfix = end_epoch(epoch, time.perf_counter() - t0)
                bar.set_postfix(**postfix)
                call_hooks(callbacks, "on_epoch_end", state, history)
        finally:
            bar.close()
        call_hooks(callbacks, "on_fit_end", state, history)
    model.eval()


def run_steps(model: nn.Module, batch_loss: Callable[[int], torch.Tensor], *, steps: int, batch_size: int, lr: float,
              weight_decay: float, log_every: int, threads: int | None, task: str) -> dict:  # fmt: skip
    """The step loop of the dense-prediction trainers (detection, segmentation): AdamW + OneCycle.

    ``batch_loss(step)`` draws a batch and returns its loss; the loop steps the optimizer, keeps
    the mean loss of every ``log_every`` steps and returns the JSON history the trainers return.

    Raises:
        FloatingPointError: a non-finite loss (``task`` names it).
    """
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    model.train()
    losses, run, t0 = [], [], time.perf_counter()
    with num_threads(threads):
        for step in range(steps):
            loss = batch_loss(step)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite {task} loss at step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            run.append(loss.item())
            if len(run) == log_every or step == steps - 1:
                losses.append(sum(run) / len(run))
                run = []
    seconds = time.perf_counter() - t0
    model.eval()
    return {
        "loss": losses, "loss_every": log_every, "steps": steps, "images": steps * batch_size,
        "seconds": seconds, "images_per_s": steps * batch_size / seconds,
    }  # fmt: skip

