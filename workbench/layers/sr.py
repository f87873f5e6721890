"""Blocks of the efficient super-resolution (SR) networks.

technique: efficient_sr_restoration

* Sub-pixel convolution -- Shi et al., "Real-Time Single Image and Video Super-Resolution Using
  an Efficient Sub-Pixel Convolutional Neural Network" (ESPCN, CVPR 2016): a convolution in LR
  space produces ``C * s**2`` channels that :class:`torch.nn.PixelShuffle` rearranges into an
  ``s``-times larger image, so no layer ever runs on a bicubic-upsampled input.
  :class:`SubPixelConv`, :class:`SubPixelUpsampler`.
* Efficient residual block and cascading -- Ahn et al., "Fast, Accurate, and Lightweight
  Super-Resolution with Cascading Residual Network" (CARN / CARN-M, ECCV 2018).
  :class:`EResidualBlock`, :class:`Cascade`.
* Pixel attention -- Zhao et al., "Efficient Image Super-Resolution Using Pixel Attention"
  (PAN, ECCV Workshops 2020): a 1x1 conv + sigmoid gives a full C x H x W gate.
  :class:`PixelAttention`, :class:`PAConv`, :class:`SCPA`, :class:`UPA`.
* Information multi-distillation -- Hui et al., "Lightweight Image Super-Resolution with
  Information Multi-distillation Network" (IMDN, ACM MM 2019): each 3x3 conv keeps a quarter of
  its channels ("distilled") and refines the rest; a contrast-aware channel attention fuses them.
  :class:`ContrastChannelAttention`, :class:`IMDB`.

Every block keeps the spatial size (stride 1, 'same' padding) except the upsamplers. Layer
structure and bias choices follow the official code (CARN-pytorch, IMDN, PAN repositories) so
parameter counts are identical to theirs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .activations import get_act


def conv3x3(in_chs: int, out_chs: int, groups: int = 1, bias: bool = True) -> nn.Conv2d:
    """3x3 'same' convolution with bias, the unit of every SR net here."""
    return nn.Conv2d(in_chs, out_chs, 3, padding=1, groups=groups, bias=bias)


class SubPixelConv(nn.Sequential):
    """``conv(in_chs -> out_chs * scale**2) -> act -> PixelShuffle(scale)`` (ESPCN).

    The output has ``out_chs`` channels and ``scale`` times the input height and width. The
    activation (CARN puts a ReLU here; ESPCN and IMDN have none) acts before the shuffle, which
    is the same as after it because the shuffle only moves elements.

    Args:
        in_chs, out_chs: channels before the convolution and after the shuffle.
        scale: upscaling factor ``s`` (integer >= 2).
        kernel_size: of the convolution (3 in ESPCN's last layer, IMDN and CARN).
        groups: group count of the convolution (CARN-M: 4).
        act: activation name (:func:`~workbench.layers.activations.get_act`) or ``None``.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        scale: int,
        kernel_size: int = 3,
        groups: int = 1,
        act: str | None = None,
    ) -> None:
        if scale < 2:
            raise ValueError(f"scale must be an integer >= 2, got {scale}")
        super().__init__(
            nn.Conv2d(
                in_chs,
                out_chs * scale * scale,
                kernel_size,
                padding=kernel_size // 2,
                groups=groups,
            ),
            get_act(act),
            nn.PixelShuffle(scale),
        )


class SubPixelUpsampler(nn.Sequential):
    """CARN's upsampler: ``log2(scale)`` x2 sub-pixel steps for powers of two, one x3 step for 3.

    Channels are kept (``chs -> chs``); each step is ``SubPixelConv(chs, chs, s, groups, act)``.

    Raises:
        ValueError: for a scale that is neither a power of two nor 3.
    """

    def __init__(self, chs: int, scale: int, groups: int = 1, act: str | None = "relu") -> None:
        if scale == 3:
            steps = [3]
        elif scale >= 2 and scale & (scale - 1) == 0:
            steps = [2] * int(math.log2(scale))
        else:
            raise ValueError(f"scale must be 3 or a power of two, got {scale}")
        super().__init__(*[SubPixelConv(chs, chs, s, groups=groups, act=act) for s in steps])


