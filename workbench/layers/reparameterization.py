"""Structural re-parameterization: train with branches, deploy one conv.

technique: reparameterization

* RepVGG -- Ding et al., "RepVGG: Making VGG-style ConvNets Great Again" (CVPR 2021): a 3x3
  conv-BN, a 1x1 conv-BN and (when shapes allow) an identity-BN branch are summed in training;
  all three are linear, so after training they fold into one 3x3 conv with bias.
* MobileOne -- Vasu et al., "MobileOne: An Improved One millisecond Mobile Backbone"
  (CVPR 2023): the same folding applied to depthwise and pointwise convs, with ``k``
  over-parameterized conv-BN branches instead of one.

Protocol: every re-parameterizable block has ``reparameterize()`` that replaces its branches by
``self.reparam_conv`` *in place*; :func:`reparameterize_model` calls it on every module that has
it (also blocks from other files, e.g. RepViT) and folds every ``Conv2d -> BatchNorm2d`` pair that
sits next to each other in an ``nn.Sequential`` (:class:`~workbench.layers.conv.ConvNormAct`,
torchvision's ``Conv2dNormActivation``). Folding uses BN running statistics, so the deploy form
equals the train form in **eval mode** only.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .activations import get_act
from .channel_attention import get_attn
from .conv import ConvNormAct


def _bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) such that ``bn(x) == x * scale + shift`` in eval mode."""
    if bn.running_var is None or bn.running_mean is None:
        raise ValueError(
            "cannot fold a BatchNorm2d with track_running_stats=False (no running stats)"
        )
    std = (bn.running_var + bn.eps).sqrt()
    gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
    scale = gamma / std
    return scale, beta - bn.running_mean * scale


def _fold(
    weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.BatchNorm2d
) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of ``bn(conv(x))`` for a conv with ``weight``/``bias``."""
    scale, shift = _bn_scale_shift(bn)
    bias = shift if bias is None else bias * scale + shift
    return weight * scale.reshape(-1, 1, 1, 1), bias


def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new ``Conv2d`` (with bias) computing ``bn(conv(x))`` with ``bn``'s running statistics.

    Args:
        conv: any ``nn.Conv2d`` (grouped, strided, dilated, with or without bias).
        bn: the ``nn.BatchNorm2d`` applied to its output; ``bn.num_features == conv.out_channels``.

    Returns:
        A fresh conv on the same device/dtype; ``conv`` and ``bn`` are left untouched.

    Raises:
        ValueError: if the channel counts differ or ``bn`` keeps no running statistics.
    """
    if bn.num_features != conv.out_channels:
        raise ValueError(
            f"BatchNorm2d has {bn.num_features} channels, conv outputs {conv.out_channels}"
        )
    return conv_with_weights(conv, *_fold(conv.weight, conv.bias, bn))


