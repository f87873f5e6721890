"""CheapNet: one small 28 px backbone whose 3x3 convs are swapped for a cheap operator.

Not a published architecture: the test bed of the ``cheap_operators`` notebook. A 3x3 stem conv,
then three stages of two blocks; every block is one entry of
:data:`~workbench.layers.cheap_operators.CHEAP_BLOCKS` (``block=``): depthwise-separable
(MobileNetV1, the baseline), Ghost (GhostNet), Ghost + DFC attention (GhostNetV2), group 1x1 +
channel shuffle (ShuffleNet V1) or shift + 1x1 (ShiftNet/SCNet); ``'conv'`` is the dense 3x3
they all replace.

``fast_downsample=True`` is FD-MobileNet's schedule (Qin et al., "FD-MobileNet: Improved
MobileNet with a Fast Downsampling Strategy", ICIP 2018): the stem and the first two stages
downsample, so the network reaches its final stride after three layers instead of seven and
spends its work on fewer, wider maps.

:func:`solve_width` finds the ``width_mult`` at which a variant matches a target MAC or parameter
count, so operators can be compared at equal MACs and at equal params.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..layers.cheap_operators import CHEAP_BLOCKS, cheap_block
from ..layers.conv import ConvNormAct, scale_channels
from ._base import Classifier
from ._factory import register_model

__all__ = ["CheapNet", "CheapStage", "cheapnet", "conv_macs", "solve_width"]


@dataclass(frozen=True)
class CheapStage:
    """One stage: ``n`` blocks of ``c`` channels (at width 1.0), the first with stride ``s``."""

    c: int
    n: int
    s: int


STAGES = (CheapStage(48, 2, 2), CheapStage(96, 2, 2), CheapStage(192, 2, 2))
STEM_CHS = 24
#: Strides of (stem, stage 1, stage 2, stage 3): the usual 28 -> 28 -> 14 -> 7 -> 4 schedule,
#: and FD-MobileNet's fast one, 28 -> 14 -> 7 -> 4 -> 4.
STRIDES = {False: (1, 2, 2, 2), True: (2, 2, 2, 1)}
#: Channel rounding: 4 (as GhostNet and ShuffleNet) keeps width steps small for the width solver.
DIVISOR = 4


class CheapNet(Classifier):
    """stem 3x3 conv -> 3 stages of cheap blocks -> global average pool -> linear.

    Args:
        block: a key of :data:`~workbench.layers.cheap_operators.CHEAP_BLOCKS`.
        width_mult: multiplier on every width (rounded to multiples of 4).
        fast_downsample: FD-MobileNet's stride schedule (see the module docstring).
        groups: groups of the ``'shuffle'`` block's 1x1 conv.
        num_classes, in_chans: classifier outputs and input channels.
    """

    def __init__(
        self,
        block: str = "dwsep",
        width_mult: float = 1.0,
        fast_downsample: bool = False,
        groups: int = 4,
        num_classes: int = 10,
        in_chans: int = 1,
    ) -> None:
        super().__init__()
        if block not in CHEAP_BLOCKS:
            raise ValueError(f"unknown block {block!r}; valid: {', '.join(CHEAP_BLOCKS)}")
        # widths must split into `groups` groups for the shuffle block's group conv
        divisor = DIVISOR * groups if block == "shuffle" else DIVISOR
        stem_s, *stage_s = STRIDES[bool(fast_downsample)]
        prev = scale_channels(STEM_CHS, width_mult, divisor)
        self.stem = ConvNormAct(in_chans, prev, 3, stem_s)
        stages = []
        for st, s in zip(STAGES, stage_s, strict=True):
            chs = scale_channels(st.c, width_mult, divisor)
            blocks = [cheap_block(block, prev, chs, s, groups)]
            blocks += [cheap_block(block, chs, chs, 1, groups) for _ in range(st.n - 1)]
            stages.append(nn.Sequential(*blocks))
            prev = chs
        self.stages = nn.Sequential(*stages)
        self.init_head(prev, num_classes)


@register_model(
    default_input_size=(1, 28, 28),
    paper="(none: the cheap_operators notebook's test bed; blocks from GhostNet/V2, ShuffleNet V1/V2, ShiftNet, FD-MobileNet)",
    tags=("cheap_operators",),
)
def cheapnet(
    block: str = "dwsep",
    width_mult: float = 1.0,
    fast_downsample: bool = False,
    groups: int = 4,
    num_classes: int = 1000,
    in_chans: int = 1,
    small_input: bool = True,
) -> CheapNet:
    """CheapNet at 1x28x28 (``num_classes=10`` for Fashion-MNIST).

    Args:
        block, width_mult, fast_downsample, groups: see :class:`CheapNet`.
        num_classes, in_chans: classifier outputs and input channels.
        small_input: accepted for the zoo's uniform interface; the network is built for 28 px.
    """
    return CheapNet(block, width_mult, fast_downsample, groups, num_classes, in_chans)


def conv_macs(model: nn.Module, input_size: tuple[int, int, int]) -> int:
    """MACs of the model's ``Conv2d`` and ``Linear`` layers for one image, from forward hooks.

    The same convention as ``workbench.measure.count_macs`` (``macs``: conv and linear only) for
    a conv net, at a fraction of its tracing time: the width solver calls it dozens of times.
    """
    total = 0

    def hook(mod: nn.Module, _inp, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            total += out.numel() * (mod.in_channels // mod.groups) * k
        else:
            total += mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_size))
    finally:
        for h in handles:
            h.remove()
    return total


def solve_width(
    target: float,
    metric: str = "macs",
    *,
    lo: float = 0.25,
    hi: float = 4.0,
    input_size: tuple[int, int, int] = (1, 28, 28),
    **kwargs,
) -> float:
    """The ``width_mult`` at which ``cheapnet(**kwargs)`` comes closest to ``target``.

    Bisection on the (monotone, step-wise: widths are rounded) cost, then the better of the two
    brackets.

    Args:
        target: MACs (conv + linear, one image) or parameters to match.
        metric: ``'macs'`` or ``'params'``.
        lo, hi: the width range searched.
        input_size: (C, H, W) for MACs.
        **kwargs: ``cheapnet`` arguments (``block``, ``fast_downsample``, ``num_classes``, ...).

    Raises:
        ValueError: unknown metric.
    """
    costs = {
        "macs": lambda m: conv_macs(m, input_size),
        "params": lambda m: sum(p.numel() for p in m.parameters()),
    }
    if metric not in costs:
        raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(costs)}")

    def cost(w: float) -> float:
        return costs[metric](cheapnet(width_mult=w, **kwargs))

    for _ in range(10):  # the bracket [lo, hi] shrinks to a ratio of 16 ** (1/1024) < 1.003
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if cost(mid) < target else (lo, mid)
    return min((lo, hi), key=lambda w: abs(cost(w) - target))
