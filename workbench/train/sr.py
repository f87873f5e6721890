"""Super-resolution training (:func:`fit_sr`) and scoring (:func:`evaluate_sr`) on the shared loop."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data.metrics import psnr, rgb_to_y, ssim
from ..data.sr_images import image_to_tensor, sr_eval_set, sr_patches
from .loop import (
    check_lr,
    check_positive_int,
    model_device,
    prepare_training,
    resolve_device,
    run_epochs,
)

__all__ = ["SR_LOSSES", "SRHistory", "center_crops", "evaluate_sr", "fit_sr", "train_sr"]


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
    return t[0].float().clamp(0, 1).mul(255).round().permute(1, 2, 0).cpu().double().numpy()


@torch.inference_mode()
def evaluate_sr(
    model: nn.Module,
    scale: int = 2,
    *,
    eval_set=None,
    channels: str | None = None,
    device: str | torch.device | None = None,
) -> pd.DataFrame:
    """PSNR/SSIM (Y channel, border = scale) of ``model`` and of bicubic on the evaluation set.

    Args:
        model: maps an LR batch (1, C, h, w) in [0, 1] to (1, C, h*scale, w*scale).
        scale: 2, 3 or 4.
        eval_set: :class:`~workbench.data.SRImage` list (default :func:`sr_eval_set` (scale)).
        channels: ``'y'`` or ``'rgb'`` (default: inferred from the first conv).
        device: where to run (default: where the model's parameters are).

    Returns:
        One row per image: image, scale, psnr, ssim, bicubic_psnr, bicubic_ssim (dB / unitless).
        Model outputs are rounded to 8 bits before scoring; Y models are scored on their Y output.
    """
    channels = _sr_channels(model, channels)
    dev = model_device(model) if device is None else resolve_device(device)
    eval_set = eval_set if eval_set is not None else sr_eval_set(scale)
    was_training = model.training
    model.eval()
    rows = []
    for im in eval_set:
        out = model(image_to_tensor(im.lr, channels).to(dev))
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
        """PSNR (dB) after the last epoch."""
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
    device: str | torch.device = "auto",
    precision: str = "fp32",
) -> SRHistory:
    """Train a super-resolution model on :func:`~workbench.data.sr_patches`, scoring each epoch.

    Every epoch draws ``steps_per_epoch * batch_size`` fresh patch pairs (seeded by ``seed`` and
    the epoch) from the training photos, then evaluates on :func:`~workbench.data.sr_eval_set`.

    Args:
        model: LR (B, C, h, w) in [0, 1] -> HR (B, C, h*scale, w*scale).
        scale: 2, 3 or 4.
        epochs, steps_per_epoch, batch_size: training length (each >= 1).
        lr_patch: LR patch side in pixels (HR side = ``lr_patch * scale``).
        lr, optimizer, schedule, weight_decay: as in :func:`~workbench.train.fit` (AdamW beta1 = 0.9).
        loss: ``'l1'`` or ``'mse'``.
        seed: patches and torch RNG; build the model under ``torch.manual_seed`` yourself.
        threads: torch intra-op threads during the run.
        progress: ``tqdm.auto`` bar.
        channels: ``'y'`` or ``'rgb'`` (default: inferred from the first conv).
        callbacks: as in :func:`~workbench.train.fit`.
        device: ``'auto'`` (CUDA when available, else CPU) or an explicit device.
        precision: ``'fp32'`` or ``'bf16'`` autocast.

    Returns:
        :class:`SRHistory` with the bicubic baseline filled in.

    Raises:
        ValueError: a bad argument; FloatingPointError: the loss became NaN/inf.
    """
    if loss not in SR_LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(SR_LOSSES)}")
    for name, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch), ("batch_size", batch_size)):
        check_positive_int(name, v)
    check_lr(lr)
    channels = _sr_channels(model, channels)
    dev = resolve_device(device)
    total = epochs * steps_per_epoch
    opt, sched = prepare_training(
        model, dev, optimizer=optimizer, schedule=schedule, lr=lr, weight_decay=weight_decay,
        momentum=0.9, total_steps=total,
    )  # fmt: skip
    hist = SRHistory(meta=dict(
        model=getattr(model, "registry_name", type(model).__name__), scale=scale, epochs=epochs,
        steps_per_epoch=steps_per_epoch, batch_size=batch_size, lr_patch=lr_patch, lr=lr,
        optimizer=optimizer, schedule=schedule, loss=loss, seed=seed, channels=channels,
        device=str(dev), precision=precision,
    ))  # fmt: skip
    loss_sum = {}

    def batches(epoch):
        loss_sum["v"] = torch.zeros((), dtype=torch.float64, device=dev)
        lr_all, hr_all = sr_patches(
            scale, steps_per_epoch * batch_size, lr_patch=lr_patch, seed=seed * 100_003 + epoch, channels=channels
        )  # fmt: skip
        for step in range(steps_per_epoch):
            sl = slice(step * batch_size, (step + 1) * batch_size)
            yield lr_all[sl].to(dev), hr_all[sl].to(dev)

    def loss_of(x, y):
        out = model(x)
        return SR_LOSSES[loss](out.float(), y), out

    def on_batch(loss_t, out, y):
        loss_sum["v"] += loss_t

    def end_epoch(epoch, seconds):
        res = evaluate_sr(model, scale, channels=channels, device=dev)
        hist.epoch.append(epoch + 1)
        hist.lr.append(opt.param_groups[0]["lr"])
        hist.train_loss.append(float(loss_sum["v"]) / steps_per_epoch)
        hist.psnr.append(float(res.psnr.mean()))
        hist.ssim.append(float(res.ssim.mean()))
        hist.seconds.append(seconds)
        hist.patches_per_s.append(steps_per_epoch * batch_size / seconds)
        hist.bicubic_psnr = float(res.bicubic_psnr.mean())
        hist.bicubic_ssim = float(res.bicubic_ssim.mean())
        return dict(psnr=f"{hist.psnr[-1]:.2f}", bicubic=f"{hist.bicubic_psnr:.2f}")

    run_epochs(
        model, opt, sched, epochs=epochs, steps=steps_per_epoch, batches=batches, loss_of=loss_of,
        on_batch=on_batch, end_epoch=end_epoch, history=hist, device=dev, precision=precision,
        seed=seed, threads=threads, callbacks=callbacks, progress=progress, desc="fit_sr",
    )  # fmt: skip
    return hist


# --- efficient_sr notebook (issue 15, item 1): the training function of wb.bank.cached_train ---


def train_sr(
    model: nn.Module,
    *,
    scale: int = 2,
    steps: int = 300,
    evals: int = 3,
    batch_size: int = 16,
    lr_patch: int = 24,
    lr: float = 1e-3,
    loss: str = "l1",
    seed: int = 0,
    threads: int | None = None,
) -> dict:
    """Train ``model`` in place with L1 + Adam on photo patches; a JSON history for ``cached_train``.

    :func:`fit_sr` with AdamW at weight decay 0 (= Adam, as EDSR/CARN/IMDN/XLSR train), a cosine
    schedule and ``evals`` evaluation points spread over ``steps`` (the PSNR curve). Meant to be
    passed as ``functools.partial(train_sr, scale=..., steps=...)`` to
    :func:`workbench.bank.cached_train`, whose key includes this function's code.

    Args:
        model: LR (B, C, h, w) in [0, 1] -> HR (B, C, h*scale, w*scale).
        scale: 2, 3 or 4.
        steps: optimizer steps in total (>= evals).
        evals: evaluation points (each one a pass over the evaluation photos).
        batch_size: patches per step; lr_patch: LR patch side (px); lr: peak learning rate.
        loss: ``'l1'`` or ``'mse'``; seed: patch and torch RNG seed; threads: intra-op threads.

    Returns:
        ``{"step", "train_loss", "psnr", "ssim", "seconds"}`` lists (one entry per evaluation,
        PSNR/SSIM in dB / unitless on Y with a ``scale``-pixel border crop), ``bicubic_psnr``,
        ``bicubic_ssim``, ``train_seconds`` (wall time, evaluations included), ``patches_per_s``
        and ``settings``.

    Raises:
        ValueError: ``evals`` not in 1..steps, or a bad argument of :func:`fit_sr`.
    """
    check_positive_int("steps", steps)
    if not 1 <= evals <= steps:
        raise ValueError(f"evals must be in 1..steps ({steps}), got {evals}")
    per = steps // evals
    hist = fit_sr(
        model, scale, epochs=evals, steps_per_epoch=per, batch_size=batch_size, lr_patch=lr_patch, lr=lr,
        optimizer="adamw", weight_decay=0.0, loss=loss, seed=seed, threads=threads, progress=False, device="cpu",
    )  # fmt: skip
    return {
        "step": [e * per for e in hist.epoch],
        "train_loss": hist.train_loss,
        "psnr": hist.psnr,
        "ssim": hist.ssim,
        "seconds": hist.seconds,
        "bicubic_psnr": hist.bicubic_psnr,
        "bicubic_ssim": hist.bicubic_ssim,
        "train_seconds": float(sum(hist.seconds)),
        "patches_per_s": float(np.median(hist.patches_per_s)),
        "settings": {k: v for k, v in hist.meta.items() if k != "device"},
    }


def center_crops(eval_set, lr_size: int) -> tuple:
    """The evaluation images centre-cropped to ``lr_size`` x ``lr_size`` LR pixels (HR: x scale).

    For runtimes compiled for one input shape (ONNX int8): every image then has the same LR
    size. The bicubic baseline is cropped from the full image's bicubic upscale, so it is the
    same pixels as before, not a re-upscale of the crop.

    Raises:
        ValueError: an image smaller than ``lr_size``.
    """
    from ..data.sr_images import SRImage

    out = []
    for im in eval_set:
        h, w = im.lr.shape[:2]
        if min(h, w) < lr_size:
            raise ValueError(f"image {im.name} is {h}x{w} LR px, smaller than lr_size={lr_size}")
        top, left, s = (h - lr_size) // 2, (w - lr_size) // 2, im.scale
        hr_sl = (slice(top * s, (top + lr_size) * s), slice(left * s, (left + lr_size) * s))
        out.append(SRImage(
            im.name, s, im.hr[hr_sl], im.lr[top : top + lr_size, left : left + lr_size], im.bicubic[hr_sl],
        ))  # fmt: skip
    return tuple(out)
