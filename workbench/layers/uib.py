"""Universal Inverted Bottleneck (UIB): one block, four MobileNet-era blocks as special cases.

technique: mobile_cnn

Qin et al., "MobileNetV4: Universal Models for the Mobile Ecosystem" (ECCV 2024). A MobileNetV2 inverted bottleneck is ``1x1 expand -> kxk depthwise -> 1x1 project``. UIB
adds an *optional* depthwise conv before the expansion (``start_k``) and makes the middle one
optional too (``mid_k``); the two switches give the four variants the NAS of MobileNetV4 picks
from, per block:

==============  ========  ======  =====================================================
variant         start_k   mid_k   what it is
==============  ========  ======  =====================================================
ExtraDW         > 0       > 0     two depthwise convs: cheap receptive-field growth
IB              0         > 0     MobileNetV2's inverted bottleneck
ConvNext        > 0       0       ConvNeXt-like: spatial mixing before the expansion
FFN             0         0       pointwise only: the transformer MLP, as convs
==============  ========  ======  =====================================================

The block's shapes and formula are in :class:`UniversalInvertedBottleneck`'s docstring.
"""

from __future__ import annotations

import torch
from torch import nn

from .conv import ConvNormAct, make_divisible
from .metaformer import LayerScale2d

#: UIB variant name by (start depthwise present, middle depthwise present)
UIB_VARIANTS = {(True, True): "ExtraDW", (False, True): "IB", (True, False): "ConvNext", (False, False): "FFN"}


class UniversalInvertedBottleneck(nn.Module):
    """MobileNetV4's UIB block: ``[dw] -> 1x1 expand -> [dw] -> 1x1 project (+ x)``.

    Shapes, with ``m = make_divisible(C_in * e, 8)`` (NCHW throughout)::

        x (B, C_in, H, W)
          -> [dw start_k x start_k, BN]         (B, C_in, H', W')   no activation (as the paper)
          -> 1x1 conv, BN, act                  (B, m, H', W')
          -> [dw mid_k x mid_k, BN, act]        (B, m, H/s, W/s)
          -> 1x1 conv, BN                       (B, C_out, H/s, W/s) linear bottleneck
          -> [layer scale gamma (C_out,)]       hybrid models only, init 1e-5
          -> + x                                when stride 1 and C_in == C_out

    ``start_k``/``mid_k`` = 0 drop that depthwise conv: (>0, >0) ExtraDW, (0, >0) IB,
    (>0, 0) ConvNext, (0, 0) FFN. The stride ``s`` sits on the middle depthwise conv when there
    is one, else on the start one: a strided block always downsamples in a depthwise conv, never
    in a 1x1. Every conv-BN pair is a :class:`~workbench.layers.conv.ConvNormAct`, so
    ``reparameterize_model`` folds all BN away.

    Args:
        in_chs, out_chs: channels.
        start_k: kernel of the depthwise conv *before* the expansion; 0 = none.
        mid_k: kernel of the depthwise conv *after* the expansion; 0 = none.
        stride: 1 or 2, applied by the middle depthwise conv (or the start one if there is no
            middle one).
        exp_ratio: expansion ``e``; hidden width ``make_divisible(in_chs * e, 8)``.
        act: activation after the expansion and after the middle depthwise conv.
        layer_scale: initial value of a learnable per-channel scale on the block output
            (MobileNetV4-hybrid: 1e-5, which starts each residual block close to identity);
            ``None`` = no scale (the conv models).
        noskip: never add the residual.

    Raises:
        ValueError: ``stride > 1`` with neither depthwise conv (a 1x1 conv must not
            downsample: it would drop 3 of every 4 pixels).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        start_k: int = 0,
        mid_k: int = 3,
        stride: int = 1,
        exp_ratio: float = 4.0,
        act: str | None = "relu",
        layer_scale: float | None = None,
        noskip: bool = False,
    ) -> None:
        super().__init__()
        if stride > 1 and not (start_k or mid_k):
            raise ValueError(f"stride={stride} needs a depthwise conv, got start_k=0 and mid_k=0")
        self.variant = UIB_VARIANTS[(bool(start_k), bool(mid_k))]
        self.has_skip = stride == 1 and in_chs == out_chs and not noskip
        mid_chs = make_divisible(in_chs * exp_ratio)
        self.dw_start = (
            ConvNormAct(in_chs, in_chs, start_k, 1 if mid_k else stride, groups=in_chs, act=None)
            if start_k
            else nn.Identity()
        )
        self.pw_exp = ConvNormAct(in_chs, mid_chs, 1, act=act)
        self.dw_mid = (
            ConvNormAct(mid_chs, mid_chs, mid_k, stride, groups=mid_chs, act=act)
            if mid_k
            else nn.Identity()
        )
        self.pw_proj = ConvNormAct(mid_chs, out_chs, 1, act=None)
        self.layer_scale = LayerScale2d(out_chs, layer_scale) if layer_scale is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.dw_start(x)
        x = self.pw_exp(x)
        x = self.dw_mid(x)
        x = self.pw_proj(x)
        x = self.layer_scale(x)
        if self.has_skip:
            x = x + shortcut
        return x
