"""Classic CNN super-resolution: SRCNN, FSRCNN, ESPCN; plus the conventions of every SR model.

Conventions shared by all ``task="super_resolution"`` models (this module and
:mod:`workbench.models.sr_efficient`):

* ``forward(lr)`` takes the low-resolution image ``(B, in_chans, H, W)`` and returns
  ``(B, in_chans, scale * H, scale * W)``. ``in_chans`` is 3 (RGB, the default) or 1 (the Y
  channel of YCbCr, on which SRCNN, FSRCNN and ESPCN were trained and evaluated).
* Names are ``<family>_x<scale>``; ``default_input_size`` is the LR size whose output is a
  1280x720 (720p) image, the resolution at which CARN, IMDN, PAN and the NTIRE/AIM efficient-SR
  challenges report Mult-Adds: x2 -> 640x360, x4 -> 320x180, x3 -> 427x240 (1280/3 = 426.7 is
  rounded up, so x3 outputs are 1281x720, 0.08 % more pixels than 720p).
* ``macs`` (:func:`workbench.measure.count_macs`) count convolutions only. Interpolations
  (SRCNN's bicubic input, PAN's bilinear skip and nearest upsampling) and pixel shuffles are not
  multiply-adds, as in the papers' Mult-Adds columns.
* ``width_mult`` rescales every feature width through the zoo's one width rule,
  :func:`~workbench.layers.conv.scale_channels` with divisor :data:`SR_DIVISOR` = 4 (the IMDN
  split and CARN-M groups need multiples of 4); ``None`` keeps the paper's widths. ``small_input``
  is accepted and ignored: SR nets have no downsampling to adapt.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..layers.activations import get_act
from ..layers.conv import scale_channels
from ..layers.sr import SubPixelConv
from ._factory import register_model

__all__ = ["ESPCN", "FSRCNN", "SRCNN", "SR_DIVISOR", "lr_input_size", "register_sr_family"]

# LR (H, W) whose xN output is 720p (see the module docstring for the x3 rounding).
_LR_HW = {2: (360, 640), 3: (240, 427), 4: (180, 320)}


def lr_input_size(scale: int, in_chans: int = 3) -> tuple[int, int, int]:
    """``(C, H, W)`` of the LR input whose ``scale``-times output is (about) 1280x720.

    Raises:
        ValueError: for a scale other than 2, 3 or 4.
    """
    if scale not in _LR_HW:
        raise ValueError(f"scale must be one of {sorted(_LR_HW)}, got {scale}")
    return (in_chans, *_LR_HW[scale])


SR_DIVISOR = 4
"""SR widths scale to multiples of 4 (IMDN's four-way split, CARN-M's groups of 4 channels)."""


def check_scale(scale: int, valid: tuple[int, ...] = (2, 3, 4)) -> int:
    """Return ``scale`` if the architecture supports it, else raise ``ValueError``."""
    if scale not in valid:
        raise ValueError(f"scale must be one of {valid}, got {scale}")
    return scale


def _act(name: str) -> nn.Module:
    # ESPCN's tanh is not in the shared activation table (workbench.layers.activations).
    return nn.Tanh() if name == "tanh" else get_act(name)


class SRCNN(nn.Module):
    """SRCNN (Dong et al., ECCV 2014; TPAMI 2016): three convolutions on the bicubic-upscaled image.

    ``f1-f2-f3`` kernels with ``n1, n2`` filters (9-1-5 with 64/32 is the ECCV 2014 network;
    TPAMI's best is 9-5-5). ReLU after the first two layers. Unlike the paper, which used valid
    convolutions (for 9-1-5 the output is 12 px smaller in each dimension), every layer is padded so the
    output has exactly ``scale`` times the input size.

    MACs convention: ``forward`` takes the LR image and upsamples it with bicubic interpolation
    (``align_corners=False``; not counted), so the three convolutions run at HR resolution: at
    the default input the count is the cost of producing a 720p output, directly comparable with
    the literature's SRCNN row (57K params, 52.7G Mult-Adds for Y-channel 9-5-5). With
    ``pre_upsampled=True`` the model takes the already-upscaled image (the paper's pipeline) and
    its ``default_input_size`` is the HR size.

    Args:
        scale: upscaling factor (2, 3 or 4).
        in_chans: image channels (1 = Y channel as in the paper; 3 = RGB).
        kernel_sizes: ``(f1, f2, f3)``.
        widths: ``(n1, n2)``.
        pre_upsampled: the input is already bicubic-upscaled (skip the internal interpolation).
    """

    def __init__(
        self,
        scale: int,
        in_chans: int = 3,
        kernel_sizes: tuple[int, int, int] = (9, 1, 5),
        widths: tuple[int, int] = (64, 32),
        pre_upsampled: bool = False,
        width_mult: float | None = None,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        self.scale = check_scale(scale)
        n1, n2 = (scale_channels(w, width_mult, SR_DIVISOR) for w in widths)
        f1, f2, f3 = kernel_sizes
        if pre_upsampled:
            _, h, w = lr_input_size(scale, in_chans)
            self.default_input_size = (in_chans, h * scale, w * scale)
        self.upsample = (
            nn.Identity()
            if pre_upsampled
            else nn.Upsample(scale_factor=scale, mode="bicubic", align_corners=False)
        )
        self.body = nn.Sequential(
            nn.Conv2d(in_chans, n1, f1, padding=f1 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(n1, n2, f2, padding=f2 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(n2, in_chans, f3, padding=f3 // 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.upsample(x))


class FSRCNN(nn.Module):
    """FSRCNN(d, s, m) (Dong et al., "Accelerating the Super-Resolution CNN", ECCV 2016).

    An hourglass in LR space -- feature extraction conv5x5 (d), shrinking conv1x1 (s), ``m``
    mapping conv3x3 (s), expanding conv1x1 (d), each followed by a channel-wise PReLU -- then a
    9x9 deconvolution with stride ``scale`` (padding 4, output padding ``scale - 1``, so the
    output is exactly ``scale`` times the input).

    MACs note: fvcore counts the deconvolution as ``d * in_chans * 81`` multiply-adds per *LR*
    pixel, the work a transposed convolution does. CARN's and later tables count it as a 9x9
    convolution over every *HR* pixel (``scale**2`` times more), which is where their 6.0G / 5.0G
    / 4.6G (x2/x3/x4) come from.

    Args:
        scale: upscaling factor (the deconvolution stride).
        in_chans: image channels (paper: 1, the Y channel).
        d, s, m: the paper's widths and mapping depth (56, 12, 4).
    """

    def __init__(
        self,
        scale: int,
        in_chans: int = 3,
        d: int = 56,
        s: int = 12,
        m: int = 4,
        width_mult: float | None = None,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        self.scale = check_scale(scale)
        d, s = scale_channels(d, width_mult, SR_DIVISOR), scale_channels(s, width_mult, SR_DIVISOR)
        layers: list[nn.Module] = [nn.Conv2d(in_chans, d, 5, padding=2), nn.PReLU(d)]
        layers += [nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        self.deconv = nn.ConvTranspose2d(
            d, in_chans, 9, stride=scale, padding=4, output_padding=scale - 1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.body(x))


class ESPCN(nn.Module):
    """ESPCN (Shi et al., CVPR 2016): two LR convolutions, then a sub-pixel convolution.

    The paper's image network: ``l = 3`` layers, ``(f1, n1) = (5, 64)``, ``(f2, n2) = (3, 32)``,
    ``f3 = 3`` producing ``in_chans * scale**2`` channels that a pixel shuffle turns into the HR
    image; tanh after the first two layers (the paper found it better than ReLU).

    Args:
        scale: upscaling factor (2, 3 or 4).
        in_chans: image channels (paper: 1, the Y channel).
        widths: ``(n1, n2)``; kernel_sizes: ``(f1, f2, f3)``.
        act: activation after the first two layers (``'tanh'`` or any
            :func:`~workbench.layers.activations.get_act` name).
    """

    def __init__(
        self,
        scale: int,
        in_chans: int = 3,
        widths: tuple[int, int] = (64, 32),
        kernel_sizes: tuple[int, int, int] = (5, 3, 3),
        act: str = "tanh",
        width_mult: float | None = None,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        self.scale = check_scale(scale)
        n1, n2 = (scale_channels(w, width_mult, SR_DIVISOR) for w in widths)
        f1, f2, f3 = kernel_sizes
        self.body = nn.Sequential(
            nn.Conv2d(in_chans, n1, f1, padding=f1 // 2),
            _act(act),
            nn.Conv2d(n1, n2, f2, padding=f2 // 2),
            _act(act),
        )
        self.upsample = SubPixelConv(n2, in_chans, scale, kernel_size=f3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.body(x))


def sr_meta(scale: int, paper: str, tags: tuple[str, ...] = ()) -> dict:
    """``register_model`` keywords shared by every SR entry point.

    Args:
        scale: upscaling factor (sets the default low-resolution input size).
        paper: short citation.
        tags: literature families besides ``efficient_sr_restoration`` (which every SR net has).
    """
    return dict(
        default_input_size=lr_input_size(scale),
        task="super_resolution",
        reference=None,
        paper=paper,
        tags=("efficient_sr_restoration", *tags),
    )


def register_sr_family(
    family: str, cls: Callable[..., nn.Module], paper: str, doc: str, tags: tuple[str, ...] = (), **fixed
) -> None:
    """Register ``<family>_x2``, ``_x3`` and ``_x4``, each building ``cls(scale=s, **fixed, **overrides)``.

    Args:
        family: name prefix (``'espcn'``).
        cls: the network class; takes ``scale`` and the ``create_model`` keywords.
        paper: short citation.
        doc: one-line description (the entry's docstring gets ``, x<scale>.`` appended).
        tags: literature families besides ``efficient_sr_restoration``.
        **fixed: constructor arguments that define the variant (``kernel_sizes=(9, 5, 5)``).
    """
    for scale in (2, 3, 4):
        register_model(_sr_entry(f"{family}_x{scale}", cls, scale, doc, fixed), **sr_meta(scale, paper, tags))


def _sr_entry(name: str, cls: Callable[..., nn.Module], scale: int, doc: str, fixed: dict) -> Callable[..., nn.Module]:
    def entry(**kwargs) -> nn.Module:
        return cls(scale=scale, **fixed, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = f"{doc}, x{scale}."
    return entry


_SRCNN = (
    "Dong et al., Image Super-Resolution Using Deep Convolutional Networks, ECCV 2014 / TPAMI 2016"
)
_FSRCNN = "Dong et al., Accelerating the Super-Resolution Convolutional Neural Network, ECCV 2016"
_ESPCN = "Shi et al., Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel CNN, CVPR 2016"


register_sr_family("srcnn", SRCNN, _SRCNN, "SRCNN 9-1-5 (64/32 filters)")
# TPAMI's best; the "SRCNN, 57K" row of later tables
register_sr_family("srcnn_955", SRCNN, _SRCNN, "SRCNN 9-5-5", kernel_sizes=(9, 5, 5))
register_sr_family("fsrcnn", FSRCNN, _FSRCNN, "FSRCNN(56, 12, 4)")
register_sr_family("espcn", ESPCN, _ESPCN, "ESPCN (5-3-3, 64/32 filters, tanh)")
