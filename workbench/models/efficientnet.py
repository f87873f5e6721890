"""MnasNet-A1/B1, EfficientNet-B0/B1 and FBNet-C: MBConv networks found by architecture search.

* MnasNet -- Tan et al., "MnasNet: Platform-Aware Neural Architecture Search for Mobile",
  CVPR 2019 (Fig. 7). A1 is the paper's headline model (SE, ReLU); B1 is the SE-free variant
  of the official TPU repository (tensorflow/tpu, models/official/mnasnet), = torchvision
  ``mnasnet1_0`` and timm ``mnasnet_100``.
* EfficientNet -- Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
  Networks", ICML 2019 (Table 1; B1 = depth 1.1, width 1.0, 240 px).
* FBNet-C -- Wu et al., "FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable
  Neural Architecture Search", CVPR 2019 (Table 1 macro-architecture, Fig. 4 blocks). The
  block list follows timm's ``fbnetc_100``, derived from the paper's figure; no official code
  for FBNet-C was released.

All are :class:`~workbench.models.mobilenet.MobileNet` instances: stem conv 3x3/2 -> stages ->
1x1 conv head -> pool -> dropout -> FC. SE (where a row has it) is sized from the block's
*input* channels (``max(1, round(in_chs * 0.25))``) with the block's activation and a sigmoid
gate, as in the TF reference code.
"""

from __future__ import annotations

from dataclasses import replace

from ..layers.mobile_cnn import SEConfig
from ._factory import register_model
from .mobilenet import MobileNet, MobileSpec, R, create_mobilenet, stage_table

_SE_IN = SEConfig(base="in", divisor=1, act=None, gate="sigmoid")

MNASNET_A1 = MobileSpec(
    stages=stage_table(
        [R("ds", 3, 1, 16, skip=False)],
        [R("ir", 3, 2, 24, e=6, n=2)],
        [R("ir", 5, 2, 40, e=3, n=3, se=0.25)],
        [R("ir", 3, 2, 80, e=6, n=4)],
        [R("ir", 3, 1, 112, e=6, n=2, se=0.25)],
        [R("ir", 5, 2, 160, e=6, n=3, se=0.25)],
        [R("ir", 3, 1, 320, e=6)],
    ),
    stem_chs=32,
    head_chs=1280,
    head="conv",
    head_scaling="fixed",
    act="relu",
    se=_SE_IN,
)

# B1: A1's stem, head and SE sizing with the SE-free block table.
MNASNET_B1 = replace(
    MNASNET_A1,
    stages=stage_table(
        [R("ds", 3, 1, 16, skip=False)],
        [R("ir", 3, 2, 24, e=3, n=3)],
        [R("ir", 5, 2, 40, e=3, n=3)],
        [R("ir", 5, 2, 80, e=6, n=3)],
        [R("ir", 3, 1, 96, e=6, n=2)],
        [R("ir", 5, 2, 192, e=6, n=4)],
        [R("ir", 3, 1, 320, e=6, skip=False)],
    ),
)

# EfficientNet Table 1 (the B0 baseline, found in MnasNet's search space, so MnasNet's stem
# and head); every block has SE 0.25, Swish = SiLU, and the head widens with the width.
EFFICIENTNET = replace(
    MNASNET_A1,
    stages=stage_table(
        [R("ds", 3, 1, 16, se=0.25)],
        [R("ir", 3, 2, 24, e=6, n=2, se=0.25)],
        [R("ir", 5, 2, 40, e=6, n=2, se=0.25)],
        [R("ir", 3, 2, 80, e=6, n=3, se=0.25)],
        [R("ir", 5, 1, 112, e=6, n=3, se=0.25)],
        [R("ir", 5, 2, 192, e=6, n=4, se=0.25)],
        [R("ir", 3, 1, 320, e=6, se=0.25)],
    ),
    head_scaling="scaled",
    act="silu",
)

# FBNet-C: the first block is an expansion-1 inverted residual *with* its 1x1 expansion conv.
FBNET_C = MobileSpec(
    stages=stage_table(
        [R("ir", 3, 1, 16, e=1)],
        [R("ir", 3, 2, 24, e=6), R("ir", 3, 1, 24, e=1, n=2)],
        [
            R("ir", 5, 2, 32, e=6),
            R("ir", 5, 1, 32, e=3),
            R("ir", 5, 1, 32, e=6),
            R("ir", 3, 1, 32, e=6),
        ],
        [R("ir", 5, 2, 64, e=6), R("ir", 5, 1, 64, e=3), R("ir", 5, 1, 64, e=6, n=2)],
        [R("ir", 5, 1, 112, e=6, n=3), R("ir", 5, 1, 112, e=3)],
        [R("ir", 5, 2, 184, e=6, n=4)],
        [R("ir", 3, 1, 352, e=6)],
    ),
    stem_chs=16,
    head_chs=1984,
    head="conv",
    head_scaling="fixed",
    act="relu",
)

_MNAS = "Tan et al., MnasNet: Platform-Aware Neural Architecture Search for Mobile, CVPR 2019"
_TAGS_EFF = ("mobile_cnn", "nas", "channel_attention", "scaling_design_spaces")
_EFF = (
    "Tan & Le, EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks, ICML 2019"
)
_FBNET = (
    "Wu et al., FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable NAS, CVPR 2019"
)


@register_model(reference="timm:semnasnet_100", paper=_MNAS, tags=("mobile_cnn", "nas", "channel_attention"))
def mnasnet_a1(**kwargs) -> MobileNet:
    """MnasNet-A1 (with SE); timm ``semnasnet_100`` / ``mnasnet_a1``."""
    return create_mobilenet(MNASNET_A1, 1.0, **kwargs)


@register_model(reference="timm:mnasnet_100", paper=_MNAS, tags=("mobile_cnn", "nas"))
def mnasnet_b1(**kwargs) -> MobileNet:
    """MnasNet-B1 (no SE); timm ``mnasnet_100``, torchvision ``mnasnet1_0``."""
    return create_mobilenet(MNASNET_B1, 1.0, **kwargs)


@register_model(reference="timm:efficientnet_b0", paper=_EFF, tags=_TAGS_EFF)
def efficientnet_b0(depth_mult: float = 1.0, **kwargs) -> MobileNet:
    """EfficientNet-B0 at 224 px."""
    return create_mobilenet(EFFICIENTNET, 1.0, depth_mult=depth_mult, **kwargs)


@register_model(
    default_input_size=(3, 240, 240), reference="timm:efficientnet_b1", paper=_EFF, tags=_TAGS_EFF
)
def efficientnet_b1(depth_mult: float = 1.1, **kwargs) -> MobileNet:
    """EfficientNet-B1: B0 with depth x1.1 (repeats rounded up), at 240 px."""
    return create_mobilenet(EFFICIENTNET, 1.0, depth_mult=depth_mult, **kwargs)


@register_model(reference="timm:fbnetc_100", paper=_FBNET, tags=("mobile_cnn", "nas"))
def fbnet_c(**kwargs) -> MobileNet:
    """FBNet-C; timm ``fbnetc_100``."""
    return create_mobilenet(FBNET_C, 1.0, **kwargs)
