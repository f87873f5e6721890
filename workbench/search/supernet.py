"""A weight-sharing supernet of the MobileNetV2-like space, trained with progressive shrinking.

Once-for-All (Cai et al., ICLR 2020) trains ONE network whose sub-networks -- any depth per
stage, any depthwise kernel and expansion per block of an :class:`~workbench.models.mb_space.MBSpace`
-- are usable without retraining; BigNAS (Yu et al., ECCV 2020) does the same with in-place
distillation from the largest child. Here:

* :class:`Supernet` holds the space's LARGEST network (max depth, largest kernel, largest
  expansion everywhere), built by the zoo's own builder, and makes each inverted residual
  elastic:

  - **kernel**: the k x k depthwise weight is the centre of the 7 x 7 one, passed through a
    learned k^2 x k^2 *kernel-transformation matrix* per layer and step (7 -> 5 -> 3, identity
    at initialisation), as OFA does (its Sec. 3.2 "elastic kernel size");
  - **expansion**: the first ``make_divisible(in * e, 8)`` hidden channels;
    :meth:`Supernet.sort_channels` reorders them by importance (L1 norm of the projection
    weight), as OFA does before training elastic width;
  - **depth**: the first ``d`` blocks of each stage (the others are skipped).

  ``set_active(arch)`` picks the child :meth:`~torch.nn.Module.forward` runs;
  ``subnet(arch)`` copies its weights into a standalone ``create_model('mbv2_space', ...)``.
  Width multipliers are NOT elastic: like OFA (one supernet per width multiplier) a supernet
  has one ``width_mult``.
* :func:`train_supernet` -- progressive shrinking: the largest network first, then elastic
  kernel, then depth, then expansion, one sampled child per step, distilled in place from the
  largest network's logits.
* :func:`subnet_accuracy` -- extract a child, re-estimate its BatchNorm statistics on a few
  training batches (the shared running statistics belong to no child; OFA does the same), and
  return its test accuracy.
* :class:`SupernetRecipe` -- the settings of one trained supernet (what the bank keys):
  ``wb.bank.cached_train(**recipe.cache_kwargs(data))`` trains it once (see
  :func:`workbench.lessons.once_for_all.supernet_entry`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..layers.conv import make_divisible
from ..layers.mobile_cnn import InvertedResidual
from ..models import create_model
from ..models.mb_space import MBArch, MBSpace, create_mbnet

__all__ = [
    "PHASES", "ElasticInvertedResidual", "Supernet", "SupernetRecipe", "budget_search", "recalibrate_bn",
    "subnet_accuracy", "train_supernet",
]  # fmt: skip

#: progressive-shrinking phases, in OFA's order
PHASES = ("largest", "kernel", "depth", "expand")


def _bn(x: torch.Tensor, bn: nn.BatchNorm2d, c: int) -> torch.Tensor:
    # the first c channels of a shared BatchNorm; the sliced running buffers are views, so a
    # training step updates the shared statistics in place (OFA's DynamicBatchNorm2d)
    training = bn.training or bn.running_mean is None
    return F.batch_norm(
        x, bn.running_mean[:c] if bn.running_mean is not None else None,
        bn.running_var[:c] if bn.running_var is not None else None,
        bn.weight[:c], bn.bias[:c], training, bn.momentum if bn.momentum is not None else 0.0, bn.eps,
    )  # fmt: skip


class ElasticInvertedResidual(nn.Module):
    """An :class:`~workbench.layers.mobile_cnn.InvertedResidual` with elastic kernel and expansion.

    It takes over the block's ``conv_pw``, ``conv_dw``, ``conv_pwl`` (same names, so state
    dicts line up with the zoo block) and adds one kernel-transformation matrix per shrinking
    step, ``ktrans_7to5`` (25 x 25) and ``ktrans_5to3`` (9 x 9) for kernels (3, 5, 7).

    Args:
        block: the largest block (largest kernel and expansion of the space).
        kernels: the kernel choices (the block's own kernel must be the largest).
        in_chs: the block's input channels (expansion ``e`` -> ``make_divisible(in_chs * e)``
            hidden channels, as the zoo block rounds).

    Attributes:
        active_kernel, active_mid: the kernel and hidden channels ``forward`` uses.
        enabled: ``False`` skips the block (elastic depth; only blocks with a residual).
    """

    def __init__(self, block: InvertedResidual, kernels: Sequence[int], in_chs: int) -> None:
        super().__init__()
        self.conv_pw, self.conv_dw, self.conv_pwl, self.se = block.conv_pw, block.conv_dw, block.conv_pwl, block.se
        self.has_skip = block.has_skip
        self.in_chs = in_chs
        self.max_kernel = self.conv_dw[0].kernel_size[0]
        self.stride = self.conv_dw[0].stride[0]
        self.kernels = tuple(sorted(kernels, reverse=True))
        if self.kernels[0] != self.max_kernel:
            raise ValueError(f"the block's kernel {self.max_kernel} is not the largest choice of {self.kernels}")
        for big, small in zip(self.kernels, self.kernels[1:], strict=False):
            self.register_parameter(f"ktrans_{big}to{small}", nn.Parameter(torch.eye(small * small)))
        self.active_kernel = self.max_kernel
        self.active_mid = self.conv_pw[0].out_channels
        self.enabled = True

    def mid_channels(self, expansion: float) -> int:
        """Hidden channels at ``expansion`` (the zoo block's rounding)."""
        return make_divisible(self.in_chs * expansion)

    def dw_weight(self, kernel: int) -> torch.Tensor:
        """The (C, 1, k, k) depthwise weight of ``kernel``: centre crops through the transform matrices."""
        w = self.conv_dw[0].weight
        if kernel not in self.kernels:
            raise ValueError(f"kernel {kernel!r} is not valid; valid: {', '.join(map(str, sorted(self.kernels)))}")
        for big, small in zip(self.kernels, self.kernels[1:], strict=False):
            if big == kernel:
                break
            lo = (big - small) // 2
            w = w[:, :, lo : lo + small, lo : lo + small]
            mat = getattr(self, f"ktrans_{big}to{small}")
            # OFA: one small^2 x small^2 matrix shared by all channels of the layer
            w = F.linear(w.reshape(-1, small * small), mat).reshape(w.shape[0], 1, small, small)
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        mid, k = self.active_mid, self.active_kernel
        pw, dw, pwl = self.conv_pw, self.conv_dw, self.conv_pwl
        y = pw[2](_bn(F.conv2d(x, pw[0].weight[:mid]), pw[1], mid))
        y = F.conv2d(y, self.dw_weight(k)[:mid], None, self.stride, ((self.stride - 1) + (k - 1)) // 2, 1, mid)
        y = dw[2](_bn(y, dw[1], mid))
        y = self.se(y)
        y = pwl(y) if mid == pwl[0].in_channels else pwl[2](pwl[1](F.conv2d(y, pwl[0].weight[:, :mid])))
        return y + x if self.has_skip else y

    @torch.no_grad()
    def sort_channels(self) -> torch.Tensor:
        """Reorder hidden channels by importance, most important first; returns the permutation.

        Importance is the L1 norm of each hidden channel's projection weights (OFA's
        ``re_organize_middle_weights``). The full block computes the same function afterwards.
        """
        importance = self.conv_pwl[0].weight.abs().sum(dim=(0, 2, 3))
        order = torch.argsort(importance, descending=True, stable=True)
        for conv in (self.conv_pw[0], self.conv_dw[0]):
            conv.weight.copy_(conv.weight[order])
        for bn in (self.conv_pw[1], self.conv_dw[1]):
            for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
                t.copy_(t[order])
        self.conv_pwl[0].weight.copy_(self.conv_pwl[0].weight[:, order])
        return order


class Supernet(nn.Module):
    """The largest network of an :class:`MBSpace` with elastic kernel, expansion and depth.

    Args:
        space: the choices (default :class:`MBSpace()`, the MobileNetV2-like space).
        width_mult: channel multiplier of the whole supernet (not elastic).
        small_input: stride-1 stem and first downsampling, for 28-32 px inputs.
        num_classes: classifier outputs.
        in_chans: input channels.

    ``forward`` runs the active child (initially the largest); ``state_dict`` holds the largest
    network's tensors under ``net.`` plus the kernel-transformation matrices.

    Raises:
        ValueError: ``space`` is not an :class:`MBSpace`.
    """

    def __init__(
        self,
        space: MBSpace | None = None,
        *,
        width_mult: float = 1.0,
        small_input: bool = True,
        num_classes: int = 10,
        in_chans: int = 1,
    ) -> None:
        super().__init__()
        space = MBSpace() if space is None else space
        if not isinstance(space, MBSpace):
            raise ValueError(f"space must be an MBSpace, got {type(space).__name__}")
        self.space = space
        self.model_kwargs = dict(width_mult=width_mult, small_input=small_input, num_classes=num_classes, in_chans=in_chans)
        self.net = create_mbnet(space.largest(), **self.model_kwargs)
        # stages[0] is the fixed expansion-1 block, stages[1:] the searched ones
        for stage in self.net.stages[1:]:
            for j, block in enumerate(stage):
                stage[j] = ElasticInvertedResidual(block, space.kernels, block.conv_pw[0].in_channels)
        self.active = space.largest()

    def blocks(self) -> list[list[ElasticInvertedResidual]]:
        """The elastic blocks, per searched stage."""
        return [list(stage) for stage in self.net.stages[1:]]

    def set_active(self, arch: MBArch) -> Supernet:
        """Make ``forward`` run ``arch`` (a member of the space, or its key); returns ``self``.

        Raises:
            ValueError: ``arch`` is not a member of this supernet's space.
        """
        arch = MBArch.from_key(arch) if isinstance(arch, str) else arch
        if not isinstance(arch, MBArch) or not self.space.contains(arch):
            key = arch.key() if isinstance(arch, MBArch) else repr(arch)
            raise ValueError(f"arch {key} is not a member of the supernet's space {self.space}")
        for st, blocks in zip(arch.stages, self.blocks(), strict=True):
            for j, b in enumerate(blocks):
                b.enabled = j < st.depth
                if b.enabled:
                    b.active_kernel = st.kernels[j]
                    b.active_mid = b.mid_channels(st.expansions[j])
        self.active = arch
        return self

    def sample_active(self, rng: np.random.Generator | int, space: MBSpace | None = None) -> MBArch:
        """Activate a uniformly sampled child (of ``space``, a sub-space; default the whole space)."""
        arch = MBArch.sample(rng, space or self.space)
        self.set_active(arch)
        return arch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def sort_channels(self) -> None:
        """Sort every block's hidden channels by importance (before training elastic expansion)."""
        for blocks in self.blocks():
            for b in blocks:
                b.sort_channels()

    @torch.no_grad()
    def subnet(self, arch: MBArch | str) -> nn.Module:
        """A standalone ``create_model('mbv2_space', arch=arch.key(), ...)`` holding ``arch``'s shared weights.

        The copy owns its tensors (training it leaves the supernet unchanged) and, in eval mode,
        computes what the supernet computes with ``arch`` active.

        Raises:
            ValueError: ``arch`` is not a member of the space.
        """
        arch = MBArch.from_key(arch) if isinstance(arch, str) else arch
        if not isinstance(arch, MBArch) or not self.space.contains(arch):
            raise ValueError(f"arch {getattr(arch, 'key', lambda: arch)()} is not a member of the supernet's space")
        model = create_model("mbv2_space", arch=arch.key(), **self.model_kwargs)
        src = self.net
        for name in ("stem", "conv_head", "classifier"):
            getattr(model, name).load_state_dict(_cloned(getattr(src, name).state_dict()))
        model.stages[0].load_state_dict(_cloned(src.stages[0].state_dict()))
        for st, blocks, dst_stage in zip(arch.stages, self.blocks(), model.stages[1:], strict=True):
            for j in range(st.depth):
                b, dst = blocks[j], dst_stage[j]
                mid = b.mid_channels(st.expansions[j])
                _copy_conv_bn(dst.conv_pw, b.conv_pw, b.conv_pw[0].weight[:mid], mid)
                _copy_conv_bn(dst.conv_dw, b.conv_dw, b.dw_weight(st.kernels[j])[:mid], mid)
                _copy_conv_bn(dst.conv_pwl, b.conv_pwl, b.conv_pwl[0].weight[:, :mid], None)
                dst.se.load_state_dict(_cloned(b.se.state_dict()))
        return model.train(self.training)


def _cloned(state: dict) -> dict:
    return {k: v.detach().clone() for k, v in state.items()}


def _copy_conv_bn(dst: nn.Module, src: nn.Module, weight: torch.Tensor, c: int | None) -> None:
    if dst[0].weight.shape != weight.shape:
        raise RuntimeError(f"shape mismatch copying a supernet weight: {tuple(weight.shape)} -> {tuple(dst[0].weight.shape)}")
    dst[0].weight.copy_(weight)
    for name in ("weight", "bias", "running_mean", "running_var"):
        t = getattr(src[1], name)
        getattr(dst[1], name).copy_(t if c is None else t[:c])
    dst[1].num_batches_tracked.copy_(src[1].num_batches_tracked)


def _phase_space(space: MBSpace, phase: str) -> MBSpace:
    """The children sampled in ``phase`` (progressive shrinking: each phase frees one more dimension)."""
    from dataclasses import replace

    kmax, emax = (max(space.kernels),), (max(space.expansions),)
    dmax = tuple((max(d),) for d in space.depths)
    if phase == "largest":
        return replace(space, kernels=kmax, expansions=emax, depths=dmax)
    if phase == "kernel":
        return replace(space, expansions=emax, depths=dmax)
    if phase == "depth":
        return replace(space, expansions=emax)
    return space


def _batches(loader, seed: int):
    epoch = 0
    while True:
        it = loader.epoch(epoch, seed=seed) if hasattr(loader, "epoch") else iter(loader)
        yield from it
        epoch += 1


def train_supernet(
    sn: Supernet,
    data,
    *,
    phases: Sequence[str] = PHASES,
    steps_per_phase: int | Sequence[int] = 100,
    seed: int = 0,
    lr: float = 0.05,
    kd: bool = True,
    kd_temperature: float = 1.0,
    weight_decay: float = 3e-5,
    threads: int | None = None,
) -> dict:
    """Train ``sn`` in place with progressive shrinking; returns a JSON-able history.

    Each phase restarts a cosine schedule (SGD, Nesterov momentum 0.9) and, per step, trains one
    child sampled from the phase's sub-space: ``'largest'`` only the largest network,
    ``'kernel'`` any kernels (max depth and expansion), ``'depth'`` any kernels and depths,
    ``'expand'`` everything. With ``kd`` the child also matches the softened logits of the
    largest network computed on the same batch without gradient (in-place distillation,
    BigNAS; OFA distils from the largest network trained in the first phase): loss =
    CE + KL(teacher || child) * T^2. Hidden channels are sorted by importance when the
    ``'expand'`` phase starts (OFA).

    Args:
        sn: the supernet (modified in place; left in eval mode with the largest child active).
        data: a :class:`~workbench.data.DataBundle` (its ``train`` loader is used) or a loader.
        phases: names from :data:`PHASES`, in order (a subset keeps OFA's order).
        steps_per_phase: optimizer steps per phase (one int for all, or one per phase).
        seed: seed of batch order, child sampling and dropout.
        lr: peak learning rate of each phase.
        kd: distil children from the largest network.
        kd_temperature: softmax temperature of the distillation.
        weight_decay: SGD weight decay (not on BatchNorm or biases).
        threads: ``torch.set_num_threads`` during training (``None`` keeps the current).

    Returns:
        ``{"phases": [{"phase", "steps", "loss", "acc", "seconds", "images_per_s"}, ...],
        "seconds", "images", "kd", "lr", "seed"}``; ``loss``/``acc`` are per-phase means over
        the last half of the phase's steps (training batches, the sampled children).

    Raises:
        ValueError: an unknown phase, phases out of OFA's order, or a non-positive step count / lr.
    """
    phases = tuple(phases)
    bad = [p for p in phases if p not in PHASES]
    if bad or not phases:
        raise ValueError(f"unknown phase(s) {bad or phases!r}; valid: {', '.join(PHASES)}")
    if list(phases) != sorted(phases, key=PHASES.index) or len(set(phases)) != len(phases):
        raise ValueError(f"phases {phases!r} must follow progressive shrinking's order {PHASES}")
    steps = [steps_per_phase] * len(phases) if isinstance(steps_per_phase, int) else list(steps_per_phase)
    if len(steps) != len(phases) or any(not isinstance(s, int) or s < 1 for s in steps):
        raise ValueError(f"steps_per_phase must be an int >= 1 or one per phase, got {steps_per_phase!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    loader = getattr(data, "train", data)
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    batches = _batches(loader, seed)
    decay = [p for n, p in sn.named_parameters() if p.ndim > 1 and "ktrans" not in n]
    rest = [p for n, p in sn.named_parameters() if not (p.ndim > 1 and "ktrans" not in n)]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
    largest = sn.space.largest()
    history = {"phases": [], "kd": kd, "lr": lr, "seed": seed, "images": 0}
    t_all = time.perf_counter()
    try:
        sn.train()
        for phase, n_steps in zip(phases, steps, strict=True):
            if phase == "expand":
                sn.sort_channels()
            sub = _phase_space(sn.space, phase)
            opt = torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s, n=n_steps: 0.5 * (1 + math.cos(math.pi * s / n)))
            losses, accs, images = [], [], 0
            t0 = time.perf_counter()
            for _ in range(n_steps):
                x, y = next(batches)
                soft = None
                if kd and phase != "largest":
                    with torch.no_grad():
                        sn.set_active(largest)
                        soft = F.softmax(sn(x) / kd_temperature, dim=1)
                arch = sn.sample_active(rng, sub)
                logits = sn(x)
                loss = F.cross_entropy(logits, y)
                if soft is not None:
                    logp = F.log_softmax(logits / kd_temperature, dim=1)
                    loss = loss + F.kl_div(logp, soft, reduction="batchmean") * kd_temperature**2
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                if not math.isfinite(loss.item()):
                    raise FloatingPointError(f"supernet loss became {loss.item()} in phase {phase!r} ({arch.key()})")
                losses.append(loss.item())
                accs.append((logits.argmax(1) == y).float().mean().item())
                images += len(y)
            secs = time.perf_counter() - t0
            half = max(1, n_steps // 2)
            history["phases"].append({
                "phase": phase, "steps": n_steps, "loss": float(np.mean(losses[-half:])),
                "acc": float(np.mean(accs[-half:])), "seconds": secs, "images_per_s": images / max(secs, 1e-9),
            })  # fmt: skip
            history["images"] += images
    finally:
        torch.set_num_threads(old_threads)
        sn.set_active(largest)
        sn.eval()
    history["seconds"] = time.perf_counter() - t_all
    return history


@torch.no_grad()
def recalibrate_bn(model: nn.Module, loader, batches: int = 8, seed: int = 0) -> nn.Module:
    """Re-estimate every BatchNorm's running statistics on ``batches`` training batches (in place).

    The statistics become the plain average over those batches (momentum ``None``), as OFA's
    ``set_running_statistics`` does for each extracted child.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.eval()
    for m in bns:
        m.train()
    it = loader.epoch(0, seed=seed) if hasattr(loader, "epoch") else iter(loader)
    for i, (x, _) in enumerate(it):
        if i >= batches:
            break
        model(x)
    for m, (mom, _) in zip(bns, saved, strict=True):
        m.momentum = mom
    return model.eval()


@torch.no_grad()
def subnet_accuracy(sn: Supernet, arch: MBArch | str, data, *, bn_batches: int = 8, seed: int = 0) -> float:
    """Test accuracy of the child ``arch`` of ``sn``, without retraining (BN statistics re-estimated).

    Args:
        sn: a (trained) supernet; it is not modified.
        arch: a member of its space (or the key).
        data: a :class:`~workbench.data.DataBundle` with ``train`` (for BN) and ``test``.
        bn_batches: training batches used to re-estimate BatchNorm statistics (0 keeps the
            supernet's shared statistics).
        seed: which training batches.

    Returns:
        Top-1 accuracy on ``data.test`` in [0, 1].

    Raises:
        ValueError: ``bn_batches`` negative or ``data`` without a test loader.
    """
    if not isinstance(bn_batches, int) or bn_batches < 0:
        raise ValueError(f"bn_batches must be an int >= 0, got {bn_batches!r}")
    if getattr(data, "test", None) is None:
        raise ValueError("data must be a DataBundle with a test loader")
    model = sn.subnet(arch)
    if bn_batches:
        recalibrate_bn(model, data.train, bn_batches, seed)
    model.eval()
    correct = total = 0
    for x, y in data.test:
        correct += (model(x).argmax(1) == y).sum().item()
        total += len(y)
    return correct / max(total, 1)


@dataclass(frozen=True)
class SupernetRecipe:
    """Everything one trained supernet depends on besides the code (the bank key's settings).

    Attributes:
        space: the space: an :class:`MBSpace` (stored as its field values, JSON-friendly).
        width_mult: the supernet's channel multiplier.
        subset: training images (stratified Fashion-MNIST subset); ``None`` = all 60k.
        batch_size: images per step.
        phases, steps_per_phase: progressive shrinking (see :func:`train_supernet`).
        lr, kd: as :func:`train_supernet`.
        small_input: stride-1 stem and first downsampling (``False``: stride-2 stem, the first
            searched stage at 14 px on 28 px images -- 4x cheaper to train).
        test_subset: test images of :meth:`data` (stratified; for :func:`subnet_accuracy`).
        seed: initialisation, batch order and child sampling.
        threads: training threads (not keyed: it changes the speed, not the weights).
    """

    space: dict = field(default_factory=lambda: asdict(MBSpace()))
    width_mult: float = 1.0
    subset: int | None = None
    batch_size: int = 128
    phases: tuple[str, ...] = PHASES
    steps_per_phase: tuple[int, ...] = (100, 100, 100, 100)
    lr: float = 0.05
    kd: bool = True
    small_input: bool = True
    test_subset: int | None = 5000
    seed: int = 0
    threads: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.space, MBSpace):
            object.__setattr__(self, "space", asdict(self.space))
        object.__setattr__(self, "phases", tuple(self.phases))
        object.__setattr__(self, "steps_per_phase", tuple(self.steps_per_phase))
        self.mb_space()  # a bad space fails here, not inside the bank

    def mb_space(self) -> MBSpace:
        """The :class:`MBSpace` this recipe trains."""
        return MBSpace(**self.space)

    def build(self) -> Supernet:
        """The untrained supernet."""
        return Supernet(self.mb_space(), width_mult=self.width_mult, small_input=self.small_input, num_classes=10, in_chans=1)

    def data(self):
        """The Fashion-MNIST bundle it trains on (28 px, this subset and batch size)."""
        from ..data import fashion_mnist

        return fashion_mnist(subset=self.subset, test_subset=self.test_subset, batch_size=self.batch_size, seed=self.seed)

    def train(self, sn: Supernet) -> dict:
        """Train ``sn`` with this recipe (the ``train=`` of ``wb.bank.cached_train``)."""
        return train_supernet(
            sn, self.data(), phases=self.phases, steps_per_phase=self.steps_per_phase, seed=self.seed,
            lr=self.lr, kd=self.kd, threads=self.threads,
        )  # fmt: skip

    def settings(self) -> dict:
        """The JSON settings to key the bank entry on (the recipe and the data version)."""
        keyed = {k: v for k, v in asdict(self).items() if k != "threads"}
        return {**keyed, "phases": list(self.phases), "steps_per_phase": list(self.steps_per_phase),
                "data": self.data().version}  # fmt: skip

    def cache_kwargs(self, name: str = "ofa_supernet") -> dict:
        """The arguments of ``wb.bank.cached_train(**recipe.cache_kwargs())`` that train this supernet once."""
        return {"name": name, "build": self.build, "train": self.train, "settings": self.settings(), "seed": self.seed}


def budget_search(
    sn: Supernet,
    data,
    latency: Callable[[MBArch], float],
    budgets: Sequence[float],
    *,
    candidates: int = 300,
    evaluate: int = 4,
    bn_batches: int = 4,
    seed: int = 0,
) -> pd.DataFrame:
    """A small random search per latency budget: the best child by :func:`subnet_accuracy`.

    ``candidates`` random children (plus the smallest and the largest) get a latency from
    ``latency(arch)`` (a predictor: thousands per second); per budget the ``evaluate``
    fastest-growing ones -- the children with the HIGHEST latency under the budget, since more
    latency buys more capacity -- are scored with :func:`subnet_accuracy` and the best kept.

    Args:
        sn: the trained supernet.
        data: a :class:`~workbench.data.DataBundle` (``train`` for BN, ``test`` for accuracy).
        latency: ``latency(arch) -> ms`` (predicted or measured; any unit, compared with ``budgets``).
        budgets: latency limits in the unit of ``latency``.
        candidates: random children drawn (duplicates dropped).
        evaluate: children scored per budget.
        bn_batches: BatchNorm recalibration batches per child.
        seed: the sampling seed.

    Returns:
        One row per scored child: ``budget, arch, latency, accuracy`` (in %), ``chosen`` (the
        best of its budget); a budget below the smallest child's latency gets no row.

    Raises:
        ValueError: ``candidates`` or ``evaluate`` < 1, or no budget given.
    """
    if not isinstance(candidates, int) or candidates < 1 or not isinstance(evaluate, int) or evaluate < 1:
        raise ValueError(f"candidates and evaluate must be ints >= 1, got {candidates!r}, {evaluate!r}")
    if not len(budgets):
        raise ValueError("budgets must hold at least one latency limit")
    rng = np.random.default_rng(seed)
    pool = {a.key(): a for a in (sn.space.smallest(), sn.space.largest())}
    for _ in range(candidates):
        a = MBArch.sample(rng, sn.space)
        pool.setdefault(a.key(), a)
    lat = {k: float(latency(a)) for k, a in pool.items()}
    rows, scored = [], {}
    for b in budgets:
        under = sorted((k for k in pool if lat[k] <= b), key=lambda k: -lat[k])[:evaluate]
        best = None
        for k in under:
            if k not in scored:
                scored[k] = 100 * subnet_accuracy(sn, k, data, bn_batches=bn_batches, seed=seed)
            rows.append({"budget": float(b), "arch": k, "latency": lat[k], "accuracy": scored[k], "chosen": False})
            if best is None or scored[k] > rows[best]["accuracy"]:
                best = len(rows) - 1
        if best is not None:
            rows[best]["chosen"] = True
    return pd.DataFrame(rows, columns=["budget", "arch", "latency", "accuracy", "chosen"])
