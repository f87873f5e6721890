"""A tiny AnyNet-style design space of fused inverted residuals, and samplers for two sub-spaces.

Radosavovic et al., "Designing Network Design Spaces" (CVPR 2020), study *populations* of
networks: sample configurations from a space, train each briefly, and compare the spaces by the
empirical distribution (EDF) of their errors. Their AnyNet has a fixed stem and head and a body
of stages whose width ``w_i``, depth ``d_i`` and bottleneck ratio are free per stage; RegNet
constrains it (widths and depths non-decreasing, widths on a quantized linear function of the
block index).

Here the body is three stages of **fused inverted residuals** (EfficientNetV2 / MobileNetV4
"FusedIB": k x k expansion conv -> 1 x 1 projection, :class:`~workbench.layers.FusedMBConv`),
the MobileNet family's block without the depthwise conv, because depthwise convolutions train
about 30x slower per MAC on this CPU and a design-space study needs dozens of trainings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch import nn

from ..layers.conv import ConvNormAct, make_divisible, scale_channels
from ..layers.mobile_cnn import FusedMBConv
from ._base import Classifier
from ._factory import register_model

__all__ = [
    "SPACE_CHOICES", "AnyNetConfig", "TinyAnyNet", "anynet_macs", "quantized_linear_widths",
    "sample_space", "tiny_anynet",
]  # fmt: skip

#: The values a sampled configuration may take (both spaces draw from the same menus).
SPACE_CHOICES = {
    "widths": (8, 16, 24, 32, 40, 48, 56, 64, 80, 96),
    "depths": (1, 2, 3, 4),
    "expansions": (1.0, 2.0, 3.0, 4.0),
}
#: Sub-spaces :func:`sample_space` knows: AnyNetX_A-like and the RegNet-style constraint.
SPACES = ("unconstrained", "constrained")


@dataclass(frozen=True)
class AnyNetConfig:
    """One network of the space: per-stage widths, depths, expansions (3 stages, strides 1, 2, 2)."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]
    expansions: tuple[float, ...]

    def kwargs(self) -> dict:
        """``create_model('tiny_anynet', **kwargs)`` arguments (lists: JSON-friendly bank keys)."""
        return {"widths": list(self.widths), "depths": list(self.depths), "expansions": list(self.expansions)}


