"""Pruning: unstructured magnitude masks, N:M masks, and structured channel pruning.

Three families, one entry point, :func:`prune`:

* **Unstructured** (``method="magnitude"``): zero the smallest-|w| weights of every conv /
  linear layer, ``scope="layer"`` (the same fraction in every layer) or ``scope="global"`` (one
  threshold over all layers, so redundant layers lose more). The tensors stay dense: a dense
  kernel multiplies the zeros like any other number, so latency does not change.
* **N:M** (``method="nm"``): in every group of ``m`` consecutive input weights keep the ``n``
  largest (2:4 = 50 %). Only sparse tensor cores (NVIDIA Ampere+) execute that pattern faster;
  no CPU kernel in PyTorch does, so it is an accuracy experiment here.
* **Structured** (``method="l1" | "bn_scale" | "taylor" | "random"``): remove whole output
  channels and everything that depends on them (the next layer's input channels, BatchNorm,
  depthwise convs, SE gates, residual additions), so the model is physically smaller. The
  dependency graph is Torch-Pruning's DepGraph (Fang et al., CVPR 2023); channel importance is
  the filter L1 norm (Li et al., 2017), the BatchNorm scale |gamma| (Network Slimming, Liu et al.
  2017), a first-order Taylor estimate |w * dL/dw| (Molchanov et al., 2019), or random (the
  PreCropping baseline). ``amount`` is the fraction of channels removed in every prunable layer.

The input model is never modified unless ``inplace=True``. Fine-tuning a mask-pruned model must
keep the zeros: pass :class:`KeepSparsity` as a ``wb.fit`` callback.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    import pandas as pd

UNSTRUCTURED = ("magnitude", "nm")
STRUCTURED = ("l1", "bn_scale", "taylor", "random")
METHODS = UNSTRUCTURED + STRUCTURED
SCOPES = ("layer", "global")
#: Modules whose own parameters Torch-Pruning's dependency graph understands. A model holding
#: parameters in any other module (e.g. attention biases) is refused for structured pruning:
#: the engine cannot know how those parameters depend on channels (EfficientViT's
#: ``CascadedGroupAttention`` made Torch-Pruning 1.6 hang instead of failing).
STRUCTURED_PARAM_MODULES = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d, nn.LayerNorm, nn.GroupNorm, nn.PReLU)


def _weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _check_amount(amount: float) -> None:
    if not isinstance(amount, (int, float)) or not 0 <= amount < 1:
        raise ValueError(f"amount must be a fraction in [0, 1), got {amount!r}")


def sparsity(model: nn.Module) -> dict[str, float]:
    """Fraction of exactly-zero weights per conv / linear layer, and ``"total"`` over all of them."""
    out, zeros, total = {}, 0, 0
    for name, m in _weighted_layers(model):
        z = int((m.weight == 0).sum())
        out[name] = z / m.weight.numel()
        zeros, total = zeros + z, total + m.weight.numel()
    out["total"] = zeros / total if total else 0.0
    return out


def magnitude_masks(model: nn.Module, amount: float, *, scope: str = "global", skip: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """Boolean keep-masks zeroing the ``amount`` smallest-|w| weights of conv / linear layers.

    Args:
        model: the model (read only).
        amount: fraction of weights to zero, in [0, 1).
        scope: ``"layer"`` (same fraction per layer) or ``"global"`` (one threshold overall).
        skip: layer names left dense (e.g. the classifier).

    Returns:
        layer name -> mask of the weight's shape (True = kept).
    """
    _check_amount(amount)
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; valid: {', '.join(SCOPES)}")
    layers = [(n, m) for n, m in _weighted_layers(model) if n not in skip]
    if not layers:
        raise ValueError("no conv or linear layer to prune; magnitude pruning supports nn.Conv2d and nn.Linear")
    if scope == "global":
        allw = torch.cat([m.weight.detach().abs().flatten() for _, m in layers])
        k = int(amount * allw.numel())
        thr = allw.kthvalue(k).values if k > 0 else allw.new_tensor(-1.0)
        return {n: m.weight.detach().abs() > thr for n, m in layers}
    masks = {}
    for n, m in layers:
        w = m.weight.detach().abs().flatten()
        k = int(amount * w.numel())
        thr = w.kthvalue(k).values if k > 0 else w.new_tensor(-1.0)
        masks[n] = (m.weight.detach().abs() > thr)
    return masks


def nm_masks(model: nn.Module, n: int = 2, m: int = 4, *, skip: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """N:M keep-masks: in each group of ``m`` consecutive input weights keep the ``n`` largest.

    Groups run along the input dimension (per output channel, over ``C_in * k * k`` flattened),
    the layout sparse tensor cores expect. Layers whose input size is not a multiple of ``m``
    (e.g. a depthwise 3x3 conv has 9 weights per filter) are left dense and not in the result.

    Raises:
        ValueError: ``n`` not in 1..m-1.
    """
    if not 0 < n < m:
        raise ValueError(f"N:M needs 0 < n < m, got {n}:{m}")
    masks = {}
    for name, layer in _weighted_layers(model):
        if name in skip:
            continue
        w = layer.weight.detach().reshape(layer.weight.shape[0], -1)
        if w.shape[1] % m:
            continue
        groups = w.abs().reshape(w.shape[0], -1, m)
        keep = torch.zeros_like(groups, dtype=torch.bool)
        keep.scatter_(-1, groups.topk(n, dim=-1).indices, True)
        masks[name] = keep.reshape(layer.weight.shape)
    return masks


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """Zero the masked-out weights of ``model`` in place; returns it."""
    mods = dict(model.named_modules())
    with torch.no_grad():
        for name, mask in masks.items():
            mods[name].weight.mul_(mask.to(mods[name].weight.dtype))
    return model


class KeepSparsity:
    """``wb.fit`` callback: re-zero the pruned weights after every optimizer step.

    Without it, fine-tuning a mask-pruned model grows the zeros back (their gradients are not
    zero). The zero pattern is read from the model when the callback is made.
    """

    def __init__(self, model: nn.Module) -> None:
        self.masks = {n: m.weight.detach() != 0 for n, m in _weighted_layers(model)}

    def on_step(self, state) -> None:
        apply_masks(state.model, self.masks)


def _default_ignored(model: nn.Module) -> list[nn.Module]:
    """The classifier: its output width is the number of classes, never pruned."""
    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    if isinstance(head, nn.Module) and not isinstance(head, nn.Identity):
        return [head]
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return last[-1:]


def check_structured(model: nn.Module) -> None:
    """``ValueError`` naming the first layer structured pruning cannot handle, if any."""
    for name, m in model.named_modules():
        own = list(m.parameters(recurse=False))
        if own and not isinstance(m, STRUCTURED_PARAM_MODULES):
            raise ValueError(
                f"structured pruning cannot handle layer {name!r} ({type(m).__name__}: it holds its own parameters); "
                f"supported layers with parameters: {', '.join(t.__name__ for t in STRUCTURED_PARAM_MODULES)}"
            )
        if isinstance(m, nn.Conv2d) and m.groups not in (1, m.in_channels):
            raise ValueError(
                f"structured pruning cannot handle layer {name!r}: grouped conv with groups={m.groups}; "
                "supported: dense (groups=1) and depthwise (groups=in_channels) convs"
            )


def _importance(method: str):
    import torch_pruning as tp

    return {
        "l1": lambda: tp.importance.MagnitudeImportance(p=1),
        "bn_scale": lambda: tp.importance.BNScaleImportance(),
        "taylor": lambda: tp.importance.TaylorImportance(),
        "random": lambda: tp.importance.RandomImportance(),
    }[method]()


def prune(
    model: nn.Module,
    amount: float,
    method: str = "l1",
    *,
    example_inputs: torch.Tensor | None = None,
    scope: str = "layer",
    n_m: tuple[int, int] = (2, 4),
    calibration: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ignored: Sequence[str] | None = None,
    round_to: int | None = None,
    seed: int = 0,
    inplace: bool = False,
) -> nn.Module:
    """A pruned copy of ``model``.

    Args:
        model: any zoo classifier (conv / linear layers; structured pruning also needs every
            parameter-holding module to be a conv, linear or norm layer).
        amount: fraction in [0, 1): of weights (``magnitude``) or of output channels in every
            prunable layer (structured methods); ignored by ``nm`` (its sparsity is ``1 - n/m``).
        method: one of :data:`METHODS`.
        example_inputs: an input batch, needed by structured methods to trace the graph
            (default: ``model.default_input_size`` at batch 1).
        scope: ``"layer"`` or ``"global"``; for ``magnitude``, one threshold per layer or over all;
            for structured methods, the same fraction per layer or ranked across layers.
        n_m: ``(n, m)`` for ``method="nm"``.
        calibration: ``(x, y)`` batches for ``taylor`` (gradients of the cross-entropy).
        ignored: module names never pruned (default: the classifier).
        round_to: structured methods keep channel counts a multiple of this (SIMD-friendly).
        seed: RNG seed for ``random``.
        inplace: modify ``model`` itself instead of a deep copy.

    Returns:
        The pruned model in eval mode. Masked models keep dense tensors with zeros (see
        :func:`sparsity`); structured ones have fewer channels.

    Raises:
        ValueError: ``amount`` outside [0, 1), an unknown method or scope, ``taylor`` without
            ``calibration``, or a layer the method cannot handle (named).
    """
    _check_amount(amount)
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; valid: {', '.join(METHODS)}")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; valid: {', '.join(SCOPES)}")
    m = model if inplace else copy.deepcopy(model)
    m.eval()
    mods = dict(m.named_modules())
    ignored_names = list(ignored) if ignored is not None else [n for n, x in mods.items() if any(x is h for h in _default_ignored(m))]
    unknown = [n for n in ignored_names if n not in mods]
    if unknown:
        raise ValueError(f"ignored layer {unknown[0]!r} is not in the model; e.g. {', '.join(list(mods)[1:4])}")
    if method == "magnitude":
        return apply_masks(m, magnitude_masks(m, amount, scope=scope, skip=ignored_names))
    if method == "nm":
        return apply_masks(m, nm_masks(m, *n_m, skip=ignored_names))
    if method == "taylor" and calibration is None:
        raise ValueError("method 'taylor' needs calibration=[(x, y), ...] batches for its gradients")
    check_structured(m)
    if amount == 0:
        return m
    import torch_pruning as tp

    if example_inputs is None:
        from ..measure._inputs import make_input

        example_inputs = make_input(m, None, 1)
    torch.manual_seed(seed)
    pruner = tp.pruner.MetaPruner(
        m, example_inputs, importance=_importance(method), pruning_ratio=amount,
        global_pruning=scope == "global", ignored_layers=[mods[n] for n in ignored_names], round_to=round_to,
    )  # fmt: skip
    if method == "taylor":
        m.zero_grad()
        for x, y in calibration:
            nn.functional.cross_entropy(m(x), y).backward()
    pruner.step()
    m.zero_grad(set_to_none=True)
    return m.eval()


def channel_counts(model: nn.Module) -> dict[str, int]:
    """Output channels of every conv layer (to compare a pruned model with its original)."""
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def crosscheck(model: nn.Module, example_inputs: torch.Tensor) -> dict[str, float]:
    """Params and MACs of ``model`` by Torch-Pruning's counter and by ours (``wb.count_macs``).

    Torch-Pruning's ``count_ops_and_params`` also counts BatchNorm and some element-wise ops as
    "ops", so its number is expected ~10 % above our ``macs`` (conv / linear / matmul
    only); the parameter counts must agree exactly.

    Returns:
        ``{"tp_params", "params", "tp_ops", "macs", "macs_all_ops"}`` for batch 1.
    """
    import torch_pruning as tp

    from ..measure import count_macs

    x = example_inputs[:1]
    was = model.training
    model.eval()
    ops, params = tp.utils.count_ops_and_params(model, x)
    model.train(was)
    mc = count_macs(model, x)
    return {
        "tp_params": int(params), "params": sum(p.numel() for p in model.parameters()),
        "tp_ops": float(ops), "macs": mc.macs, "macs_all_ops": mc.macs_all_ops,
    }  # fmt: skip


def finetune(
    model: nn.Module,
    data,
    *,
    steps: int,
    lr: float = 0.01,
    keep_sparsity: bool = True,
    seed: int = 0,
    threads: int | None = None,
    precision: str = "bf16",
    channels_last: bool = True,
) -> nn.Module:
    """A fine-tuned copy of ``model``: ``steps`` SGD steps (cosine schedule), a short recovery run.

    Args:
        model: a (pruned, factorized, ...) model; not modified.
        data: a ``DataBundle`` or training loader; ``steps`` batches are drawn from its training
            loader, cycling through epochs when it has fewer.
        steps: optimizer steps (>= 1).
        lr: starting learning rate (a tenth of a from-scratch peak: the weights are trained).
        keep_sparsity: re-zero pruned weights after every step (:class:`KeepSparsity`).
        seed, threads, precision, channels_last: as ``wb.fit`` (defaults: the bank recipes' fast
            bf16 + NHWC training on this CPU).

    Returns:
        the fine-tuned copy, in eval mode.
    """
    from ..train import fit

    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    m = copy.deepcopy(model)
    loader = getattr(data, "train", data)
    per_epoch = len(loader)
    epochs = -(-steps // per_epoch)
    callbacks = [KeepSparsity(m)] if keep_sparsity else []
    fit(
        m, loader, epochs=epochs, max_batches=min(per_epoch, -(-steps // epochs)), lr=lr, schedule="cosine",
        seed=seed, threads=threads, progress=False, callbacks=callbacks, precision=precision,
        channels_last=channels_last,
    )  # fmt: skip
    return m.eval()


def pruning_variants(
    model: nn.Module,
    *,
    unstructured: Sequence[float] = (),
    nm: tuple[int, int] | None = (2, 4),
    channels: Sequence[float] = (),
    methods: Sequence[str] = ("l1",),
    example_inputs: torch.Tensor | None = None,
    calibration=None,
    seed: int = 0,
) -> dict[str, nn.Module]:
    """``{name: pruned copy}``: ``"dense"`` first, then global magnitude masks (``"magnitude 70%"``),
    N:M masks (``"2:4"``), and structured channel pruning per method (``"l1 50%"``)."""
    out = {"dense": copy.deepcopy(model).eval()}
    for a in unstructured:
        out[f"magnitude {a:.0%}"] = prune(model, a, "magnitude", scope="global")
    if nm:
        out[f"{nm[0]}:{nm[1]}"] = prune(model, 0.0, "nm", n_m=nm)
    for meth in methods:
        for a in channels:
            out[f"{meth} {a:.0%}"] = prune(
                model, a, meth, example_inputs=example_inputs, calibration=calibration, seed=seed
            )
    return out


def pruning_table(
    pruned: dict[str, nn.Module],
    tuned: dict[str, nn.Module] | None,
    test,
    input_size: tuple[int, int, int],
    *,
    kind: str | None = None,
) -> pd.DataFrame:
    """One row per variant: kind, amount, params, nonzero params, MACs, sparsity, accuracy before
    (``accuracy_pruned``) and after the fine-tune (``accuracy``, NaN without ``tuned``), in %.

    ``macs`` counts dense kernels (zeros multiplied too); ``nonzero_macs`` is what a perfect
    sparse kernel would do (MACs scaled by each layer's density). ``kind`` names every non-dense
    row's kind (default: guessed from :func:`pruning_variants`' names).
    """
    import pandas as pd

    from ..measure import count_macs
    from ..train import evaluate

    rows = []
    for name, m in pruned.items():
        mc = count_macs(m, input_size)
        dens = {n: 1 - s for n, s in sparsity(m).items() if n != "total"}
        nz_macs = mc.macs - sum(mc.by_module.get(n, 0) * (1 - d) for n, d in dens.items())
        kind_ = "dense" if name == "dense" else kind if kind else "structured" if "%" in name and not name.startswith("magnitude") else "unstructured"
        amount = float(name.split()[-1].rstrip("%")) / 100 if name.endswith("%") else (0.5 if ":" in name else 0.0)
        t = tuned.get(name) if tuned else None
        rows.append({
            "name": name, "kind": kind_, "amount": amount,
            "params": sum(p.numel() for p in m.parameters()),
            "nonzero_params": int(sum((p != 0).sum() for p in m.parameters())),
            "macs": mc.macs, "nonzero_macs": int(nz_macs), "sparsity": sparsity(m)["total"],
            "accuracy_pruned": evaluate(m, test).accuracy,
            "accuracy": evaluate(t, test).accuracy if t is not None else float("nan"),
        })  # fmt: skip
    return pd.DataFrame(rows)
