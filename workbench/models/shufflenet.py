"""ShuffleNetV2 (Ma et al., ECCV 2018), layout as torchvision's ``shufflenetv2.py``.

Stages are typed rows; the paper's four widths (Table 5) are a lookup table because their
channel counts (48, 116, 176, 244 in stage 2) were chosen per width to hit FLOP budgets, not
derived by one multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..layers.cheap_operators import ShuffleV2Block
from ..layers.conv import ConvNormAct, scale_channels
from ._base import Classifier
from ._factory import register_variant


@dataclass(frozen=True)
class ShuffleStage:
    """One stage (paper Table 5): ``n`` units, the first with stride 2, ``c`` output channels."""

    c: int
    n: int


# Paper Table 5: stage 2-4 widths and the conv5 width per multiplier; repeats 4, 8, 4.
_WIDTHS: dict[float, tuple[tuple[int, int, int], int]] = {
    0.5: ((48, 96, 192), 1024),
    1.0: ((116, 232, 464), 1024),
    1.5: ((176, 352, 704), 1024),
    2.0: ((244, 488, 976), 2048),
}
_REPEATS = (4, 8, 4)


def shufflenet_stages(width_mult: float) -> tuple[tuple[ShuffleStage, ...], int]:
    """Stage rows and conv5 width for a width multiplier.

    The paper's widths come from Table 5. Any other ``width_mult`` (our extension, not in the
    paper) scales the 1.0x channels with :func:`~workbench.layers.conv.scale_channels`, divisor 4
    (even, for the channel split), and keeps conv5 at 1024 below 2.0x.

    Raises:
        ValueError: for a ``width_mult`` that is not a finite number > 0.
    """
    if width_mult in _WIDTHS:
        chs, last = _WIDTHS[width_mult]
    else:
        chs = tuple(scale_channels(c, width_mult, 4) for c in _WIDTHS[1.0][0])
        last = 2048 if width_mult >= 2.0 else 1024
    return tuple(ShuffleStage(c, n) for c, n in zip(chs, _REPEATS, strict=True)), last


class ShuffleNetV2(Classifier):
    """ShuffleNetV2 classifier.

    conv1 3x3 s2 (24 ch) -> max-pool 3x3 s2 -> stages 2-4 of :class:`ShuffleV2Block` ->
    conv5 1x1 -> global average pool -> linear classifier.

    Args:
        width_mult: a width multiplier (see :func:`shufflenet_stages`).
        num_classes, in_chans: classifier outputs and input channels.
        act: activation of every conv that has one.
        drop_rate: dropout before the classifier (0, as torchvision; the paper uses none).
        small_input: for 28-32 px inputs, conv1 uses stride 1 and the max-pool is removed, so the
            total stride is 8 instead of 32; stages 2-4 are unchanged.
    """

    def __init__(
        self,
        width_mult: float = 1.0,
        num_classes: int = 1000,
        in_chans: int = 3,
        act: str = "relu",
        drop_rate: float = 0.0,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        stages, last = shufflenet_stages(width_mult)
        stem_chs = 24
        self.conv1 = ConvNormAct(in_chans, stem_chs, 3, 1 if small_input else 2, act=act)
        self.maxpool = (
            nn.Identity() if small_input else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        )
        prev, blocks = stem_chs, []
        for st in stages:
            units = [ShuffleV2Block(prev, st.c, 2, act=act)]
            units += [ShuffleV2Block(st.c, st.c, 1, act=act) for _ in range(st.n - 1)]
            blocks.append(nn.Sequential(*units))
            prev = st.c
        self.stages = nn.Sequential(*blocks)
        self.conv5 = ConvNormAct(prev, last, 1, act=act)
        self.init_head(last, num_classes, drop_rate)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        return self.conv5(self.stages(x))


_PAPER = "Ma et al., ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design, ECCV 2018"


def _shufflenet(name_width: float, width_mult: float | None = None, **kwargs) -> ShuffleNetV2:
    # width_mult replaces the name's width
    return ShuffleNetV2(width_mult=name_width if width_mult is None else width_mult, **kwargs)


# the four widths of the paper's Table 5 (torchvision names them x0_5 ... x2_0)
for _width, _suffix in ((0.5, "x0_5"), (1.0, "x1_0"), (1.5, "x1_5"), (2.0, "x2_0")):
    register_variant(
        f"shufflenetv2_{round(100 * _width):03d}", _shufflenet, _width, doc=f"ShuffleNetV2 {_width}x.",
        reference=f"torchvision:shufflenet_v2_{_suffix}", paper=_PAPER,
        tags=("cheap_operators", "mobile_cnn"),
    )  # fmt: skip
