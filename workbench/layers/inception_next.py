"""InceptionNeXt's token mixer: an Inception-style split of a large depthwise kernel.

technique: large_kernel_convnets

Yu et al., "InceptionNeXt: When Inception Meets ConvNeXt" (CVPR 2024). A large k x k depthwise
conv is memory-bound and slow although its MACs are small; InceptionNeXt keeps a large
receptive field at a fraction of the memory traffic by splitting the channels (Sec. 3.2):

* ``C - 3 g`` channels pass unchanged (identity: most channels need no spatial mixing);
* ``g`` channels get a 3x3 depthwise conv;
* ``g`` channels a 1 x k band (horizontal) and ``g`` channels a k x 1 band (vertical),
  k = 11 in the paper (9 in the atto model),

with ``g = branch_ratio * C`` (1/8; 1/4 in atto). :class:`MetaNeXtBlock` wraps it as a MetaFormer
block with one residual: ``x + gamma * mlp(BN(mixer(x)))``.
"""

from __future__ import annotations

import torch
from torch import nn

from .metaformer import ConvMlp, DropPath, LayerScale2d


class InceptionDWConv2d(nn.Module):
    """Identity / 3x3 / 1xk / kx1 depthwise branches on a channel split, concatenated.

    Args:
        chs: channels (in = out).
        square_kernel_size: kernel of the square branch (3).
        band_kernel_size: length ``k`` of the two band kernels (11; 9 in InceptionNeXt-atto).
        branch_ratio: fraction of the channels each conv branch gets (``g = int(C * ratio)``).

    Raises:
        ValueError: ``branch_ratio`` leaves no channel to a conv branch or more than all of them.
    """

    def __init__(self, chs: int, square_kernel_size: int = 3, band_kernel_size: int = 11, branch_ratio: float = 0.125) -> None:
        super().__init__()
        g = int(chs * branch_ratio)
        if not (1 <= g and 3 * g <= chs):
            raise ValueError(f"branch_ratio={branch_ratio} gives {g} channels per branch for {chs} channels; need 1 <= g <= chs/3")
        k, s = band_kernel_size, square_kernel_size
        self.dwconv_hw = nn.Conv2d(g, g, s, padding=s // 2, groups=g)
        self.dwconv_w = nn.Conv2d(g, g, (1, k), padding=(0, k // 2), groups=g)
        self.dwconv_h = nn.Conv2d(g, g, (k, 1), padding=(k // 2, 0), groups=g)
        self.split_sizes = (chs - 3 * g, g, g, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_id, x_hw, x_w, x_h = torch.split(x, self.split_sizes, dim=1)
        return torch.cat((x_id, self.dwconv_hw(x_hw), self.dwconv_w(x_w), self.dwconv_h(x_h)), dim=1)


class MetaNeXtBlock(nn.Module):
    """``x + drop_path(gamma * mlp(BN(mixer(x))))``: one residual around mixer, norm and MLP.

    Args:
        chs: channels.
        mlp_ratio: hidden width of the 1x1-conv MLP (4; 3 in the last stage).
        ls_init_value: initial layer scale ``gamma`` (1e-6); ``None`` disables it.
        drop_path: stochastic-depth probability.
        act: MLP activation.
        **mixer_kwargs: options of :class:`InceptionDWConv2d`.
    """

    def __init__(
        self,
        chs: int,
        mlp_ratio: float = 4.0,
        ls_init_value: float | None = 1e-6,
        drop_path: float = 0.0,
        act: str = "gelu",
        **mixer_kwargs,
    ) -> None:
        super().__init__()
        self.token_mixer = InceptionDWConv2d(chs, **mixer_kwargs)
        self.norm = nn.BatchNorm2d(chs)
        self.mlp = ConvMlp(chs, int(mlp_ratio * chs), act=act)
        self.ls = LayerScale2d(chs, ls_init_value) if ls_init_value is not None else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.ls(self.mlp(self.norm(self.token_mixer(x)))))
