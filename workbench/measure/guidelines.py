"""Layer-level experiments behind the cost-model notebook.

* :func:`conv_efficiency` -- dense vs depthwise vs pointwise convolutions across widths: MACs,
  compulsory bytes moved (weights + input + output, :mod:`.traffic`), arithmetic intensity
  (MACs per byte), achieved GFLOP/s. Depthwise convs do ~1/C of a dense
  conv's work per byte, so they sit on the memory-bound side of the roofline (MobileNet,
  Xception; quantified in ShuffleNetV2 and "FLOPs are not latency" discussions).
* :func:`shufflenet_guidelines` -- the four practical guidelines of Ma et al., "ShuffleNet V2:
  Practical Guidelines for Efficient CNN Architecture Design" (ECCV 2018), re-measured on this
  machine with MACs held constant inside each guideline:

  G1  equal input/output channels of 1x1 convs minimize memory access cost;
  G2  more groups at the same MACs increase memory access cost;
  G3  network fragmentation (many small parallel/serial ops) reduces parallelism;
  G4  element-wise ops (ReLU, shortcut add) cost far more time than their MACs suggest.

* :func:`mobile_blocks` -- the four ways the MobileNets map C to C channels with a 3x3
  receptive field, plus a standard conv at the inverted residual's expanded width.

Every latency comes from one interleaved :func:`compare_latency` run per group, reported as a
ratio to the group's first variant.
"""

from __future__ import annotations

import math
from functools import partial

import pandas as pd
import torch
from torch import nn

from ..layers import ConvNormAct, DepthwiseSeparableConv, InvertedResidual, SEConfig
from .profile import profile_many
from .traffic import with_traffic


