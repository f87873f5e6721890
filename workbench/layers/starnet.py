"""StarNet's block: the 'star operation', an element-wise product of two linear branches.

technique: cheap_operators

Ma et al., "Rewrite the Stars" (CVPR 2024). ``act(W1 x) * (W2 x)`` (Sec. 3): one element-wise
multiply of two 1x1-conv branches behaves like a kernel map into an implicitly
``(d^2)/2``-dimensional feature space, at the cost of the two projections only -- no attention,
no large hidden width. The block around it is a MobileNeXt/ConvNeXt-like sandwich:

    x + dw7x7(g(act(f1(dw7x7_bn(x))) * f2(dw7x7_bn(x))))

with BN after the first depthwise conv and after ``g`` (both fold away at deployment). Every
conv keeps its bias, as the official code (so the parameter count is the paper's).
"""

from __future__ import annotations

import torch
from torch import nn

from .activations import get_act
from .metaformer import DropPath


class ConvBN(nn.Sequential):
    """``Conv2d`` (with bias) followed by BatchNorm (or nothing with ``bn=False``).

    Args:
        in_chs, out_chs: channels.
        kernel_size, stride, groups: as ``nn.Conv2d``; padding is 'same' for odd kernels.
        bn: add BatchNorm.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 1, stride: int = 1, groups: int = 1, bn: bool = True) -> None:
        super().__init__(
            nn.Conv2d(in_chs, out_chs, kernel_size, stride, (kernel_size - 1) // 2, groups=groups),
            nn.BatchNorm2d(out_chs) if bn else nn.Identity(),
        )


class StarBlock(nn.Module):
    """StarNet block: ``x + dw2(g(act(f1(y)) * f2(y)))`` with ``y = dw1(x)``.

    Args:
        dim: channels (in = out).
        mlp_ratio: width of the two branches, ``mlp_ratio * dim`` (StarNet: 3 or 4).
        kernel_size: depthwise kernel (7).
        act: activation on the first branch only (ReLU6 in the paper).
        drop_path: stochastic-depth probability.
    """

    def __init__(self, dim: int, mlp_ratio: int = 4, kernel_size: int = 7, act: str = "relu6", drop_path: float = 0.0) -> None:
        super().__init__()
        hidden = mlp_ratio * dim
        self.dwconv = ConvBN(dim, dim, kernel_size, groups=dim)
        self.f1 = ConvBN(dim, hidden, bn=False)
        self.f2 = ConvBN(dim, hidden, bn=False)
        self.g = ConvBN(hidden, dim)
        self.dwconv2 = ConvBN(dim, dim, kernel_size, groups=dim, bn=False)
        self.act = get_act(act)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x)
        y = self.act(self.f1(y)) * self.f2(y)  # the star operation
        return x + self.drop_path(self.dwconv2(self.g(y)))
