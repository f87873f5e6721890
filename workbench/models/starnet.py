"""StarNet (Ma et al., "Rewrite the Stars", CVPR 2024): a plain 4-stage net of star blocks.

Stem (3x3 s2 conv-BN-ReLU6, 32 ch) -> 4 stages, each a 3x3 s2 conv-BN downsampler then
:class:`~workbench.layers.starnet.StarBlock` s at width ``base_dim * 2^i`` -> BN -> global
average pool -> linear. Layout as the official code and timm's ``starnet.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers.activations import get_act
from ..layers.conv import scale_channels
from ..layers.starnet import ConvBN, StarBlock
from ._base import Classifier
from ._factory import register_model


class StarNet(Classifier):
    """StarNet classifier.

    Args:
        base_dim: width of the first stage; stage ``i`` has ``base_dim * 2**i`` channels.
        depths: blocks per stage.
        mlp_ratio: branch width of the star blocks.
        width_mult: multiplier on the stem and every stage width (``scale_channels``, divisor
            8); ``None`` = the paper's widths.
        num_classes, in_chans: classifier outputs and input channels.
        stem_chs: stem width (32, not scaled with ``base_dim`` in the official code).
        act: activation of the stem and the star operation.
        drop_path_rate: stochastic depth of the last block (linear schedule).
        drop_rate: dropout before the classifier.
        small_input: for 28-32 px inputs, the stem and the first downsampler use stride 1, so
            the total stride is 8 instead of 32.
    """

    def __init__(
        self,
        base_dim: int = 24,
        depths: tuple[int, ...] = (2, 2, 8, 3),
        mlp_ratio: int = 4,
        width_mult: float | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem_chs: int = 32,
        act: str = "relu6",
        drop_path_rate: float = 0.0,
        drop_rate: float = 0.0,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        stem_chs = scale_channels(stem_chs, width_mult)
        self.stem = nn.Sequential(ConvBN(in_chans, stem_chs, 3, 1 if small_input else 2), get_act(act))
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stages, prev = [], stem_chs
        for i, n in enumerate(depths):
            dim = scale_channels(base_dim * 2**i, width_mult)
            down = ConvBN(prev, dim, 3, 1 if (small_input and i == 0) else 2)
            blocks = [StarBlock(dim, mlp_ratio, act=act, drop_path=rates.pop(0)) for _ in range(n)]
            stages.append(nn.Sequential(down, *blocks))
            prev = dim
        self.stages = nn.Sequential(*stages)
        self.norm = nn.BatchNorm2d(prev)
        self.init_head(prev, num_classes, drop_rate)
        self._init_weights()

    def _init_weights(self) -> None:
        # official/timm: truncated normal (std 0.02) convs and linears, zero linear bias, unit BN
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, C', H/32, W/32) normalized features (H/8 with ``small_input``)."""
        return self.norm(self.stages(self.stem(x)))


@register_model(
    reference="timm:starnet_s1",
    paper="Ma et al., Rewrite the Stars, CVPR 2024",
    tags=("cheap_operators", "large_kernel_convnets"),
)
def starnet_s1(width_mult: float | None = None, **kwargs) -> nn.Module:
    """StarNet-S1: base width 24, depths (2, 2, 8, 3), branch ratio 4."""
    return StarNet(24, (2, 2, 8, 3), 4, width_mult=width_mult, **kwargs)
