"""XLSR (Ayazoglu, "Extremely Lightweight Quantization Robust Real-Time Single-Image Super
Resolution for Mobile Devices", CVPR Workshops 2021, Mobile AI challenge winner).

Conventions as every SR model (:mod:`workbench.models.sr`). The seed abstract gives the design
("building block inspired from root modules", "Clipped ReLU at the last layer" for uint8
robustness, "30x fewer parameters than VDSR"); the full paper is not in the seeds, so the layer
sizes follow a public PyTorch re-implementation of the paper's network (a Mobile AI challenge
XLSR baseline), checked only against the abstract: at x3 the model has 21,947 parameters, and
VDSR's 665K (as printed in CARN's comparison table) / 21,947 = 30.3, the abstract's "30x".
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..layers.conv import scale_channels
from ..layers.sr import ClippedReLU, GBlock, conv3x3
from .sr import SR_DIVISOR, check_scale, register_sr_family

__all__ = ["XLSR"]


class XLSR(nn.Module):
    """XLSR: root module, Gblocks, a 3x3 input skip, sub-pixel output, clipped ReLU.

    ``root = cat[relu(conv3x3_i(x)) for i in 1..4]`` (4 x 8 channels, the "root module": four
    narrow convolutions in parallel, one per NPU core; mathematically one 3x3 conv with 32
    outputs) ``-> conv1x1 -> Gblock x 3 -> cat[., conv3x3(x) (16 ch)] -> relu(conv1x1 48 -> 32)
    -> conv3x3(32 -> in_chans * scale**2) -> PixelShuffle -> ClippedReLU(0, 1)``.

    Args:
        scale: 2, 3 or 4.
        in_chans: image channels (3: RGB, as in the challenge).
        chs: feature width (32); branches: parallel root convolutions (4, each ``chs / 4`` wide).
        skip_chs: width of the input skip conv (16).
        num_blocks: Gblocks (3); groups: their grouped-conv groups (4).
        clip: ``True`` ends with :class:`~workbench.layers.sr.ClippedReLU` (the paper);
            ``False`` leaves the output unbounded (the ablation of the int8 claim).
        init_scale: He-normal variance factor of the paper's Keras initializer (0.1).
    """

    def __init__(
        self,
        scale: int,
        in_chans: int = 3,
        chs: int = 32,
        branches: int = 4,
        skip_chs: int = 16,
        num_blocks: int = 3,
        groups: int = 4,
        clip: bool = True,
        init_scale: float = 0.1,
        width_mult: float | None = None,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        self.scale = check_scale(scale)
        chs = scale_channels(chs, width_mult, SR_DIVISOR)
        skip_chs = scale_channels(skip_chs, width_mult, SR_DIVISOR)
        if chs % branches:
            raise ValueError(f"channels ({chs}) must be divisible by branches ({branches})")
        self.root = nn.ModuleList(
            nn.Sequential(conv3x3(in_chans, chs // branches), nn.ReLU(inplace=True)) for _ in range(branches)
        )
        self.root_mix = nn.Conv2d(chs, chs, 1)
        self.blocks = nn.Sequential(*[GBlock(chs, groups) for _ in range(num_blocks)])
        self.skip = conv3x3(in_chans, skip_chs)
        self.merge = nn.Sequential(nn.Conv2d(chs + skip_chs, chs, 1), nn.ReLU(inplace=True))
        self.tail = conv3x3(chs, in_chans * scale * scale)
        self.shuffle = nn.PixelShuffle(scale)
        self.out_act = ClippedReLU(1.0) if clip else nn.Identity()
        self._init(init_scale)

    def _init(self, init_scale: float) -> None:
        # Keras HeNormal with scale 0.1 (the paper's code): small outputs at the start, so the
        # clipped output begins inside its linear range rather than saturated.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 * init_scale / fan_in))
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.blocks(self.root_mix(torch.cat([b(x) for b in self.root], dim=1)))
        fea = self.merge(torch.cat([fea, self.skip(x)], dim=1))
        return self.out_act(self.shuffle(self.tail(fea)))


_XLSR = (
    "Ayazoglu, Extremely Lightweight Quantization Robust Real-Time Single-Image Super Resolution "
    "for Mobile Devices, CVPR Workshops 2021"
)

register_sr_family("xlsr", XLSR, _XLSR, "XLSR (root module 4x8, 3 Gblocks, clipped ReLU)", ("quantization", "mobile_cnn"))
