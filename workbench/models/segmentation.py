"""Semantic segmenters: LR-ASPP and an ASPP head on a zoo MobileNetV3, and a small U-Net.

All map ``(B, C, H, W)`` images to ``(B, K, H, W)`` class logits at the input resolution.

* :func:`lraspp_mobilenetv3` -- MobileNetV3's Lite R-ASPP (Howard et al., ICCV 2019, Sec. 6.4;
  torchvision's ``lraspp_mobilenet_v3_large`` is the reference): on the deep features a 1x1
  conv-BN-ReLU (128) gated by a global-pool 1x1 conv + sigmoid (an SE-like attention), upsampled
  and classified, plus a 1x1 classifier of the stride-8 features.
* :func:`deeplabv3_mobilenetv3` -- the heavier DeepLabV3 head (Chen et al., 2017): ASPP with a 1x1
  branch, three dilated 3x3 branches and an image-pooling branch, a 1x1 projection, a 3x3 conv and
  the classifier (torchvision's ``deeplabv3_mobilenet_v3_large`` head).
* :func:`unet_small` -- a small U-Net (Ronneberger et al., 2015): two 3x3 conv-BN-ReLU per level,
  max-pool down, bilinear up + skip concatenation.

Unlike torchvision, the backbone's last stage is not dilated: the deep features are the stage
output at the requested stride (16 on the mosaics, 32 for the real-resolution latency runs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import ConvNormAct
from ._factory import register_model
from .detection import FeatureTaps

__all__ = ["ASPPHead", "LRASPP", "UNet", "deeplabv3_mobilenetv3", "lraspp_mobilenetv3", "real_segmenters", "unet_small"]

_TAGS = ("efficient_detection_segmentation", "mobile_cnn")
_MOSAIC = (1, 96, 96)


class LRASPP(nn.Module):
    """Lite R-ASPP on a zoo MobileNet (see the module docstring)."""

    def __init__(
        self, backbone: str = "mobilenetv3_large_100", *, num_classes: int = 11, in_chans: int = 1, width_mult: float = 1.0,
        image_size: int = 96, taps: tuple[int, int] = (8, 16), inter_channels: int = 128,
    ) -> None:  # fmt: skip
        super().__init__()
        self.features = FeatureTaps(backbone, tuple(taps), width_mult=width_mult, in_chans=in_chans, image_size=image_size)
        low, high = self.features.channels
        self.cbr = ConvNormAct(high, inter_channels, 1, act="relu")
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(high, inter_channels, 1, bias=False), nn.Sigmoid())
        self.low_classifier = nn.Conv2d(low, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter_channels, num_classes, 1)
        self.default_input_size = (in_chans, image_size, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low, high = self.features(x)
        y = self.cbr(high) * self.scale(high)
        y = F.interpolate(y, size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = self.low_classifier(low) + self.high_classifier(y)
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


class ASPPHead(nn.Module):
    """DeepLabV3 head on a zoo MobileNet: ASPP (1x1, three dilated 3x3, image pooling) -> 1x1 -> 3x3 -> classifier."""

    def __init__(
        self, backbone: str = "mobilenetv3_large_100", *, num_classes: int = 11, in_chans: int = 1, width_mult: float = 1.0,
        image_size: int = 96, tap: int = 16, channels: int = 256, rates: tuple[int, int, int] = (12, 24, 36),
    ) -> None:  # fmt: skip
        super().__init__()
        self.features = FeatureTaps(backbone, (tap,), width_mult=width_mult, in_chans=in_chans, image_size=image_size)
        c = self.features.channels[0]
        self.branches = nn.ModuleList(
            [ConvNormAct(c, channels, 1, act="relu")]
            + [ConvNormAct(c, channels, 3, dilation=r, padding=r, act="relu") for r in rates]
        )
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), ConvNormAct(c, channels, 1, act="relu", norm=False))
        self.project = ConvNormAct(channels * (len(rates) + 2), channels, 1, act="relu")
        self.head = nn.Sequential(ConvNormAct(channels, channels, 3, act="relu"), nn.Conv2d(channels, num_classes, 1))
        self.default_input_size = (in_chans, image_size, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (f,) = self.features(x)
        outs = [b(f) for b in self.branches]
        outs.append(self.pool(f).expand(-1, -1, *f.shape[-2:]))
        y = self.head(self.project(torch.cat(outs, 1)))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


class UNet(nn.Module):
    """A small U-Net: ``widths`` per level, two 3x3 conv-BN-ReLU each, max-pool down, bilinear up + concat.

    ``stem_stride=2`` starts with a stride-2 3x3 conv and ends with a bilinear x2 upsampling of the
    logits: a quarter of the full-resolution convolutions, which dominate a U-Net's MACs.
    """

    def __init__(self, *, num_classes: int = 11, in_chans: int = 1, widths: tuple[int, ...] = (16, 32, 64, 128), image_size: int = 96,
                 stem_stride: int = 1) -> None:  # fmt: skip
        super().__init__()
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride}")
        self.stem = ConvNormAct(in_chans, widths[0], 3, stride=2, act="relu") if stem_stride == 2 else nn.Identity()
        self.default_input_size = (in_chans, image_size, image_size)
        first = widths[0] if stem_stride == 2 else in_chans

        def block(ci: int, co: int) -> nn.Sequential:
            return nn.Sequential(ConvNormAct(ci, co, 3, act="relu"), ConvNormAct(co, co, 3, act="relu"))

        self.down = nn.ModuleList()
        c = first
        for w in widths:
            self.down.append(block(c, w))
            c = w
        self.up = nn.ModuleList(block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(len(widths) - 1)))
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        x = self.stem(x)
        skips = []
        for i, blk in enumerate(self.down):
            x = blk(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for blk, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = blk(torch.cat([x, skip], 1))
        y = self.classifier(x)
        return y if y.shape[-2:] == size else F.interpolate(y, size=size, mode="bilinear", align_corners=False)


@register_model(default_input_size=_MOSAIC, task="segmentation", tags=_TAGS,
                paper="Howard et al., Searching for MobileNetV3, ICCV 2019 (LR-ASPP)")  # fmt: skip
def lraspp_mobilenetv3(num_classes: int = 11, in_chans: int = 1, width_mult: float = 1.0, image_size: int = 96,
                       backbone: str = "mobilenetv3_large_100", **kw) -> LRASPP:  # fmt: skip
    """LR-ASPP on MobileNetV3 (mosaic defaults; ``in_chans=3, num_classes=19, taps=(8, 32)`` for Cityscapes-sized runs)."""
    return LRASPP(backbone, num_classes=num_classes, in_chans=in_chans, width_mult=width_mult, image_size=image_size, **kw)


@register_model(default_input_size=_MOSAIC, task="segmentation", tags=_TAGS,
                paper="Chen et al., Rethinking Atrous Convolution for Semantic Image Segmentation (DeepLabV3), 2017")  # fmt: skip
def deeplabv3_mobilenetv3(num_classes: int = 11, in_chans: int = 1, width_mult: float = 1.0, image_size: int = 96,
                          backbone: str = "mobilenetv3_large_100", **kw) -> ASPPHead:  # fmt: skip
    """DeepLabV3's ASPP head on MobileNetV3 (torchvision's: 256 channels, rates 12, 24, 36)."""
    return ASPPHead(backbone, num_classes=num_classes, in_chans=in_chans, width_mult=width_mult, image_size=image_size, **kw)


@register_model(default_input_size=_MOSAIC, task="segmentation", tags=("efficient_detection_segmentation",),
                paper="Ronneberger et al., U-Net, MICCAI 2015 (small widths)")  # fmt: skip
def unet_small(num_classes: int = 11, in_chans: int = 1, image_size: int = 96, **kw) -> UNet:
    """A small U-Net (widths 16-32-64-128)."""
    return UNet(num_classes=num_classes, in_chans=in_chans, image_size=image_size, **kw)


def real_segmenters(image_height: int = 512, image_width: int = 1024, *, num_classes: int = 19) -> dict[str, nn.Module]:
    """The three heads at a real (Cityscapes-like, RGB, 19 classes) input size, for latency.

    LR-ASPP and ASPP on MobileNetV3-Large 1.0 with the deep features at stride 32 (the backbone
    is not dilated here); torchvision's DeepLabV3 head (256 channels, rates 12, 24, 36); the small
    U-Net at widths 16-32-64-128 (full-resolution first level). ``default_input_size`` is
    ``(3, image_height, image_width)`` so the measure layer times them at that size.
    """
    models = {
        "LR-ASPP": lraspp_mobilenetv3(num_classes=num_classes, in_chans=3, image_size=min(image_height, image_width), taps=(8, 32)),
        "ASPP (DeepLabV3 head)": deeplabv3_mobilenetv3(num_classes=num_classes, in_chans=3, image_size=min(image_height, image_width), tap=32),
        "small U-Net": unet_small(num_classes=num_classes, in_chans=3),
    }
    for m in models.values():
        m.default_input_size = (3, image_height, image_width)
    return models