@torch.no_grad()
def conv_with_weights(like: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """A new biased ``Conv2d`` shaped like ``like``, holding ``weight`` and ``bias``.

    Channels, kernel, stride, padding, dilation, groups, device and dtype come from ``like``:
    every fold of a train-time structure into one deploy-time conv ends here.
    """
    conv = nn.Conv2d(
        like.in_channels,
        like.out_channels,
        like.kernel_size,
        like.stride,
        like.padding,
        dilation=like.dilation,
        groups=like.groups,
        bias=True,
        padding_mode=like.padding_mode,
        device=like.weight.device,
        dtype=like.weight.dtype,
    )
    conv.weight.copy_(weight)
    conv.bias.copy_(bias)
    return conv


def _identity_kernel(chs: int, groups: int, kernel_size: int, like: torch.Tensor) -> torch.Tensor:
    """The ``(chs, chs/groups, k, k)`` kernel of a grouped conv that returns its input."""
    kernel = torch.zeros(
        chs, chs // groups, kernel_size, kernel_size, dtype=like.dtype, device=like.device
    )
    idx = torch.arange(chs, device=like.device)
    kernel[idx, idx % (chs // groups), kernel_size // 2, kernel_size // 2] = 1.0
    return kernel


class _RepBranches(nn.Module):
    """Sum of conv-BN branches (+ optional identity-BN) that folds into ``reparam_conv``.

    Subclasses fill ``self.convs`` (``ConvNormAct`` with ``act=None``, all of kernel ``k``),
    ``self.scale`` (1x1 ``ConvNormAct`` or ``None``) and ``self.identity`` (``BatchNorm2d`` or
    ``None``), then ``self.attn`` and ``self.act``. ``reparam_conv`` is ``None`` until
    :meth:`reparameterize` runs; afterwards the branches are deleted.
    """

    convs: nn.ModuleList
    scale: nn.Module | None
    identity: nn.BatchNorm2d | None
    reparam_conv: nn.Conv2d | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.act(self.attn(self.reparam_conv(x)))
        out = self.convs[0](x)
        for conv in self.convs[1:]:
            out += conv(x)
        if self.scale is not None:
            out += self.scale(x)
        if self.identity is not None:
            out += self.identity(x)
        return self.act(self.attn(out))

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold all branches and their BNs into one conv with bias, in place (idempotent)."""
        if self.reparam_conv is not None:
            return
        ref = self.convs[0][0]
        k = ref.kernel_size[0]
        weight, bias = (
            torch.zeros_like(ref.weight),
            torch.zeros(ref.out_channels, dtype=ref.weight.dtype, device=ref.weight.device),
        )
        for conv_bn in self.convs:
            w, b = _fold(conv_bn[0].weight, conv_bn[0].bias, conv_bn[1])
            weight += w
            bias += b
        if self.scale is not None:
            w, b = _fold(self.scale[0].weight, self.scale[0].bias, self.scale[1])
            weight += F.pad(w, [k // 2] * 4)  # a 1x1 kernel is the centre tap of a kxk one
            bias += b
        if self.identity is not None:
            w, b = _fold(
                _identity_kernel(ref.in_channels, ref.groups, k, ref.weight), None, self.identity
            )
            weight += w
            bias += b
        self.reparam_conv = conv_with_weights(ref, weight, bias)
        del self.convs, self.scale, self.identity
        self.convs, self.scale, self.identity = nn.ModuleList(), None, None


class RepVggBlock(_RepBranches):
    """RepVGG block: ``act(BN(conv3x3(x)) + BN(conv1x1(x)) + BN(x))``, one 3x3 conv once deployed.

    The identity branch exists only when ``in_chs == out_chs`` and ``stride == 1``
    (paper Fig. 2); RepVGG-A/B stages therefore start with a two-branch block.

    Args:
        in_chs, out_chs: channels.
        stride: 1 or 2 (the first block of each stage downsamples).
        groups: grouped 3x3/1x1 convs (RepVGG-g2/g4 variants); 1 = dense.
        act: activation after the sum.
        attn: optional channel attention after the sum (not in the paper; timm option).
        branches: ``'rep'`` (3x3 + 1x1 + identity, the paper) or ``'plain'`` (the 3x3 conv-BN
            alone): the plain twin has the same deploy graph, so training the two isolates what
            the extra training-time branches buy (the paper's Table 6 ablation).

    Raises:
        ValueError: unknown ``branches``.
    """

    BRANCHES = ("rep", "plain")

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        groups: int = 1,
        act: str = "relu",
        attn: str | None = None,
        branches: str = "rep",
    ) -> None:
        super().__init__()
        if branches not in self.BRANCHES:
            raise ValueError(f"unknown branches {branches!r}; valid: {', '.join(self.BRANCHES)}")
        rep = branches == "rep"
        self.convs = nn.ModuleList(
            [ConvNormAct(in_chs, out_chs, 3, stride, groups=groups, act=None)]
        )
        self.scale = ConvNormAct(in_chs, out_chs, 1, stride, groups=groups, act=None) if rep else None
        self.identity = nn.BatchNorm2d(out_chs) if rep and in_chs == out_chs and stride == 1 else None
        self.attn = get_attn(attn, out_chs)
        self.act = get_act(act)
        self.reparam_conv = None


class MobileOneBlock(_RepBranches):
    """MobileOne block: ``k`` conv-BN branches + 1x1 "scale" conv-BN + identity-BN, summed.

    MobileOne stacks these in pairs: a depthwise 3x3 block (``groups=in_chs``) followed by a
    pointwise 1x1 block (``groups=1``); a 1x1 block has no separate scale branch (paper Fig. 3).

    Args:
        in_chs, out_chs: channels.
        kernel_size: 3 for the depthwise half, 1 for the pointwise half.
        stride: stride of every branch.
        groups: ``in_chs`` for depthwise, 1 for pointwise.
        num_conv_branches: ``k``, over-parameterized kxk conv-BN branches (MobileOne-S0: 4).
        act: activation after the sum.
        attn: channel attention after the sum (MobileOne-S4 uses ``'se'`` in its last blocks).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        num_conv_branches: int = 1,
        act: str = "relu",
        attn: str | None = None,
    ) -> None:
        super().__init__()
        if num_conv_branches < 1:
            raise ValueError(f"num_conv_branches must be >= 1, got {num_conv_branches}")
        self.convs = nn.ModuleList(
            [
                ConvNormAct(in_chs, out_chs, kernel_size, stride, groups=groups, act=None)
                for _ in range(num_conv_branches)
            ]
        )
        self.scale = (
            ConvNormAct(in_chs, out_chs, 1, stride, groups=groups, act=None)
            if kernel_size > 1
            else None
        )
        self.identity = nn.BatchNorm2d(out_chs) if in_chs == out_chs and stride == 1 else None
        self.attn = get_attn(attn, out_chs)
        self.act = get_act(act)
        self.reparam_conv = None


_DEPLOY_METHODS = ("reparameterize", "switch_to_deploy")  # ours/RepViT; timm GhostNetV3


def _reparameterize_children(module: nn.Module) -> None:
    for name, child in module.named_children():
        fuse = getattr(child, "fuse", None)
        # a *method* fuse(); a submodule named `fuse` (IMDN's IMDB 1x1 conv) is not one
        if callable(fuse) and not isinstance(fuse, nn.Module) and not isinstance(child, nn.Sequential):
            # timm's Conv2d_BN-style modules (LeViT, RepViT) return their fused replacement
            setattr(module, name, child.fuse())
            child = getattr(module, name)
        else:
            for method in _DEPLOY_METHODS:
                if callable(getattr(child, method, None)):
                    getattr(child, method)()
                    break
        _reparameterize_children(child)


def _fold_sequential_conv_bn(module: nn.Module) -> int:
    """Fold adjacent ``Conv2d, BatchNorm2d`` children of every ``nn.Sequential``; returns count."""
    folded = 0
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for first, second in zip(names, names[1:], strict=False):
            conv, bn = seq._modules[first], seq._modules[second]
            # exact BatchNorm2d only: subclasses such as timm's BatchNormAct2d also apply an act
            if (
                isinstance(conv, nn.Conv2d)
                and type(bn) is nn.BatchNorm2d
                and bn.track_running_stats
            ):
                seq._modules[first] = fuse_conv_bn(conv, bn)
                seq._modules[second] = nn.Identity()
                folded += 1
    return folded


def reparameterize_model(model: nn.Module, inplace: bool = False) -> nn.Module:
    """The deploy (inference) form of ``model``: branches folded, BN folded into convs.

    Two passes:

    1. top-down, every module with ``reparameterize()`` (or timm's ``switch_to_deploy()`` /
       ``fuse()``) re-parameterizes itself, e.g. :class:`RepVggBlock`, :class:`MobileOneBlock`;
    2. every ``Conv2d`` immediately followed by an exact ``BatchNorm2d`` inside an
       ``nn.Sequential`` becomes one conv with bias, and the BN becomes ``nn.Identity``.

    BN that is not next to its conv in a Sequential (e.g. torchvision ResNet's ``conv1``/``bn1``
    attributes) is left as is, since module order alone does not prove the data flow.

    Args:
        model: any model, ours, timm's or torchvision's.
        inplace: modify ``model`` itself; by default a deep copy is converted.

    Returns:
        The deploy-form model, in eval mode (folding uses BN running statistics, so the two forms
        agree in eval mode only).
    """
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    for method in _DEPLOY_METHODS:
        if callable(getattr(model, method, None)):
            getattr(model, method)()
            break
    _reparameterize_children(model)
    _fold_sequential_conv_bn(model)
    return model


@torch.no_grad()
def deploy_difference(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """How far the deploy form's outputs are from the train form's, both in eval mode.

    Args:
        model: a train-form model (not modified).
        x: an input batch, e.g. real test images (BN statistics are then exercised as deployed).

    Returns:
        ``{"max_abs_diff", "max_abs_output"}``: the largest ``|train(x) - deploy(x)|`` and the
        largest ``|train(x)|`` (the scale the difference should be read against).
    """
    was_training = model.training
    model.eval()
    try:
        ref = model(x)
        out = reparameterize_model(model)(x)
    finally:
        model.train(was_training)
    return {"max_abs_diff": float((ref - out).abs().max()), "max_abs_output": float(ref.abs().max())}
