"""The reference CNN: a plain VGG-style network sized for 2 CPU cores on 28 px images.

Not a published architecture: it is the workbench's yardstick for the training loop and its
benchmarks (``workbench bench train``) -- how fast and how accurate does a plain CNN train here?
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..layers import scale_channels
from ._base import Classifier
from ._factory import BASELINE_TAG, register_model

__all__ = ["ReferenceCNN", "Stage", "reference_cnn"]


@dataclass(frozen=True)
class Stage:
    """One row: ``convs`` 3x3 conv-BN-ReLU of ``out`` channels, the first with ``stride``."""

    out: int
    convs: int
    stride: int


class ReferenceCNN(Classifier):
    """28 px -> 14 -> 7, global average pool, linear.

    Default stages (16 x1 s1, 32 x2 s2, 64 x2 s2): 70,330 parameters with 10 classes, 5.53 M MACs
    (conv + linear) at 1x28x28. Strided convs rather than max-pools: the same receptive field for
    a quarter of the work.
    """

    STAGES = (Stage(16, 1, 1), Stage(32, 2, 2), Stage(64, 2, 2))

    def __init__(
        self, num_classes: int = 10, in_chans: int = 1, stages: tuple[Stage, ...] = STAGES
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_chans
        for st in stages:
            for i in range(st.convs):
                layers += [
                    nn.Conv2d(c, st.out, 3, st.stride if i == 0 else 1, 1, bias=False),
                    nn.BatchNorm2d(st.out),
                    nn.ReLU(inplace=True),
                ]
                c = st.out
        self.features = nn.Sequential(*layers)
        self.init_head(c, num_classes)
        self.default_input_size = (in_chans, 28, 28)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@register_model(
    default_input_size=(1, 28, 28),
    paper="(none: the workbench's training yardstick, a plain VGG-style CNN)",
    tags=(BASELINE_TAG,),
)
def reference_cnn(
    num_classes: int = 1000, in_chans: int = 1, width_mult: float = 1.0, small_input: bool = True
) -> ReferenceCNN:
    """The reference CNN (1x28x28 input; pass ``num_classes=10`` for Fashion-MNIST).

    Args:
        num_classes: classifier outputs (1000 like every zoo entry; Fashion-MNIST needs 10).
        in_chans: input channels.
        width_mult: scales every stage's channels (``scale_channels``, divisor 4).
        small_input: accepted for the zoo's uniform interface; the network is built for 28 px.
    """
    stages = tuple(Stage(scale_channels(s.out, width_mult, 4), s.convs, s.stride) for s in ReferenceCNN.STAGES)
    return ReferenceCNN(num_classes, in_chans, stages)
