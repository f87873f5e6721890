"""InceptionNeXt (Yu et al., "InceptionNeXt: When Inception Meets ConvNeXt", CVPR 2024).

A ConvNeXt/MetaNeXt layout -- 4x4 s4 patchify stem + BN, four stages separated by BN + 2x2 s2
conv, :class:`~workbench.layers.inception_next.MetaNeXtBlock` s -- whose 7x7 depthwise mixer is
replaced by the Inception depthwise conv. The head is an MLP: global average pool ->
linear (x3) -> GELU -> LayerNorm -> linear. Layout as the official code and timm's
``inception_next.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers.activations import get_act
from ..layers.conv import scale_channels
from ..layers.inception_next import MetaNeXtBlock
from ._base import Classifier, trunc_normal_init
from ._factory import register_model


class InceptionNeXt(Classifier):
    """InceptionNeXt classifier.

    Args:
        dims: stage widths.
        depths: blocks per stage.
        mlp_ratios: MLP expansion per stage.
        band_kernel_size, branch_ratio: the Inception depthwise conv's band length and split.
        width_mult: multiplier on every stage width (``scale_channels``, divisor 8); ``None`` =
            the paper's widths.
        num_classes, in_chans: classifier outputs and input channels.
        head_mlp_ratio: hidden width of the MLP head, times the last stage width (3).
        ls_init_value: layer-scale init (1e-6).
        drop_path_rate: stochastic depth of the last block (linear schedule).
        drop_rate: dropout before the classifier.
        small_input: for 28-32 px inputs, the 4x4 s4 stem becomes a 3x3 s1 conv, so the total
            stride is 8 instead of 32.
    """

    def __init__(
        self,
        dims: tuple[int, ...] = (40, 80, 160, 320),
        depths: tuple[int, ...] = (2, 2, 6, 2),
        mlp_ratios: tuple[float, ...] = (4, 4, 4, 3),
        band_kernel_size: int = 9,
        branch_ratio: float = 0.25,
        width_mult: float | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        head_mlp_ratio: float = 3.0,
        ls_init_value: float | None = 1e-6,
        drop_path_rate: float = 0.0,
        drop_rate: float = 0.0,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        dims = tuple(scale_channels(d, width_mult) for d in dims)
        stem = nn.Conv2d(in_chans, dims[0], 3, 1, 1) if small_input else nn.Conv2d(in_chans, dims[0], 4, 4)
        self.stem = nn.Sequential(stem, nn.BatchNorm2d(dims[0]))
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stages, prev = [], dims[0]
        for i, (dim, n, r) in enumerate(zip(dims, depths, mlp_ratios, strict=True)):
            down = nn.Identity() if i == 0 else nn.Sequential(nn.BatchNorm2d(prev), nn.Conv2d(prev, dim, 2, 2))
            blocks = [
                MetaNeXtBlock(dim, r, ls_init_value, rates.pop(0), band_kernel_size=band_kernel_size, branch_ratio=branch_ratio)
                for _ in range(n)
            ]
            stages.append(nn.Sequential(down, *blocks))
            prev = dim
        self.stages = nn.Sequential(*stages)
        hidden = int(head_mlp_ratio * prev)
        self.head_fc = nn.Linear(prev, hidden)
        self.head_act = get_act("gelu")
        self.head_norm = nn.LayerNorm(hidden, eps=1e-6)
        self.init_head(hidden, num_classes, drop_rate)
        self._init_weights()

    def _init_weights(self) -> None:
        trunc_normal_init(self)  # official/timm: truncated normal (std 0.02), zero biases

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Global average, then the MLP head's hidden layer: linear -> GELU -> LayerNorm."""
        return self.head_norm(self.head_act(self.head_fc(x.mean((2, 3)))))


@register_model(
    reference="timm:inception_next_atto",
    paper="Yu et al., InceptionNeXt: When Inception Meets ConvNeXt, CVPR 2024",
    tags=("large_kernel_convnets",),
)
def inception_next_atto(width_mult: float | None = None, **kwargs) -> nn.Module:
    """InceptionNeXt-atto: dims (40, 80, 160, 320), depths (2, 2, 6, 2), band 9, branch ratio 1/4."""
    return InceptionNeXt(width_mult=width_mult, **kwargs)
