"""Parameter-efficient fine-tuning: LoRA adapters, bias-only (BitFit) and linear probing.

**LoRA** (Hu et al., ICLR 2022) freezes a layer's weight $W$ and learns a low-rank update:
$y = W x + \\frac{\\alpha}{r} B A x$ with $A \\in \\mathbb{R}^{r \\times n}$, $B \\in \\mathbb{R}^{m \\times r}$,
$B = 0$ at the start (so training starts from the pretrained function). Only $r(m + n)$ weights
train. After training, :func:`merge_lora` folds $W' = W + \\frac{\\alpha}{r} B A$ into a plain
layer: the deployed model is exactly the original architecture, with zero added latency.
For a conv, $A$ is a conv with the layer's kernel (in -> r) and $B$ a 1x1 conv (r -> out); their
product is again a conv with the original kernel.

**Bias-only** (BitFit, Ben Zaken et al. 2022; DiffFit adds scales) trains biases and norm
affine parameters; **linear probing** trains only the classifier. Every helper returns a new
model with ``requires_grad`` set; the classifier is always trainable (a new task has a new head).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    import pandas as pd

LORA_TARGETS = ("linear", "conv1x1", "conv")


class LoRALinear(nn.Module):
    """``base(x) + scale * B(A(x))`` around a frozen ``nn.Linear``."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base, self.scale = base, alpha / rank
        self.lora_a = nn.Linear(base.in_features, rank, bias=False)
        self.lora_b = nn.Linear(rank, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_a.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_b.weight)  # the adapted model starts as the pretrained one

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * self.lora_b(self.lora_a(x))

    def delta(self) -> torch.Tensor:
        """The weight update ``scale * B @ A`` (out, in)."""
        return self.scale * self.lora_b.weight @ self.lora_a.weight