class TinyAnyNet(Classifier):
    """Stem 3 x 3 conv -> 3 stages of :class:`FusedMBConv` -> global average -> linear.

    Args:
        num_classes, in_chans: classifier outputs and input channels.
        widths, depths, expansions: per stage (3 each); the first block of stages 2 and 3 has
            stride 2, so 28 px -> 28 -> 14 -> 7.
        stem_width: channels of the stem conv.
        stem_stride: 1 for 28 px inputs, 2 for larger images.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 1,
        widths: tuple[int, ...] = (16, 32, 64),
        depths: tuple[int, ...] = (1, 2, 2),
        expansions: tuple[float, ...] = (2.0, 2.0, 2.0),
        stem_width: int = 16,
        stem_stride: int = 1,
    ) -> None:
        super().__init__()
        if not len(widths) == len(depths) == len(expansions):
            raise ValueError(f"widths, depths, expansions need one value per stage, got {widths}, {depths}, {expansions}")
        self.stem = ConvNormAct(in_chans, stem_width, 3, stem_stride)
        stages, c = [], stem_width
        for i, (w, d, e) in enumerate(zip(widths, depths, expansions, strict=True)):
            blocks = [
                FusedMBConv(c if j == 0 else w, w, 3, 2 if (j == 0 and i > 0) else 1, e, act="relu")
                for j in range(d)
            ]
            stages.append(nn.Sequential(*blocks))
            c = w
        self.stages = nn.Sequential(*stages)
        self.init_head(c, num_classes)


@register_model(
    default_input_size=(1, 28, 28),
    paper="(none: an AnyNet-style space after Radosavovic et al., CVPR 2020, with FusedIB blocks)",
    tags=("scaling_design_spaces",),
)
def tiny_anynet(
    num_classes: int = 1000,
    in_chans: int = 1,
    width_mult: float = 1.0,
    small_input: bool = True,
    widths: tuple[int, ...] | list[int] = (16, 32, 64),
    depths: tuple[int, ...] | list[int] = (1, 2, 2),
    expansions: tuple[float, ...] | list[float] = (2.0, 2.0, 2.0),
) -> TinyAnyNet:
    """One member of the tiny fused-IB design space (1 x 28 x 28 input).

    Args:
        num_classes, in_chans: classifier outputs and input channels.
        width_mult: multiplier on every stage width and the stem (divisor 8).
        small_input: stem stride 1 (28 px); False gives stride 2 for larger images.
        widths, depths, expansions: the configuration (3 stages).
    """
    ws = tuple(scale_channels(int(w), width_mult) for w in widths)
    return TinyAnyNet(
        num_classes, in_chans, ws, tuple(int(d) for d in depths), tuple(float(e) for e in expansions),
        stem_width=scale_channels(16, width_mult), stem_stride=1 if small_input else 2,
    )  # fmt: skip


def anynet_macs(cfg: AnyNetConfig, *, in_chans: int = 1, size: int = 28, num_classes: int = 10, stem_width: int = 16) -> int:
    """Closed-form MACs of ``tiny_anynet`` (stem stride 1, BN folded): conv + linear, as ``count_macs``.

    Per fused block at output ``h x w``: $9\\,c_{in}\\,m\\,h w$ for the 3 x 3 expansion to $m$
    channels, plus $m\\,c_{out}\\,h w$ for the projection (none when the expansion is 1).
    """
    side, c = size, stem_width
    macs = 9 * in_chans * stem_width * side * side
    for i, (w, d, e) in enumerate(zip(cfg.widths, cfg.depths, cfg.expansions, strict=True)):
        for j in range(d):
            if j == 0 and i > 0:
                side = (side + 1) // 2  # 3x3 stride-2 conv with padding 1
            m = w if e == 1 else make_divisible(c * e)
            macs += 9 * c * m * side * side + (0 if e == 1 else m * w * side * side)
            c = w
    return macs + c * num_classes


def quantized_linear_widths(w0: float, wa: float, wm: float, depth: int, *, q: int = 8) -> list[int]:
    """RegNet's widths: $u_j = w_0 + w_a j$, snapped to $w_0 w_m^{s_j}$ and rounded to ``q``.

    For each block $j < d$, $s_j = \\text{round}(\\log(u_j / w_0) / \\log w_m)$; blocks with the
    same width form a stage (Radosavovic et al., Sec. 4, Eq. 2-3).
    """
    if w0 <= 0 or wa < 0 or wm <= 1 or depth < 1:
        raise ValueError(f"need w0 > 0, wa >= 0, wm > 1, depth >= 1; got {w0}, {wa}, {wm}, {depth}")
    u = w0 + wa * np.arange(depth)
    s = np.round(np.log(u / w0) / math.log(wm))
    return [int(max(q, round(w0 * wm**si / q) * q)) for si in s]


def _draw(rng: np.random.Generator, space: str) -> AnyNetConfig:
    ch = SPACE_CHOICES
    if space == "unconstrained":
        return AnyNetConfig(
            tuple(int(v) for v in rng.choice(ch["widths"], 3)),
            tuple(int(v) for v in rng.choice(ch["depths"], 3)),
            tuple(float(v) for v in rng.choice(ch["expansions"], 3)),
        )
    # constrained: one shared expansion; depths non-decreasing; widths from a quantized linear
    # function over the blocks, grouped into (at most) 3 stages of non-decreasing width
    depths = tuple(sorted(int(v) for v in rng.choice(ch["depths"], 3)))
    w0 = float(rng.choice(ch["widths"][:5]))
    wa = float(rng.uniform(0, 16))
    wm = float(rng.uniform(1.5, 3.0))
    per_block = quantized_linear_widths(w0, wa, wm, sum(depths))
    ends = np.cumsum(depths) - 1
    widths = tuple(min(per_block[e], ch["widths"][-1]) for e in ends)  # a stage takes its last block's width
    e = float(rng.choice(ch["expansions"]))
    return AnyNetConfig(widths, depths, (e, e, e))


def sample_space(
    space: str, n: int, *, seed: int = 0, macs_range: tuple[float, float] = (2e6, 12e6), max_tries: int = 100_000
) -> list[AnyNetConfig]:
    """``n`` distinct configurations of ``space`` whose 28 px MACs lie in ``macs_range``.

    Rejection sampling, as the RegNet paper samples within a flop regime. Deterministic in
    ``(space, n, seed, macs_range)``, and nested: the first ``n`` of a larger sample are the same.

    Raises:
        ValueError: unknown ``space`` (naming the valid ones), or too few configurations found.
    """
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; valid: {', '.join(SPACES)}")
    rng = np.random.default_rng([seed, SPACES.index(space)])
    out: list[AnyNetConfig] = []
    for _ in range(max_tries):
        if len(out) == n:
            break
        cfg = _draw(rng, space)
        if macs_range[0] <= anynet_macs(cfg) <= macs_range[1] and cfg not in out:
            out.append(cfg)
    if len(out) < n:
        raise ValueError(f"found only {len(out)} of {n} {space} configurations in macs_range={macs_range}")
    return out

