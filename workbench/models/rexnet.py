"""ReXNet (Han et al., "Rethinking Channel Dimensions for Efficient Model Design", CVPR 2021).

A MobileNetV2-like net of :class:`~workbench.layers.rexnet.LinearBottleneck` s whose widths are
not a hand-written table but a *linear channel-increase rule* (Sec. 4): 16 blocks whose output
widths grow by ``final_chs / 16`` per block, from 16 to 16 + 180 = 196 (x width), so that
every block expands its channels a little. Stem 3x3 s2 (32 ch, SiLU) -> blocks -> 1x1 conv to
1280 (SiLU) -> global average pool -> dropout -> linear. Layout as the official code
(clovaai/rexnet) and timm's ``rexnet.py``.
"""

from __future__ import annotations

import math

from torch import nn

from ..layers.conv import ConvNormAct, make_divisible
from ..layers.rexnet import LinearBottleneck
from ._base import Classifier
from ._factory import register_model

#: blocks per stage and stride of each stage's first block (paper Table 1 / official code)
_LAYERS = (1, 2, 2, 3, 3, 5)
_STRIDES = (1, 2, 2, 2, 1, 2)


def rexnet_channels(
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    initial_chs: int = 16,
    final_chs: int = 180,
    ch_div: int = 1,
) -> list[tuple[int, float, int, bool]]:
    """The linear channel-increase rule: ``(out_chs, exp_ratio, stride, has_se)`` per block.

    Block ``i`` of ``n`` outputs ``round((initial_chs + i * final_chs / n) * width_mult)``
    channels (below width 1.0 the first block keeps ``initial_chs``, as the official code).
    The first block has expansion 1, the others 6; SE from the third stage on.

    Args:
        width_mult: ReXNet's own width multiplier (1.0, 1.3, 1.5, 2.0 in the paper).
        depth_mult: multiplier on each stage's block count (``ceil``).
        initial_chs: output width of the first block at width 1.0.
        final_chs: channels added over all blocks at width 1.0.
        ch_div: round widths to multiples of this (1 for the paper's models).
    """
    layers = [math.ceil(n * depth_mult) for n in _LAYERS]
    strides = [s if j == 0 else 1 for n, s in zip(layers, _STRIDES, strict=True) for j in range(n)]
    n = sum(layers)
    base = initial_chs / width_mult if width_mult < 1.0 else initial_chs
    out = []
    for i in range(n):
        chs = make_divisible(round(base * width_mult), ch_div)
        out.append((chs, 1.0 if i < layers[0] else 6.0, strides[i], i >= layers[0] + layers[1]))
        base += final_chs / n
    return out


class ReXNet(Classifier):
    """ReXNet classifier.

    Args:
        width_mult: ReXNet's width multiplier (the paper's rule, :func:`rexnet_channels`,
            applied to stem, blocks and the 1280-wide head conv); ``None`` = 1.0.
        depth_mult: block-count multiplier.
        num_classes, in_chans: classifier outputs and input channels.
        se_ratio: SE bottleneck ratio of the expanded width (1/12).
        ch_div: channel divisor (1).
        act: activation of stem, expansion convs and head conv (SiLU).
        dw_act: activation after the depthwise convs (ReLU6).
        drop_rate: dropout before the classifier (0.2).
        small_input: for 28-32 px inputs, the stem and the first strided block use stride 1,
            so the total stride is 8 instead of 32.
    """

    def __init__(
        self,
        width_mult: float | None = None,
        depth_mult: float = 1.0,
        num_classes: int = 1000,
        in_chans: int = 3,
        se_ratio: float = 1 / 12,
        ch_div: int = 1,
        act: str = "silu",
        dw_act: str = "relu6",
        drop_rate: float = 0.2,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        wm = 1.0 if width_mult is None else width_mult
        stem_chs = make_divisible(round((32 / wm if wm < 1.0 else 32) * wm), ch_div)
        self.stem = ConvNormAct(in_chans, stem_chs, 3, 1 if small_input else 2, act=act)
        blocks, prev, first_down = [], stem_chs, small_input
        for chs, e, s, se in rexnet_channels(wm, depth_mult, ch_div=ch_div):
            if s > 1 and first_down:
                s, first_down = 1, False
            blocks.append(LinearBottleneck(prev, chs, s, e, se_ratio if se else 0.0, ch_div, act, dw_act))
            prev = chs
        head_chs = make_divisible(1280 * wm, ch_div)
        blocks.append(ConvNormAct(prev, head_chs, 1, act=act))
        self.stages = nn.Sequential(*blocks)
        self.init_head(head_chs, num_classes, drop_rate)
        self._init_weights()

    def _init_weights(self) -> None:
        # timm's efficientnet_init_weights: He (fan-out) convs, unit BN, small linear
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)


@register_model(
    reference="timm:rexnet_100",
    paper="Han et al., Rethinking Channel Dimensions for Efficient Model Design, CVPR 2021",
    tags=("mobile_cnn", "scaling_design_spaces", "channel_attention"),
)
def rexnet_100(width_mult: float | None = None, **kwargs) -> nn.Module:
    """ReXNet-1.0: 16 blocks growing from 16 to 196 channels, SE 1/12, head conv 1280."""
    return ReXNet(width_mult=width_mult, **kwargs)