class MeanShift(nn.Module):
    """Add ``sign * mean`` per channel: CARN subtracts the DIV2K RGB mean on entry, adds it back.

    The mean is a buffer, not a (frozen) 1x1 conv as in CARN-pytorch, so it is not counted as
    parameters (CARN-pytorch's two frozen shifters hold 24 numbers).
    """

    def __init__(self, mean: tuple[float, ...], sign: int) -> None:
        super().__init__()
        if sign not in (-1, 1):
            raise ValueError(f"sign must be -1 or 1, got {sign}")
        self.register_buffer("shift", sign * torch.tensor(mean).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift


class EResidualBlock(nn.Module):
    """CARN-M's efficient residual block: ``relu(x + conv1x1(relu(gconv3x3(relu(gconv3x3(x))))))``.

    The two 3x3 convolutions are grouped (``groups=4`` in CARN-M); the 1x1 convolution mixes
    the groups again, as in a ShuffleNet/ResNeXt unit.
    """

    def __init__(self, chs: int, groups: int = 4) -> None:
        super().__init__()
        if chs % groups:
            raise ValueError(f"channels ({chs}) must be divisible by groups ({groups})")
        self.body = nn.Sequential(
            conv3x3(chs, chs, groups=groups),
            nn.ReLU(inplace=True),
            conv3x3(chs, chs, groups=groups),
            nn.ReLU(inplace=True),
            nn.Conv2d(chs, chs, 1),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + x)


class Cascade(nn.Module):
    """CARN's cascading connection over ``units`` (used locally in a block and globally).

    ``o_0 = x``; for each step ``i``: ``b_i = unit_i(o_{i-1})``,
    ``o_i = relu(conv1x1(cat[x, b_1, ..., b_i]))``; returns the last ``o``. Every 1x1 fusion
    sees all earlier outputs, so its input has ``(i + 1) * chs`` channels.

    Args:
        units: the modules applied at each step, each ``chs -> chs``. Passing the *same* module
            several times shares its weights (CARN-M's recursive cascading block); PyTorch
            counts a shared parameter once.
        chs: channels of ``x`` and of every unit's output.
    """

    def __init__(self, units: list[nn.Module], chs: int) -> None:
        super().__init__()
        self.units = nn.ModuleList(units)
        self.fuses = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chs * (i + 2), chs, 1), nn.ReLU(inplace=True))
            for i in range(len(units))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, o = x, x
        for unit, fuse in zip(self.units, self.fuses, strict=True):
            c = torch.cat([c, unit(o)], dim=1)
            o = fuse(c)
        return o


class PixelAttention(nn.Module):
    """PA: ``x * sigmoid(conv1x1(x))`` -- a gate per channel *and* pixel (C x H x W), in (0, 1)."""

    def __init__(self, chs: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(chs, chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv(x))


class PAConv(nn.Module):
    """PAN's attention branch: ``conv3x3_b(conv3x3_a(x) * sigmoid(conv1x1(x)))``, 3x3s bias-free."""

    def __init__(self, chs: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.gate = nn.Conv2d(chs, chs, 1)
        self.conv_a = nn.Conv2d(chs, chs, kernel_size, padding=kernel_size // 2, bias=False)
        self.conv_b = nn.Conv2d(chs, chs, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x) * torch.sigmoid(self.gate(x)))


class SCPA(nn.Module):
    """Self-calibrated block with pixel attention (PAN's trunk block; after SCNet, Liu et al. 2020).

    Two half-width branches from 1x1 convolutions: a plain 3x3 conv and :class:`PAConv`; their
    concatenation is fused by a 1x1 conv and added to the input. LeakyReLU(0.2) after every
    branch conv, as in the official code; all convolutions except PAConv's gate are bias-free.

    Args:
        chs: input/output channels (PAN: 40).
        reduction: branch width is ``chs // reduction`` (PAN: 2).
    """

    def __init__(self, chs: int, reduction: int = 2) -> None:
        super().__init__()
        if chs % reduction:
            raise ValueError(f"channels ({chs}) must be divisible by reduction ({reduction})")
        width = chs // reduction
        self.reduce_a = nn.Conv2d(chs, width, 1, bias=False)
        self.reduce_b = nn.Conv2d(chs, width, 1, bias=False)
        self.conv_a = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.pa_conv = PAConv(width)
        self.fuse = nn.Conv2d(width * reduction, chs, 1, bias=False)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.act(self.conv_a(self.act(self.reduce_a(x))))
        b = self.act(self.pa_conv(self.act(self.reduce_b(x))))
        return self.fuse(torch.cat([a, b], dim=1)) + x


class UPA(nn.Module):
    """PAN's upsampling block: nearest x``scale`` -> conv3x3 -> PA -> lrelu -> conv3x3 -> lrelu.

    Args:
        in_chs, out_chs: channels (PAN: 40 -> 24 for the first block, 24 -> 24 after).
        scale: nearest-neighbour factor of this block (PAN: 2 or 3; x4 chains two x2 blocks).
    """

    def __init__(self, in_chs: int, out_chs: int, scale: int) -> None:
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=scale, mode="nearest")
        self.conv = conv3x3(in_chs, out_chs)
        self.attn = PixelAttention(out_chs)
        self.conv_hr = conv3x3(out_chs, out_chs)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.attn(self.conv(self.upsample(x))))
        return self.act(self.conv_hr(x))


