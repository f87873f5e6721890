"""FBNet-A and FBNet-B, from the official architecture definitions.

Wu et al., "FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable Neural
Architecture Search", CVPR 2019 (Table 1 macro-architecture, Fig. 4). The block tables are
ported from facebookresearch/mobile-vision (``mobile_cv/arch/fbnet_v2/fbnet_modeldef_cls_fbnet.py``).
Its trained models report 4.27029 M params / 244.52636 M FLOPs (A) and 4.76667 M / 291.10164 M
(B) (``model_info_fbnet.json``); this build reproduces both exactly once the conventions are
aligned (``tests/test_models_nas.py``): the official params count conv and FC *weights* only
(every conv here also has a bias and a BatchNorm, as in the official definition: +51 k,
4.32 M / 4.82 M in total), and its FLOPs are multiply-adds plus the global average pool's adds
(1504 x 7 x 7 for A), which the zoo's counter does not count. The paper's Table 2 lists
4.3 M / 249 M (A) and 4.5 M / 295 M (B): the released definitions have 1.8 % (A) and 1.4 % (B)
fewer MACs, and B 6 % more weights than the paper says (its head is 1984 channels wide, A's 1504).

The zoo's FBNet-C (:mod:`workbench.models.efficientnet`) follows timm's reconstruction instead
(no conv bias, an expansion conv in expansion-1 blocks), so it stays identical to timm's
``fbnetc_100``; the official FBNet-C definition differs from that (biases, no expansion conv in
expansion-1 blocks, a skip layer in stage 2).

Layout: 3x3/2 stem conv (16) -> stages of :class:`IRFBlock` (``'skip'`` candidates are identity
layers, ``_g2`` candidates use grouped 1x1 convs and a channel shuffle) -> 1x1 head conv ->
global average pool -> dropout -> FC. ReLU throughout.
"""

from __future__ import annotations

from torch import nn

from ..layers.conv import scale_channels
from ..layers.fbnet import IRFBlock, conv_bias_bn_act
from ._base import Classifier
from ._builder import build_stages, register_block
from ._factory import register_model
from .mobilenet import R, _init_weights, stage_table

register_block("fbnet_ir", lambda r, i, o, s, act, se: IRFBlock(i, o, r.k, s, exp_ratio=r.e, act=act))
register_block("fbnet_ir_g2", lambda r, i, o, s, act, se: IRFBlock(i, o, r.k, s, exp_ratio=r.e, groups=2, act=act))
# FBNet's 'skip' candidate: the layer is removed (its width never changes where it is chosen)
register_block("fbnet_skip", lambda r, i, o, s, act, se: nn.Identity())


def _ir(k: int, c: int, e: int, s: int = 1, g2: bool = False):
    return R("fbnet_ir_g2" if g2 else "fbnet_ir", k, s, c, e=e)


def _skip(c: int):
    return R("fbnet_skip", 1, 1, c)


# Official stage grouping; stage 4 holds both the 64- and the 112-channel blocks.
FBNET_A = stage_table(
    [_skip(16)],
    [_ir(3, 24, 3, s=2), _ir(3, 24, 1), _skip(24), _skip(24)],
    [_ir(5, 32, 6, s=2), _ir(3, 32, 3), _ir(5, 32, 1), _ir(3, 32, 3)],
    [
        _ir(5, 64, 6, s=2), _ir(5, 64, 3), _ir(5, 64, 1, g2=True), _ir(5, 64, 6),
        _ir(3, 112, 6), _ir(5, 112, 1, g2=True), _ir(5, 112, 3), _ir(3, 112, 1, g2=True),
    ],
    [_ir(5, 184, 6, s=2), _ir(5, 184, 6), _ir(5, 184, 3), _ir(5, 184, 6), _ir(5, 352, 6)],
)  # fmt: skip

FBNET_B = stage_table(
    [_ir(3, 16, 1)],
    [_ir(3, 24, 6, s=2), _ir(5, 24, 1), _ir(3, 24, 1), _ir(3, 24, 1)],
    [_ir(5, 32, 6, s=2), _ir(5, 32, 3), _ir(3, 32, 6), _ir(5, 32, 6)],
    [
        _ir(5, 64, 6, s=2), _ir(5, 64, 6), _skip(64), _ir(5, 64, 3),
        _ir(5, 112, 6), _ir(3, 112, 1), _ir(5, 112, 1), _ir(5, 112, 3),
    ],
    [_ir(5, 184, 6, s=2), _ir(5, 184, 1), _ir(5, 184, 6), _ir(5, 184, 6), _ir(3, 352, 6)],
)  # fmt: skip


class FBNet(Classifier):
    """Stem -> stages of :class:`IRFBlock` -> 1x1 head conv -> pool -> dropout -> FC.

    Args:
        stages: block table (:data:`FBNET_A`, :data:`FBNET_B`), widths at 1.0.
        head_chs: head conv channels (fixed under ``width_mult``, as FBNet-C's in the zoo).
        num_classes: classifier outputs.
        in_chans: input channels.
        width_mult: channel multiplier of stem and blocks (``scale_channels``).
        small_input: stem stride 1 and the first stride-2 block stride 1 (total stride 8, for
            28-32 px inputs).
        drop_rate: dropout before the classifier.
    """

    def __init__(
        self,
        stages,
        head_chs: int,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float = 1.0,
        small_input: bool = False,
        drop_rate: float = 0.2,
    ) -> None:
        super().__init__()
        stem_chs = scale_channels(16, width_mult)
        self.stem = conv_bias_bn_act(in_chans, stem_chs, 3, stride=1 if small_input else 2)
        self.stages, chs = build_stages(stages, stem_chs, width_mult=width_mult, act="relu", small_input=small_input)
        self.conv_head = conv_bias_bn_act(chs, head_chs, 1)
        self.global_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.init_head(head_chs, num_classes, drop_rate)
        _init_weights(self)

    def forward_features(self, x):
        """(B, C, H, W) image -> (B, head_chs, H/32, W/32) features (H/8 with ``small_input``)."""
        return self.conv_head(self.stages(self.stem(x)))


_FBNET = "Wu et al., FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable NAS, CVPR 2019"


@register_model(paper=_FBNET, tags=("mobile_cnn", "nas"))
def fbnet_a(**kwargs) -> FBNet:
    """FBNet-A (official definition): 4.32 M params (4.27 M weights), 244.5 M MACs at 224 px."""
    return FBNet(FBNET_A, 1504, **kwargs)


@register_model(paper=_FBNET, tags=("mobile_cnn", "nas"))
def fbnet_b(**kwargs) -> FBNet:
    """FBNet-B (official definition): 4.82 M params (4.77 M weights), 291.0 M MACs at 224 px."""
    return FBNet(FBNET_B, 1984, **kwargs)
