"""Mobile convolution blocks: depthwise-separable, inverted residual (MBConv) and FusedMBConv.

technique: mobile_cnn

* :class:`DepthwiseSeparableConv` -- Howard et al., "MobileNets: Efficient Convolutional Neural
  Networks for Mobile Vision Applications" (arXiv 2017): a k x k depthwise conv then a 1x1
  pointwise conv. MnasNet, EfficientNet and MobileNetV3 use it (with optional SE and skip) as
  their first block, where an inverted residual would have expansion 1; PP-LCNet stacks it with
  an activation after the pointwise conv.
* :class:`InvertedResidual` -- Sandler et al., "MobileNetV2: Inverted Residuals and Linear
  Bottlenecks" (CVPR 2018): 1x1 expansion -> k x k depthwise -> [SE] -> linear 1x1 projection,
  residual when shapes allow. Called MBConv in MnasNet (Tan et al., CVPR 2019) and EfficientNet
  (Tan & Le, ICML 2019); MobileNetV3 (Howard et al., ICCV 2019) adds SE with a hard-sigmoid gate.
* :class:`FusedMBConv` -- Tan & Le, "EfficientNetV2: Smaller Models and Faster Training" (ICML
  2021), after Gupta & Tan's EfficientNet-EdgeTPU: the expansion and depthwise convs fused into
  one k x k conv.

Conventions: tensors are (B, C, H, W); every conv is followed by BatchNorm (folded away at
deployment, so papers do not count it); the block's activation is chosen by name
(:func:`workbench.layers.activations.get_act`); where SE goes and how wide its bottleneck is
is described by an :class:`SEConfig`, because the families disagree (see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .channel_attention import SqueezeExcite, check_ratio, get_attn
from .conv import ConvNormAct, make_divisible

_SE_BASES = ("mid", "in")


@dataclass(frozen=True)
class SEConfig:
    """How a block builds its channel attention when its row asks for ``se_ratio > 0``.

    The families size SE differently; these fields cover the published variants:

    ==============  ======  =======  ============  ==============
    family          base    divisor  act           gate
    ==============  ======  =======  ============  ==============
    MnasNet         in      1        block act     sigmoid
    EfficientNet    in      1        block act     sigmoid
    MobileNetV3     mid     8        relu          hard_sigmoid
    PP-LCNet        mid     1        relu          hard_sigmoid
    ==============  ======  =======  ============  ==============

    Attributes:
        layer: attention name for :func:`workbench.layers.channel_attention.get_attn`. ``'se'`` is sized
            by the fields below; any other name (e.g. ``'eca'``) is built with its own defaults
            on the gated channels, so a model's SE can be swapped for another attention.
        base: channels ``se_ratio`` refers to: ``'mid'`` = the gated (expanded) channels,
            ``'in'`` = the block's input channels (TF MnasNet/EfficientNet reference code).
        divisor: round the bottleneck to a multiple of this with :func:`make_divisible`
            (standard 10 % rule); 1 = plain ``round``.
        act: activation inside the SE bottleneck; ``None`` = the block's activation.
        gate: gating nonlinearity.
        options: ``(name, value)`` pairs for the attention (``attn_kwargs`` of
            :class:`~workbench.models.mobilenet.MobileNet`). For ``'se'``, ``rd_ratio``
            replaces the rows' ratio (sized on ``base``, rounded by ``divisor`` as above);
            other layers get them as keyword arguments (``k_size`` for ECA, ``rd_ratio`` and
            ``spatial_kernel`` for CBAM).
    """

    layer: str = "se"
    base: str = "mid"
    divisor: int = 1
    act: str | None = None
    gate: str = "sigmoid"
    options: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        if self.base not in _SE_BASES:
            raise ValueError(f"SEConfig.base must be one of {_SE_BASES}, got {self.base!r}")
        if self.divisor < 1:
            raise ValueError(f"SEConfig.divisor must be >= 1, got {self.divisor}")
        # Build one throw-away module so a bad option fails when the model is configured,
        # with the attention's own message, not deep inside the first block.
        # The RNG is forked so this probe draws no random numbers: a model configured with
        # options equal to its defaults must initialise exactly like one configured without.
        if self.options:
            with torch.random.fork_rng(devices=[]):
                self.build(64, 64, 0.25, "relu")

    def build(self, chs: int, in_chs: int, ratio: float, block_act: str | None) -> nn.Module:
        """The attention module gating ``chs`` channels (``nn.Identity`` when ``ratio <= 0``).

        Args:
            chs: channels of the gated tensor (the depthwise output).
            in_chs: the block's input channels (used when ``base='in'``).
            ratio: bottleneck ratio from the block row; ``0`` disables attention.
            block_act: the block's activation, used when ``act`` is ``None``.
        """
        if ratio <= 0:
            return nn.Identity()
        options = dict(self.options)
        if self.layer != "se":
            return get_attn(self.layer, chs, **options)
        unknown = sorted(set(options) - {"rd_ratio"})
        if unknown:
            raise ValueError(f"attention 'se' here has no option {unknown[0]!r}; valid: rd_ratio")
        ratio = check_ratio("rd_ratio", options.get("rd_ratio", ratio))
        base = in_chs if self.base == "in" else chs
        # Rounded here rather than by SqueezeExcite(rd_divisor=...): MobileNetV3 (TF, timm,
        # torchvision) keeps make_divisible's 10 % rule, e.g. 72 * 0.25 = 18 -> 24, not 16.
        if self.divisor > 1:
            rd = make_divisible(base * ratio, self.divisor)
        else:
            rd = max(1, round(base * ratio))
        return SqueezeExcite(chs, rd_channels=rd, act=self.act or block_act, gate=self.gate)


class DepthwiseSeparableConv(nn.Module):
    """k x k depthwise conv -> BN -> act -> [SE] -> 1x1 pointwise conv -> BN -> [act] (+ skip).

    Args:
        in_chs, out_chs: channels.
        kernel_size: depthwise kernel (3 in MobileNetV1, 3 or 5 in PP-LCNet).
        stride: depthwise stride.
        act: activation name after the depthwise conv (and after the pointwise one if
            ``pw_act``).
        pw_act: activation after the pointwise conv. ``True`` in MobileNetV1 and PP-LCNet,
            where the block is a layer of a plain stack; ``False`` (linear) where it stands in
            for an expansion-1 inverted residual (MnasNet, EfficientNet, MobileNetV2/V3).
        se_ratio: SE bottleneck ratio (0 = no SE); SE sits between the two convs.
        se: how SE is sized and which gate it uses (:class:`SEConfig`).
        noskip: never add the residual (MobileNetV1, PP-LCNet, MnasNet's first block);
            otherwise the residual is used whenever ``stride == 1`` and ``in_chs == out_chs``.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        act: str | None = "relu",
        pw_act: bool = False,
        se_ratio: float = 0.0,
        se: SEConfig = SEConfig(),
        noskip: bool = False,
    ) -> None:
        super().__init__()
        self.has_skip = stride == 1 and in_chs == out_chs and not noskip
        self.conv_dw = ConvNormAct(in_chs, in_chs, kernel_size, stride, groups=in_chs, act=act)
        self.se = se.build(in_chs, in_chs, se_ratio, act)
        self.conv_pw = ConvNormAct(in_chs, out_chs, 1, act=act if pw_act else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_dw(x)
        x = self.se(x)
        x = self.conv_pw(x)
        if self.has_skip:
            x = x + shortcut
        return x


class InvertedResidual(nn.Module):
    """1x1 expand -> BN -> act -> k x k depthwise -> BN -> act -> [SE] -> 1x1 project -> BN (+ skip).

    The projection is linear (no activation): MobileNetV2's "linear bottleneck". The expansion
    conv is always built, also for ``exp_ratio=1`` (as timm's FBNet-C does); a block without
    expansion is a :class:`DepthwiseSeparableConv` (torchvision's MobileNetV2 t=1 block).

    Args:
        in_chs, out_chs: channels.
        kernel_size: depthwise kernel.
        stride: depthwise stride.
        exp_ratio: expansion ``t``; hidden width ``make_divisible(in_chs * t, 8)``.
        act: activation name (``'relu6'`` MobileNetV2, ``'relu'`` MnasNet, ``'silu'``
            EfficientNet, ``'hard_swish'``/``'relu'`` MobileNetV3).
        se_ratio: SE bottleneck ratio (0 = no SE); SE gates the depthwise output.
        se: how SE is sized and which gate it uses (:class:`SEConfig`).
        noskip: never add the residual; otherwise it is used whenever ``stride == 1`` and
            ``in_chs == out_chs``.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        exp_ratio: float = 6.0,
        act: str | None = "relu6",
        se_ratio: float = 0.0,
        se: SEConfig = SEConfig(),
        noskip: bool = False,
    ) -> None:
        super().__init__()
        self.has_skip = stride == 1 and in_chs == out_chs and not noskip
        mid_chs = make_divisible(in_chs * exp_ratio)
        self.conv_pw = ConvNormAct(in_chs, mid_chs, 1, act=act)
        self.conv_dw = ConvNormAct(mid_chs, mid_chs, kernel_size, stride, groups=mid_chs, act=act)
        self.se = se.build(mid_chs, in_chs, se_ratio, act)
        self.conv_pwl = ConvNormAct(mid_chs, out_chs, 1, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_pw(x)
        x = self.conv_dw(x)
        x = self.se(x)
        x = self.conv_pwl(x)
        if self.has_skip:
            x = x + shortcut
        return x


class FusedMBConv(nn.Module):
    """k x k expand (strided) -> BN -> act -> [SE] -> 1x1 project -> BN (+ skip).

    With ``exp_ratio == 1`` the block is a single k x k conv -> BN -> act (+ skip), as in the
    EfficientNetV2 reference code: there is nothing to project back from.

    Args:
        in_chs, out_chs: channels.
        kernel_size: kernel of the fused expansion conv.
        stride: stride of the fused conv.
        exp_ratio: expansion; hidden width ``make_divisible(in_chs * exp_ratio, 8)``.
        act: activation name (``'silu'`` in EfficientNetV2).
        se_ratio: SE bottleneck ratio (0 = none; EfficientNetV2 uses none in fused stages).
        se: how SE is sized (:class:`SEConfig`).
        noskip: never add the residual; otherwise used when ``stride == 1`` and
            ``in_chs == out_chs``.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        exp_ratio: float = 4.0,
        act: str | None = "silu",
        se_ratio: float = 0.0,
        se: SEConfig = SEConfig(),
        noskip: bool = False,
    ) -> None:
        super().__init__()
        self.has_skip = stride == 1 and in_chs == out_chs and not noskip
        mid_chs = out_chs if exp_ratio == 1 else make_divisible(in_chs * exp_ratio)
        self.conv_exp = ConvNormAct(in_chs, mid_chs, kernel_size, stride, act=act)
        self.se = se.build(mid_chs, in_chs, se_ratio, act)
        self.conv_pwl = (
            nn.Identity() if exp_ratio == 1 else ConvNormAct(mid_chs, out_chs, 1, act=None)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_exp(x)
        x = self.se(x)
        x = self.conv_pwl(x)
        if self.has_skip:
            x = x + shortcut
        return x