class ContrastChannelAttention(nn.Module):
    """IMDN's contrast-aware channel attention (CCA).

    Like squeeze-and-excitation, but the pooled descriptor is ``std + mean`` over H x W per
    channel (population std, as the official ``stdv_channels``), followed by
    ``conv1x1 -> relu -> conv1x1 -> sigmoid`` with bias, reduction 16.
    """

    def __init__(self, chs: int, reduction: int = 16) -> None:
        super().__init__()
        rd = max(1, chs // reduction)
        self.fc1 = nn.Conv2d(chs, rd, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(rd, chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # std and mean as two ops rather than torch.std_mean: the MAC counter has handles for both.
        std = x.std(dim=(2, 3), keepdim=True, correction=0)  # (B, C, 1, 1)
        s = std + x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(s))))


class IMDB(nn.Module):
    """Information multi-distillation block (IMDN).

    Four 3x3 convolutions in a chain. After each of the first three, ``distilled`` channels are
    split off and kept; the ``remaining`` channels feed the next conv; the fourth conv outputs
    ``distilled`` channels. The four kept parts (``4 * distilled`` = ``chs`` channels) pass
    :class:`ContrastChannelAttention` and a 1x1 conv, plus the block input. LeakyReLU(0.05) after
    the first three convolutions.

    Args:
        chs: input/output channels (IMDN: 64).
        distill_rate: fraction of channels split off per step (IMDN: 0.25 -> 16 kept, 48 go on).

    Attributes:
        distilled, remaining: the split sizes, ``int(chs * distill_rate)`` and the rest.
    """

    def __init__(self, chs: int, distill_rate: float = 0.25) -> None:
        super().__init__()
        self.distilled = int(chs * distill_rate)
        self.remaining = chs - self.distilled
        if self.distilled < 1 or self.distilled * 4 != chs:
            raise ValueError(
                f"IMDB needs 4 * int(chs * distill_rate) == chs; got chs={chs}, distill_rate={distill_rate}"
            )
        self.c1 = conv3x3(chs, chs)
        self.c2 = conv3x3(self.remaining, chs)
        self.c3 = conv3x3(self.remaining, chs)
        self.c4 = conv3x3(self.remaining, self.distilled)
        self.act = nn.LeakyReLU(0.05, inplace=True)
        self.attn = ContrastChannelAttention(self.distilled * 4)
        self.fuse = nn.Conv2d(self.distilled * 4, chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        split = (self.distilled, self.remaining)
        d1, r1 = torch.split(self.act(self.c1(x)), split, dim=1)
        d2, r2 = torch.split(self.act(self.c2(r1)), split, dim=1)
        d3, r3 = torch.split(self.act(self.c3(r2)), split, dim=1)
        d4 = self.c4(r3)
        return self.fuse(self.attn(torch.cat([d1, d2, d3, d4], dim=1))) + x


# --- efficient_sr notebook (issue 15, item 1): XLSR's blocks ---


class ClippedReLU(nn.Module):
    """``clamp(x, 0, max_value)``: XLSR's output activation (Ayazoglu, CVPRW 2021 Mobile AI).

    The network's output is an image in [0, 1]; clipping it there means the int8 quantizer of
    the last layer only has to cover [0, 1] instead of whatever range the unclipped output
    drifts to, so its step is as fine as 8 bits allow (the paper's "quantization robust" claim).
    """

    def __init__(self, max_value: float = 1.0) -> None:
        super().__init__()
        if not max_value > 0:
            raise ValueError(f"max_value must be > 0, got {max_value}")
        self.max_value = float(max_value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, self.max_value)

    def extra_repr(self) -> str:
        return f"max_value={self.max_value}"


class GBlock(nn.Module):
    """XLSR's Gblock: ``conv1x1(relu(grouped conv3x3(x)))``, ``chs -> chs``, no residual.

    The grouped 3x3 conv (``groups=4`` in XLSR) mixes space inside each group at a quarter of a
    dense conv's cost; the 1x1 conv mixes the groups again (as in ResNeXt/ShuffleNet units).
    Cost per pixel: ``9 C^2 / g + C^2`` MACs.
    """

    def __init__(self, chs: int, groups: int = 4) -> None:
        super().__init__()
        if chs % groups:
            raise ValueError(f"channels ({chs}) must be divisible by groups ({groups})")
        self.conv = conv3x3(chs, chs, groups=groups)
        self.act = nn.ReLU(inplace=True)
        self.mix = nn.Conv2d(chs, chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix(self.act(self.conv(x)))
