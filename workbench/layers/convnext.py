"""ConvNeXt block: large-kernel depthwise conv, LayerNorm, inverted MLP, layer scale.

technique: large_kernel_convnets

Liu et al., "A ConvNet for the 2020s" (CVPR 2022). A ResNet "modernized" step by step toward a
Swin Transformer: 7x7 depthwise conv (a local attention window), one LayerNorm per block,
4x inverted bottleneck with GELU, per-channel layer scale initialized to 1e-6, stochastic depth.
Layout as timm's ``ConvNeXtBlock`` with ``conv_mlp=False`` (the MLP runs channels-last as
``nn.Linear``, the faster choice on CPU and the official implementation's).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import StochasticDepth

from .activations import get_act
from .metaformer import LayerScale


class ConvNeXtBlock(nn.Module):
    """``x + drop_path(gamma * fc2(act(fc1(LN(dwconv7x7(x))))))``.

    Args:
        chs: channels (in = out).
        kernel_size: depthwise kernel (7 in the paper; Sec. 2.5 sweeps 3-11).
        mlp_ratio: expansion of the inverted bottleneck (4).
        ls_init_value: initial layer scale; ``None`` disables layer scale.
        drop_path: stochastic-depth probability of this block (0 = off).
        act: MLP activation.
    """

    def __init__(
        self,
        chs: int,
        kernel_size: int = 7,
        mlp_ratio: float = 4.0,
        ls_init_value: float | None = 1e-6,
        drop_path: float = 0.0,
        act: str = "gelu",
    ) -> None:
        super().__init__()
        hidden = int(mlp_ratio * chs)
        self.conv_dw = nn.Conv2d(chs, chs, kernel_size, padding=kernel_size // 2, groups=chs)
        self.norm = nn.LayerNorm(chs, eps=1e-6)
        self.fc1 = nn.Linear(chs, hidden)
        self.act = get_act(act)
        self.fc2 = nn.Linear(hidden, chs)
        self.ls = LayerScale(chs, ls_init_value) if ls_init_value is not None else nn.Identity()
        self.drop_path = StochasticDepth(drop_path, "row") if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_dw(x)
        x = x.permute(0, 2, 3, 1)  # (B, H, W, C): LayerNorm and Linear act on the last dim
        x = self.ls(self.fc2(self.act(self.fc1(self.norm(x)))))
        x = x.permute(0, 3, 1, 2)
        return self.drop_path(x) + shortcut
