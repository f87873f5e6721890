"""PP-LCNet -- Cui et al., "PP-LCNet: A Lightweight CPU Convolutional Neural Network", arXiv 2021.

A MobileNetV1-style plain stack of depthwise-separable blocks (activation after both convs, no
residuals) with H-Swish, 5x5 kernels in the late stages, SE only in the last two blocks, and
MobileNetV3's "linear" head: global pool -> 1x1 conv to 1280 (a Linear) -> H-Swish -> dropout
-> FC. Table follows the official PaddleClas ``NET_CONFIG`` (ppcls/arch/backbone/legendary_models/
pp_lcnet.py) and timm ``lcnet_*``.

Deviation from PaddleClas kept on purpose: the 1280-channel head conv has a bias here (timm), none
in PaddleClas (``bias_attr=False``): +1,280 parameters (0.04 % of lcnet_100), so the parameter
count stays identical to the timm reference.
"""

from __future__ import annotations

from ..layers.mobile_cnn import SEConfig
from ._factory import register_variant
from .mobilenet import PLAIN_DS, MobileSpec, R, create_mobilenet, stage_table

LCNET = MobileSpec(
    stages=stage_table(
        [R("ds", 3, 1, 32, **PLAIN_DS)],
        [R("ds", 3, 2, 64, n=2, **PLAIN_DS)],
        [R("ds", 3, 2, 128, n=2, **PLAIN_DS)],
        [R("ds", 3, 2, 256, **PLAIN_DS), R("ds", 5, 1, 256, **PLAIN_DS)],
        [R("ds", 5, 1, 256, n=4, **PLAIN_DS)],
        [R("ds", 5, 2, 512, n=2, se=0.25, **PLAIN_DS)],
    ),
    stem_chs=16,
    head_chs=1280,
    head="linear",
    head_scaling="fixed",
    act="hard_swish",
    se=SEConfig(base="mid", divisor=1, act="relu", gate="hard_sigmoid"),
)

_PAPER = "Cui et al., PP-LCNet: A Lightweight CPU Convolutional Neural Network, arXiv 2021"


for _width in (0.5, 0.75, 1.0):
    _name = f"lcnet_{round(100 * _width):03d}"
    register_variant(
        _name, create_mobilenet, LCNET, _width, doc=f"PP-LCNet x{_width}.", reference=f"timm:{_name}",
        paper=_PAPER, tags=("mobile_cnn", "channel_attention"),
    )  # fmt: skip
