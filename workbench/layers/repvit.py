"""RepViT blocks: a MobileNetV3-style CNN rebuilt with ViT design choices.

technique: reparameterization

Wang et al., "RepViT: Revisiting Mobile CNN From ViT Perspective" (CVPR 2024). The inverted
residual is split, as in a MetaFormer, into a *token mixer* (a RepVGG-style depthwise conv,
optional SE) and a *channel mixer* (a residual 1x1-conv FFN, expansion 2). The token mixer
trains as ``BN(DW_kxk_BN(x) + DW_1x1(x) + x)`` and folds into one k x k depthwise conv with
bias for inference (:meth:`RepDWConv.reparameterize`, same protocol as
:mod:`workbench.layers.reparameterization`).
"""

from __future__ import annotations

import torch
from torch import nn

from .channel_attention import SqueezeExcite
from .efficientvit import ConvFFN, Residual, conv_bn
from .reparameterization import fuse_conv_bn


class RepDWConv(nn.Module):
    """``BN(DW_kxk_BN(x) + DW_1x1(x) + x)`` that re-parameterizes into one depthwise conv.

    The three branches are linear (per channel) and the outer BN is affine in eval mode, so
    their sum is one k x k depthwise kernel: the 1x1 weight and the identity (1.0) add to the
    kernel centre, then the outer BN scales each channel.

    Args:
        dim: channels.
        kernel_size: depthwise kernel of the main branch (3 in RepViT).

    Attributes:
        reparam_conv: ``None`` in the train form; the fused ``Conv2d`` after
            :meth:`reparameterize` (the branches are then deleted).
    """

    def __init__(self, dim: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = conv_bn(dim, dim, kernel_size, groups=dim)
        self.conv1 = nn.Conv2d(dim, dim, 1, groups=dim)  # with bias, no BN: the outer BN follows
        self.bn = nn.BatchNorm2d(dim)
        self.reparam_conv: nn.Conv2d | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.reparam_conv(x)
        return self.bn(self.conv(x) + self.conv1(x) + x)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the branches and both BNs into ``reparam_conv`` in place (eval-mode equivalent)."""
        if self.reparam_conv is not None:
            return
        fused = fuse_conv_bn(self.conv[0], self.conv[1])
        c = fused.kernel_size[0] // 2
        fused.weight[:, :, c, c] += self.conv1.weight[:, :, 0, 0] + 1.0  # 1x1 branch + identity
        fused.bias += self.conv1.bias
        self.reparam_conv = fuse_conv_bn(fused, self.bn)
        del self.conv, self.conv1, self.bn


class RepViTBlock(nn.Module):
    """RepViT block: ``RepDWConv -> [SE] -> x + FFN(x)``.

    Args:
        dim: channels.
        mlp_ratio: FFN expansion (2 in RepViT).
        kernel_size: token-mixer depthwise kernel (3).
        use_se: SE after the token mixer (RepViT alternates it block by block), reduction 1/4
            rounded to a multiple of 8.
        act: FFN activation (GELU).
        drop_path: per-sample drop probability of the FFN branch.
    """

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 2,
        kernel_size: int = 3,
        use_se: bool = False,
        act: str = "gelu",
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.token_mixer = RepDWConv(dim, kernel_size)
        self.se = SqueezeExcite(dim, 0.25, rd_divisor=8) if use_se else nn.Identity()
        self.channel_mixer = Residual(ConvFFN(dim, int(dim * mlp_ratio), act), drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel_mixer(self.se(self.token_mixer(x)))


class RepViTDownsample(nn.Module):
    """Stage transition: RepViT block, DW kxk/2 conv-BN, 1x1 conv-BN to ``out_dim``, residual FFN.

    Args:
        in_dim, out_dim: channels before/after.
        mlp_ratio, kernel_size, act: as :class:`RepViTBlock` (the pre-block has no SE).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        mlp_ratio: float = 2,
        kernel_size: int = 3,
        act: str = "gelu",
    ) -> None:
        super().__init__()
        self.pre_block = RepViTBlock(in_dim, mlp_ratio, kernel_size, use_se=False, act=act)
        self.spatial_downsample = conv_bn(in_dim, in_dim, kernel_size, stride=2, groups=in_dim)
        self.channel_downsample = conv_bn(in_dim, out_dim, 1)
        self.ffn = Residual(ConvFFN(out_dim, int(out_dim * mlp_ratio), act))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.spatial_downsample(self.pre_block(x))
        return self.ffn(self.channel_downsample(x))
