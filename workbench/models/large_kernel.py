"""An isotropic mini-ConvNeXt whose depthwise kernel size is a keyword: the large-kernel testbed.

Patchify stem (``p x p`` stride-``p`` conv + LayerNorm, ``p = 8`` at 64 px) -> ``depth`` :class:`ConvNeXtBlock` at
one width and one resolution -> global average -> LayerNorm -> linear. One resolution for the
whole trunk keeps the comparison clean: changing ``kernel_size`` changes only the depthwise
convs, so accuracy and receptive-field differences are the kernel's, not a stage layout's.
Not a published architecture; it follows the isotropic ConvNeXt of Liu et al. (CVPR 2022,
Sec. 4 "isotropic ConvNeXt") and RepLKNet's small-data kernel sweeps (Ding et al., CVPR 2022).
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers.conv import scale_channels
from ..layers.convnext import ConvNeXtBlock
from ..layers.metaformer import LayerNorm2d
from ._base import Classifier, trunc_normal_init
from ._factory import register_model

__all__ = ["IsotropicConvNeXt", "lk_convnext"]


class IsotropicConvNeXt(Classifier):
    """``depth`` ConvNeXt blocks at one width after a patchify stem.

    Args:
        num_classes, in_chans: classifier outputs and input channels.
        dim: channels of every block (the isotropic ConvNeXt's name for its one width).
        depth: number of blocks.
        kernel_size: depthwise kernel of every block (odd; 3 -> 31 in the notebook).
        patch: stem stride (= its kernel): 8 turns a 64 px canvas into an 8 x 8 map.
        mlp_ratio: inverted-bottleneck expansion (4, as ConvNeXt).
        ls_init_value: layer-scale init; ``None`` (default) disables it, because a 1e-6 layer
            scale makes every block start as the identity, which minute-long trainings cannot undo.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 1,
        dim: int = 32,
        depth: int = 4,
        kernel_size: int = 7,
        patch: int = 8,
        mlp_ratio: float = 4.0,
        ls_init_value: float | None = None,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        self.kernel_size = kernel_size
        self.stem = nn.Sequential(nn.Conv2d(in_chans, dim, patch, patch), LayerNorm2d(dim))
        self.stages = nn.Sequential(
            *[ConvNeXtBlock(dim, kernel_size, mlp_ratio, ls_init_value=ls_init_value) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.init_head(dim, num_classes)
        trunc_normal_init(self)  # ConvNeXt's init: truncated normal std 0.02, zero biases

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Global average, then LayerNorm (as ConvNeXt)."""
        return self.norm(x.mean((2, 3)))


@register_model(
    default_input_size=(1, 64, 64),
    paper="(none: isotropic mini-ConvNeXt after Liu et al., CVPR 2022, for kernel-size sweeps)",
    tags=("large_kernel_convnets",),
)
def lk_convnext(
    num_classes: int = 1000,
    in_chans: int = 1,
    width_mult: float = 1.0,
    small_input: bool = False,
    kernel_size: int = 7,
    dim: int = 32,
    depth: int = 4,
    patch: int | None = None,
    **kwargs,
) -> IsotropicConvNeXt:
    """Isotropic mini-ConvNeXt (1 x 64 x 64 input: the long-range pair canvas).

    Args:
        num_classes, in_chans: classifier outputs and input channels.
        width_mult: multiplier on ``dim`` (divisor 8).
        small_input: for 28 px images the stem is 4 x 4 stride 4 (a 7 x 7 map) instead of
            8 x 8 stride 8 (an 8 x 8 map at 64 px): both give the blocks a map of about the same
            size, and a small map keeps the minutes-long trainings cheap. On an 8 x 8 map a
            kernel of 15 reaches every position from every position.
        kernel_size: depthwise kernel of every block.
        dim, depth: channels and blocks.
        patch: stem stride, overriding the ``small_input`` choice.
        **kwargs: passed to :class:`IsotropicConvNeXt` (``mlp_ratio``, ``ls_init_value``).
    """
    return IsotropicConvNeXt(
        num_classes, in_chans, scale_channels(dim, width_mult), depth, kernel_size,
        patch=patch or (4 if small_input else 8), **kwargs,
    )  # fmt: skip
