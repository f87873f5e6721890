"""SqueezeNet 1.1 (Iandola et al., 2016; v1.1 from the official DeepScale/SqueezeNet repo).

Fire modules: a 1x1 "squeeze" conv narrows the channels, then parallel 1x1 and 3x3 "expand"
convs widen them again and are concatenated. No BatchNorm (2016); convs have biases. The
classifier is a 1x1 conv applied at 13x13 before the global pool, as in the paper and
torchvision -- so ``self.classifier`` is an ``nn.Conv2d`` here, not an ``nn.Linear``, and it
costs 512 x 1000 x 169 = 86.5 M MACs (a quarter of the network).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..layers.activations import get_act
from ..layers.conv import scale_channels
from ._base import Classifier
from ._factory import register_model


class Fire(nn.Module):
    """``cat(act(expand1x1(s)), act(expand3x3(s)))`` with ``s = act(squeeze1x1(x))``.

    Args:
        in_chs: input channels.
        squeeze_chs: width of the 1x1 squeeze conv.
        expand_chs: width of *each* expand conv (the output has ``2 * expand_chs`` channels).
        act: activation after each conv.
    """

    def __init__(self, in_chs: int, squeeze_chs: int, expand_chs: int, act: str = "relu") -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(in_chs, squeeze_chs, 1)
        self.squeeze_act = get_act(act)
        self.expand1x1 = nn.Conv2d(squeeze_chs, expand_chs, 1)
        self.expand1x1_act = get_act(act)
        self.expand3x3 = nn.Conv2d(squeeze_chs, expand_chs, 3, padding=1)
        self.expand3x3_act = get_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_act(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_act(self.expand1x1(x)), self.expand3x3_act(self.expand3x3(x))], 1
        )


@dataclass(frozen=True)
class FireRow:
    """One Fire module: ``s`` squeeze channels, ``e`` channels per expand conv, ``pool`` = a
    3x3 stride-2 max-pool (ceil mode) precedes it."""

    s: int
    e: int
    pool: bool = False


# SqueezeNet v1.1 (official repo): conv1 3x3 s2 (64 ch), pools before fire2, fire4, fire6.
SQUEEZENET_1_1: tuple[FireRow, ...] = (
    FireRow(16, 64, pool=True),
    FireRow(16, 64),
    FireRow(32, 128, pool=True),
    FireRow(32, 128),
    FireRow(48, 192, pool=True),
    FireRow(48, 192),
    FireRow(64, 256),
    FireRow(64, 256),
)


class SqueezeNet(Classifier):
    """SqueezeNet classifier.

    Args:
        rows: the Fire table.
        width_mult: multiplier on every conv's width (:func:`~workbench.layers.conv.scale_channels`,
            divisor 8); ``None`` = the paper's widths.
        num_classes, in_chans: classifier outputs and input channels.
        act: activation after every conv.
        drop_rate: dropout before the classifier conv (0.5 in the paper).
        small_input: for 28-32 px inputs, conv1 uses stride 1 with padding 1 (instead of stride 2,
            no padding), so the total stride is 8 instead of 16; the three max-pools stay.
    """

    def __init__(
        self,
        rows: tuple[FireRow, ...] = SQUEEZENET_1_1,
        width_mult: float | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        act: str = "relu",
        drop_rate: float = 0.5,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        stem_chs = scale_channels(64, width_mult)
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_chans,
                stem_chs,
                3,
                stride=1 if small_input else 2,
                padding=1 if small_input else 0,
            ),
            get_act(act),
        ]
        prev = stem_chs
        for r in rows:
            if r.pool:
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
            expand = scale_channels(r.e, width_mult)
            layers.append(Fire(prev, scale_channels(r.s, width_mult), expand, act=act))
            prev = 2 * expand
        self.features = nn.Sequential(*layers)
        self.init_head(prev, num_classes, drop_rate)
        self.act = get_act(act)
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's init; the small-std classifier keeps the post-classifier ReLU from
        # starting dead or saturated
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is self.classifier:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def make_classifier(self, num_classes: int) -> nn.Module:
        """A 1x1 conv on the feature map (SqueezeNet has no linear layer)."""
        return nn.Conv2d(self.num_features, num_classes, 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Features -> logits: dropout -> 1x1 conv -> act -> global average (classify, then pool)."""
        x = self.head_drop(x)
        if pre_logits:
            return x.mean((2, 3))
        return self.act(self.classifier(x)).mean((2, 3))  # (B, classes, h, w) -> (B, classes)


def _squeezenet(width_mult: float | None = None, **kwargs) -> SqueezeNet:
    return SqueezeNet(width_mult=width_mult, **kwargs)


@register_model(
    reference="torchvision:squeezenet1_1",
    paper="Iandola et al., SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size, arXiv 2016",
    tags=("cheap_operators",),
)
def squeezenet1_1(**kwargs) -> nn.Module:
    """SqueezeNet v1.1."""
    return _squeezenet(**kwargs)
