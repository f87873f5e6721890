"""Efficient super-resolution: CARN-M, PAN, IMDN (conventions: :mod:`workbench.models.sr`).

Each class follows its official PyTorch code (CARN-pytorch ``carn/model/carn_m.py``,
IMDN ``model/architecture.py``, PAN ``codes/models/archs/PAN_arch.py``) layer for layer, so
single-scale parameter counts are identical to those implementations.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers.conv import scale_channels
from ..layers.sr import (
    IMDB,
    SCPA,
    UPA,
    Cascade,
    EResidualBlock,
    MeanShift,
    SubPixelConv,
    SubPixelUpsampler,
    conv3x3,
)
from .sr import SR_DIVISOR, check_scale, register_sr_family

__all__ = ["CARNM", "IMDN", "PAN"]

# DIV2K training-set RGB mean, subtracted on entry and added back on exit by CARN.
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


class CARNM(nn.Module):
    """CARN-M (Ahn et al., ECCV 2018): cascading blocks of one shared efficient residual block.

    ``entry conv3x3 -> global Cascade over num_blocks cascading blocks -> SubPixelUpsampler ->
    exit conv3x3``, with the DIV2K mean subtracted before and added after. Each cascading block
    is a :class:`~workbench.layers.sr.Cascade` that applies the *same*
    :class:`~workbench.layers.sr.EResidualBlock` ``depth`` times (CARN-M's recursion); the
    upsampler's convolutions are grouped like the residual blocks (official code, ``--group 4``).

    This is a single-scale model: the published 412K parameters are for CARN-M trained with
    multi-scale learning, which holds x2, x3 and x4 upsamplers at once (see datasets/claims/sr.csv).

    Args:
        scale: 2, 3 or 4.
        in_chans: image channels. For ``in_chans != 3`` the mean shift uses the average of the
            DIV2K RGB mean for every channel.
        chs: feature width (64); groups: group count of the grouped convolutions (4).
        num_blocks: cascading blocks (3); depth: residual-block applications per block (3).
    """

    def __init__(
        self,
        scale: int,
        in_chans: int = 3,
        chs: int = 64,
        groups: int = 4,
        num_blocks: int = 3,
        depth: int = 3,
        width_mult: float | None = None,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        self.scale = check_scale(scale)
        chs = scale_channels(chs, width_mult, SR_DIVISOR)
        mean = DIV2K_RGB_MEAN if in_chans == 3 else (sum(DIV2K_RGB_MEAN) / 3,) * in_chans
        self.sub_mean = MeanShift(mean, -1)
        self.entry = conv3x3(in_chans, chs)
        blocks = []
        for _ in range(num_blocks):
            shared = EResidualBlock(chs, groups)
            blocks.append(Cascade([shared] * depth, chs))
        self.body = Cascade(blocks, chs)
        self.upsample = SubPixelUpsampler(chs, scale, groups=groups, act="relu")
        self.exit = conv3x3(chs, in_chans)
        self.add_mean = MeanShift(mean, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(self.entry(self.sub_mean(x)))
        return self.add_mean(self.exit(self.upsample(x)))


class PAN(nn.Module):
    """PAN (Zhao et al., ECCV Workshops 2020): SC-PA trunk, U-PA upsampling, bilinear skip.

    ``conv_first -> (SCPA x num_blocks -> trunk conv) + residual -> U-PA blocks (one x2/x3
    block, or two x2 blocks for x4) -> conv_last``, plus the bilinearly upsampled input.

    Args:
        scale: 2, 3 or 4.
        in_chans: image channels.
        chs: trunk width ``nf`` (40); up_chs: upsampling width ``unf`` (24);
        num_blocks: SC-PA blocks ``nb`` (16). Same for every scale (official configs).
    """

    def __init__(
        self,
        scale: int,
        in_chans: int = 3,
        chs: int = 40,
        up_chs: int = 24,
        num_blocks: int = 16,
        width_mult: float | None = None,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        self.scale = check_scale(scale)
        chs, up_chs = scale_channels(chs, width_mult, SR_DIVISOR), scale_channels(up_chs, width_mult, SR_DIVISOR)
        self.conv_first = conv3x3(in_chans, chs)
        self.body = nn.Sequential(*[SCPA(chs) for _ in range(num_blocks)])
        self.trunk_conv = conv3x3(chs, chs)
        steps = [2, 2] if scale == 4 else [scale]
        self.upsample = nn.Sequential(
            *[UPA(chs if i == 0 else up_chs, up_chs, s) for i, s in enumerate(steps)]
        )
        self.conv_last = conv3x3(up_chs, in_chans)
        self.skip = nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self.body(fea))
        return self.conv_last(self.upsample(fea)) + self.skip(x)


class IMDN(nn.Module):
    """IMDN (Hui et al., ACM MM 2019): cascaded IMDBs, 1x1 fusion of all their outputs, sub-pixel.

    ``fea_conv -> IMDB x num_blocks -> cat -> conv1x1 + lrelu(0.05) -> conv3x3 (+ fea) ->
    conv3x3(chs -> in_chans * scale**2) -> PixelShuffle``.

    Args:
        scale: 2, 3 or 4.
        in_chans: image channels.
        chs: feature width (64); num_blocks: IMDBs (6).
    """

    def __init__(
        self,
        scale: int,
        in_chans: int = 3,
        chs: int = 64,
        num_blocks: int = 6,
        width_mult: float | None = None,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        self.scale = check_scale(scale)
        chs = scale_channels(chs, width_mult, SR_DIVISOR)
        self.fea_conv = conv3x3(in_chans, chs)
        self.blocks = nn.ModuleList(IMDB(chs) for _ in range(num_blocks))
        self.fuse = nn.Sequential(
            nn.Conv2d(chs * num_blocks, chs, 1), nn.LeakyReLU(0.05, inplace=True)
        )
        self.lr_conv = conv3x3(chs, chs)
        self.upsample = SubPixelConv(chs, in_chans, scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.fea_conv(x)
        outs, out = [], fea
        for block in self.blocks:
            out = block(out)
            outs.append(out)
        out = self.lr_conv(self.fuse(torch.cat(outs, dim=1))) + fea
        return self.upsample(out)


_CARN = "Ahn et al., Fast, Accurate, and Lightweight Super-Resolution with Cascading Residual Network, ECCV 2018"
_PAN = "Zhao et al., Efficient Image Super-Resolution Using Pixel Attention, ECCV Workshops 2020"
_IMDN = "Hui et al., Lightweight Image Super-Resolution with Information Multi-distillation Network, ACM MM 2019"


register_sr_family("carn_m", CARNM, _CARN, "CARN-M (single-scale)", ("cheap_operators",))
register_sr_family("pan", PAN, _PAN, "PAN (nf=40, unf=24, nb=16)")
register_sr_family("imdn", IMDN, _IMDN, "IMDN (64 channels, 6 IMDBs)", ("channel_attention",))