class _Parallel(nn.Module):
    """Sum of parallel branches (a fragmented block)."""

    def __init__(self, branches: list[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branches[0](x)
        for b in self.branches[1:]:
            out = out + b(x)
        return out


class _Bottleneck(nn.Module):
    """ResNet bottleneck (1x1 -> 3x3 -> 1x1) with switchable ReLU and shortcut (G4)."""

    def __init__(self, chs: int, relu: bool, shortcut: bool) -> None:
        super().__init__()
        mid = chs // 4
        act = nn.ReLU if relu else nn.Identity
        self.body = nn.Sequential(nn.Conv2d(chs, mid, 1), act(), nn.Conv2d(mid, mid, 3, padding=1), act(), nn.Conv2d(mid, chs, 1))
        self.shortcut = shortcut
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return self.act(x + y) if self.shortcut else self.act(y)


def _stack(block, n: int) -> nn.Sequential:
    return nn.Sequential(*[block() for _ in range(n)])


def conv_efficiency(
    widths: tuple[int, ...] = (32, 64, 128, 256),
    resolution: int = 28,
    *,
    threads: int | None = None,
    rounds: int = 10,
) -> pd.DataFrame:
    """One conv layer per (kind, width): dense 3x3, depthwise 3x3, pointwise 1x1, C -> C channels.

    Returns:
        :func:`profile_many` columns plus ``kind``, ``width`` and the traffic columns of
        :func:`workbench.measure.traffic.with_traffic` (``arithmetic_intensity`` = MACs per
        compulsory byte); ``latency_ratio`` is relative to the first row (dense 3x3 at the
        smallest width).
    """
    kinds = {
        "dense 3x3": lambda c: nn.Conv2d(c, c, 3, padding=1, bias=False),
        "depthwise 3x3": lambda c: nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False),
        "pointwise 1x1": lambda c: nn.Conv2d(c, c, 1, bias=False),
    }
    models, meta = {}, []
    for kind, make in kinds.items():
        for c in widths:
            name = f"{kind} C={c}"
            m = make(c)
            m.default_input_size = (c, resolution, resolution)
            models[name] = m
            meta.append({"name": name, "kind": kind, "width": c})
    df = with_traffic(profile_many(models, None, threads=threads, rounds=rounds), models)
    return pd.DataFrame(meta).merge(df, on="name")


# MobileNetV3's SE: squeeze to 1/4 of the expanded width (multiple of 8), ReLU, hard-sigmoid gate.
_V3_SE = SEConfig(base="mid", divisor=8, act="relu", gate="hard_sigmoid")


def mobile_blocks(channels: int = 64, size: int = 28, expansion: int = 6) -> dict[str, nn.Module]:
    """C -> C blocks with a 3x3 receptive field, as the MobileNets build them (training form).

    Each module carries ``default_input_size`` so :func:`profile_many` can take them together
    although the last one reads ``expansion * C`` channels. Fold BN before timing them
    (``wb.reparameterize_model``).

    Args:
        channels: C, input and output channels (>= 1).
        size: feature-map side in pixels.
        expansion: t of the inverted residual (MobileNetV2 uses 6).

    Returns:
        label -> module: standard 3x3 conv + BN + ReLU6; depthwise-separable (MobileNetV1,
        ReLU6 after both convs); inverted residual t (MobileNetV2, ReLU6, linear bottleneck);
        inverted residual t + SE with hard-swish (MobileNetV3); standard 3x3 conv at
        ``t * C`` channels (the width at which the inverted residual does its 3x3).
    """
    if channels < 1 or expansion < 1:
        raise ValueError(f"mobile_blocks needs channels >= 1 and expansion >= 1, got {channels}, {expansion}")
    c, wide = channels, expansion * channels
    blocks = {
        "standard 3x3 conv": ConvNormAct(c, c, 3, act="relu6"),
        "depthwise-separable (V1)": DepthwiseSeparableConv(c, c, 3, act="relu6", pw_act=True),
        f"inverted residual t={expansion} (V2)": InvertedResidual(c, c, 3, exp_ratio=expansion, act="relu6"),
        f"inverted residual t={expansion} + SE, hard-swish (V3)": InvertedResidual(c, c, 3, exp_ratio=expansion, act="hard_swish", se_ratio=0.25, se=_V3_SE),
        f"standard 3x3 conv at {expansion}C": ConvNormAct(wide, wide, 3, act="relu6"),
    }
    for label, m in blocks.items():
        m.default_input_size = (wide if label.endswith(f"{expansion}C") else c, size, size)
    return blocks


def _g1(base: int, n: int) -> dict[str, nn.Module]:
    out = {}
    for r in (1, 2, 6, 12):  # c1:c2 ratios of the paper's Table 1, c1 * c2 held constant
        c1, c2 = round(base / math.sqrt(r)), round(base * math.sqrt(r))
        out[f"c1:c2 = 1:{r}"] = (_stack(lambda c1=c1, c2=c2: nn.Sequential(nn.Conv2d(c1, c2, 1), nn.Conv2d(c2, c1, 1)), n), c1)
    return out


def _g2(base: int, n: int) -> dict[str, nn.Module]:
    out = {}
    for g in (1, 2, 4, 8):  # MACs = h*w*c^2/g held constant by c = base*sqrt(g)
        c = int(round(base * math.sqrt(g) / g)) * g
        out[f"groups = {g}"] = (_stack(lambda c=c, g=g: nn.Conv2d(c, c, 1, groups=g), n), c)
    return out


def _fragments(c: int, k: int, kind: str) -> nn.Module:
    convs = [nn.Conv2d(c, c, 1) for _ in range(k)]
    return nn.Sequential(*convs) if kind == "series" else _Parallel(convs)


def _g3(base: int, n: int) -> dict[str, nn.Module]:
    out = {}
    for k, kind in ((1, "series"), (2, "series"), (4, "series"), (2, "parallel"), (4, "parallel")):
        c = round(base / math.sqrt(k))  # k convs of c^2 MACs each == one conv of base^2
        label = "1 fragment" if k == 1 else f"{k}-fragment {kind}"
        out[label] = (_stack(partial(_fragments, c, k, kind), n), c)
    return out


def _g4(base: int, n: int) -> dict[str, nn.Module]:
    return {
        f"ReLU {'on' if relu else 'off'}, shortcut {'on' if sc else 'off'}": (_stack(lambda relu=relu, sc=sc: _Bottleneck(base, relu, sc), n), base)
        for relu, sc in ((True, True), (False, True), (True, False), (False, False))
    }


GUIDELINES = {
    "G1": ("equal channel width minimizes memory access cost", _g1),
    "G2": ("excessive group convolution increases memory access cost", _g2),
    "G3": ("network fragmentation reduces parallelism", _g3),
    "G4": ("element-wise operations are non-negligible", _g4),
}


def shufflenet_guidelines(
    resolution: int = 28,
    base: int = 128,
    blocks: int = 10,
    *,
    threads: int | None = None,
    rounds: int = 10,
) -> pd.DataFrame:
    """Re-measure ShuffleNetV2's guidelines G1-G4 on this machine (see module docstring).

    Args:
        resolution: feature-map side (the paper used 56 for G1-G3 on its GPU/ARM setups).
        base: reference channel count (c1 = c2 = base in G1, g = 1 in G2).
        blocks: stacked blocks per variant (the paper stacks 10).

    Returns:
        one row per variant: ``guideline, claim, variant`` + :func:`profile_many` columns;
        ``latency_ratio`` is relative to the first variant of the same guideline.
    """
    frames = []
    for gid, (claim, make) in GUIDELINES.items():
        variants = make(base, blocks)
        models = {}
        for label, (m, c_in) in variants.items():
            m.default_input_size = (c_in, resolution, resolution)
            models[label] = m
        df = profile_many(models, None, threads=threads, rounds=rounds)
        df.insert(0, "variant", df.pop("name"))
        df.insert(0, "claim", claim)
        df.insert(0, "guideline", gid)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