class LoRAConv2d(nn.Module):
    """``base(x) + scale * B(A(x))`` around a frozen ``nn.Conv2d`` (groups=1).

    ``A`` has the base's kernel, stride, padding and dilation (in -> r); ``B`` is 1x1 (r -> out).
    """

    def __init__(self, base: nn.Conv2d, rank: int, alpha: float) -> None:
        super().__init__()
        self.base, self.scale = base, alpha / rank
        self.lora_a = nn.Conv2d(
            base.in_channels, rank, base.kernel_size, base.stride, base.padding, base.dilation, bias=False
        )
        self.lora_b = nn.Conv2d(rank, base.out_channels, 1, bias=False)
        nn.init.kaiming_uniform_(self.lora_a.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_b.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * self.lora_b(self.lora_a(x))

    def delta(self) -> torch.Tensor:
        """The weight update (out, in, kh, kw): B (out, r) times A (r, in*kh*kw)."""
        a = self.lora_a.weight.reshape(self.lora_a.out_channels, -1)
        return (self.scale * self.lora_b.weight.flatten(1) @ a).reshape(self.base.weight.shape)


def _classifier_names(model: nn.Module) -> list[str]:
    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    if not isinstance(head, nn.Module):
        head = ([m for m in model.modules() if isinstance(m, nn.Linear)] or [None])[-1]
    return [n for n, m in model.named_modules() if head is not None and (m is head or _inside(m, head))]


def _inside(m: nn.Module, head: nn.Module) -> bool:
    return any(m is x for x in head.modules())


def _freeze_all_but(model: nn.Module, trainable: Sequence[str]) -> nn.Module:
    names = set(trainable)
    for n, p in model.named_parameters():
        p.requires_grad = n in names
    return model


def _head_params(model: nn.Module) -> list[str]:
    heads = set(_classifier_names(model))
    return [n for n, _ in model.named_parameters() if n.rpartition(".")[0] in heads]


def _wants(m: nn.Module, targets: Sequence[str]) -> bool:
    if isinstance(m, nn.Linear):
        return "linear" in targets
    if isinstance(m, nn.Conv2d) and m.groups == 1:
        return "conv" in targets or ("conv1x1" in targets and m.kernel_size == (1, 1))
    return False


def add_lora(
    model: nn.Module,
    rank: int = 4,
    alpha: float | None = None,
    *,
    targets: Sequence[str] = ("conv1x1", "linear"),
    train_head: bool = True,
) -> nn.Module:
    """A copy of ``model`` with LoRA adapters on its target layers; only adapters (and head) train.

    Args:
        model: any model (read only).
        rank: adapter rank ``r`` (>= 1).
        alpha: scale numerator (``scale = alpha / r``); default ``rank`` (scale 1).
        targets: any of ``"linear"``, ``"conv1x1"`` (1x1 convs, groups=1), ``"conv"`` (every
            dense conv). Depthwise / grouped convs are never adapted (too few weights to matter).
        train_head: the classifier stays fully trainable and is not adapted (a new task's head).

    Returns:
        the adapted model; every non-adapter parameter is frozen except the head.

    Raises:
        ValueError: ``rank < 1``, an unknown target, or no layer matching ``targets``.
    """
    if not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be an int >= 1, got {rank!r}")
    bad = [t for t in targets if t not in LORA_TARGETS]
    if bad:
        raise ValueError(f"unknown LoRA target {bad[0]!r}; valid: {', '.join(LORA_TARGETS)}")
    m = copy.deepcopy(model)
    heads = set(_classifier_names(m)) if train_head else set()
    chosen = [(n, x) for n, x in m.named_modules() if _wants(x, targets) and n not in heads]
    if not chosen:
        raise ValueError(f"no layer matches LoRA targets {list(targets)}; valid: {', '.join(LORA_TARGETS)}")
    for p in m.parameters():
        p.requires_grad = False
    for name, layer in chosen:
        wrap = (LoRALinear if isinstance(layer, nn.Linear) else LoRAConv2d)(layer, rank, alpha or rank)
        wrap.to(layer.weight.device, layer.weight.dtype)
        parent, _, child = name.rpartition(".")
        setattr(m.get_submodule(parent) if parent else m, child, wrap)
    if train_head:
        for n, p in m.named_parameters():
            if n.rpartition(".")[0] in heads:
                p.requires_grad = True
    return m


def merge_lora(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every LoRA adapter folded into its base layer (exact up to float
    rounding): the result has the original architecture and no adapter modules."""
    m = copy.deepcopy(model)
    for name, mod in list(m.named_modules()):
        if isinstance(mod, (LoRALinear, LoRAConv2d)):
            base = mod.base
            with torch.no_grad():
                base.weight += mod.delta().to(base.weight.dtype)
            parent, _, child = name.rpartition(".")
            setattr(m.get_submodule(parent) if parent else m, child, base)
    for p in m.parameters():
        p.requires_grad = True
    return m


def linear_probe(model: nn.Module) -> nn.Module:
    """A copy of ``model`` where only the classifier trains."""
    m = copy.deepcopy(model)
    return _freeze_all_but(m, _head_params(m))


def bias_only(model: nn.Module) -> nn.Module:
    """A copy where only biases, norm affine parameters (BitFit / DiffFit) and the classifier train."""
    m = copy.deepcopy(model)
    norms = (nn.BatchNorm2d, nn.BatchNorm1d, nn.LayerNorm, nn.GroupNorm)
    names = [n for n, _ in m.named_parameters() if n.endswith("bias")]
    names += [f"{mn}.weight" for mn, x in m.named_modules() if isinstance(x, norms) and x.weight is not None]
    return _freeze_all_but(m, names + _head_params(m))


def full_finetune(model: nn.Module) -> nn.Module:
    """A copy where every parameter trains (the reference the PEFT methods are compared with)."""
    m = copy.deepcopy(model)
    for p in m.parameters():
        p.requires_grad = True
    return m


def trainable_params(model: nn.Module) -> int:
    """Parameters with ``requires_grad`` (what the optimizer updates and must store state for)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def training_memory(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, optimizer_slots: int = 1) -> dict[str, int]:
    """Bytes one training step must hold beyond the weights, measured on one batch.

    ``saved_activation_bytes`` are the tensors autograd saves for the backward pass (counted by a
    ``saved_tensors_hooks`` during the forward; shared storages once); frozen layers whose input
    needs no gradient save nothing, which is why linear probing is cheap. ``grad_bytes`` and
    ``optimizer_bytes`` (``optimizer_slots`` buffers per trainable weight: 1 for SGD momentum, 2
    for Adam) scale with the trainable parameters.

    Returns:
        ``{"saved_activation_bytes", "grad_bytes", "optimizer_bytes", "total_bytes"}``.
    """
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, nn.Parameter):  # weights are held anyway, not training overhead
            st = t.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
        return t

    work = copy.deepcopy(model).train()  # a copy: the train-mode forward updates BN statistics
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        nn.functional.cross_entropy(work(x), y)
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    acts = sum(seen.values())
    return {
        "saved_activation_bytes": acts, "grad_bytes": trainable,
        "optimizer_bytes": optimizer_slots * trainable, "total_bytes": acts + (1 + optimizer_slots) * trainable,
    }  # fmt: skip


def digits_task(*, size: int = 28, test_fraction: float = 0.25, batch_size: int = 64, seed: int = 0):
    """scikit-learn's handwritten digits (1,797 images, 8x8, shipped with sklearn: no download)
    as a second task for adapting a Fashion-MNIST model: upsampled to ``size`` px, normalised
    like Fashion-MNIST, split stratified into train / test.

    Returns:
        a ``DataBundle`` (10 classes, 1 channel), ``version`` naming the split.
    """
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from ..data.fashion import FASHION_MNIST_MEAN, FASHION_MNIST_STD
    from ..data.loaders import DataBundle, TensorLoader

    d = load_digits()
    img = torch.from_numpy((d.images / 16.0).astype(np.float32))[:, None]  # (N, 1, 8, 8), ink = 1
    img = nn.functional.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)
    img = (img.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = torch.from_numpy(d.target.astype(np.int64))
    tr, te = train_test_split(np.arange(len(labels)), test_size=test_fraction, stratify=d.target, random_state=seed)
    norm = dict(mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD)
    train = TensorLoader(img[tr], labels[tr], batch_size=batch_size, shuffle=True, drop_last=True, seed=seed, **norm)
    test = TensorLoader(img[te], labels[te], batch_size=512, **norm)
    version = {"source": "sklearn.load_digits", "size": size, "test_fraction": test_fraction, "seed": seed}
    return DataBundle(train, test, 10, tuple(str(i) for i in range(10)), version)


def with_new_head(model: nn.Module, num_classes: int, *, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose classifier (``get_classifier()`` or the last ``nn.Linear``) is a
    freshly initialised ``nn.Linear`` with ``num_classes`` outputs (a new task's head)."""
    m = copy.deepcopy(model)
    names = _classifier_names(m)
    if not names:
        raise ValueError(f"{type(model).__name__} has no classifier to replace; expected get_classifier() or an nn.Linear")
    name = names[0]
    old = m.get_submodule(name)
    if not isinstance(old, nn.Linear):
        raise ValueError(f"classifier {name!r} is a {type(old).__name__}; with_new_head supports nn.Linear")
    torch.manual_seed(seed)
    parent, _, child = name.rpartition(".")
    setattr(m.get_submodule(parent) if parent else m, child, nn.Linear(old.in_features, num_classes))
    return m


def peft_table(start: nn.Module, methods: dict[str, nn.Module], tuned: dict[str, nn.Module], data) -> pd.DataFrame:
    """One row per adaptation method: trainable params (count and % of the model), training
    memory of one step at the training batch size (:func:`training_memory`), test accuracy (%).

    Args:
        start: the model every method starts from (for the total parameter count).
        methods: name -> the prepared model (frozen parts set), before training.
        tuned: name -> the trained model.
        data: the task's ``DataBundle``.
    """
    import pandas as pd

    from ..train import evaluate

    x, y = next(iter(data.train))
    total = sum(p.numel() for p in start.parameters())
    rows = []
    for name, m in methods.items():
        mem = training_memory(m, x, y)
        rows.append({
            "name": name, "trainable_params": trainable_params(m), "trainable_pct": 100 * trainable_params(m) / total,
            "saved_activation_mb": mem["saved_activation_bytes"] / 2**20, "training_memory_mb": mem["total_bytes"] / 2**20,
            "accuracy": evaluate(tuned[name], data.test).accuracy,
        })  # fmt: skip
    return pd.DataFrame(rows)


@torch.inference_mode()
def output_difference(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    """Largest absolute difference of two models' outputs on ``x`` (both in eval mode, no autograd
    graph kept: a frozen-base LoRA model would otherwise hold every activation for backward)."""
    was_a, was_b = a.training, b.training
    try:
        return float((a.eval()(x) - b.eval()(x)).abs().max())
    finally:
        a.train(was_a)
        b.train(was_b)
