"""EfficientViM (Lee et al., CVPR 2025): a vision Mamba built on the hidden-state-mixer SSD.

Ported from the paper and the official code (github.com/mlvlab/EfficientViM,
``classification/models/EfficientViM.py``) with the zoo's blocks
(:mod:`workbench.layers.ssm`), pure PyTorch: the non-causal SSD is two matmuls, so no scan
kernel is needed. Layout:

* stem: four 3x3 s2 conv-BN (ReLU on the first three), 16x down, to ``dims[0]`` channels;
* three stages of :class:`~workbench.layers.ssm.EfficientViMBlock`, separated by
  :class:`~workbench.layers.ssm.PatchMerging` (2x down);
* **multi-stage hidden-state fusion** (MSF): besides the usual head on the pooled final map,
  each stage's last hidden state ``h`` (D x N) is normalized, averaged over its N states and
  classified by its own linear head; the four logits are summed with softmax-normalized
  learned weights.

In the zoo's classifier interface, :meth:`EfficientViM.forward_features` returns the final
map *and* the stages' hidden states; ``pool`` turns them into one vector (the four pooled
vectors concatenated, ``num_features`` = sum of their widths) and the classifier is a
:class:`FusionHead` that splits it and sums the weighted logits.

Not in timm (``reference=None``); checked against the paper's params/FLOPs in
``datasets/claims/ssm.csv``. No pretrained weights, no distillation head (the official
default).
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers.conv import ConvNormAct, scale_channels
from ..layers.metaformer import LayerNorm2d
from ..layers.ssm import EfficientViMBlock, LayerNormChannels1d, PatchMerging
from ._base import Classifier
from ._factory import register_model


class FusionHead(nn.Module):
    """Multi-stage fusion classifier: ``sum_i softmax(w)_i * linear_i(z_i)`` over the split input.

    Args:
        dims: widths of the pooled vectors, concatenated in this order in the input.
        num_classes: outputs.
    """

    def __init__(self, dims: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.dims = tuple(dims)
        self.weights = nn.Parameter(torch.ones(len(dims)))
        self.heads = nn.ModuleList(nn.Linear(d, num_classes) for d in dims)
        for h in self.heads:
            nn.init.trunc_normal_(h.weight, std=0.02)
            nn.init.zeros_(h.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.weights.softmax(-1)
        parts = torch.split(z, self.dims, dim=1)
        return sum(w[i] * head(p) for i, (head, p) in enumerate(zip(self.heads, parts, strict=True)))


class EfficientViM(Classifier):
    """EfficientViM classifier.

    Args:
        dims: stage widths (M1: 128, 192, 320).
        depths: blocks per stage (2, 2, 2).
        state_dims: hidden states ``N`` per stage (49, 25, 9).
        mlp_ratio: FFN and PatchMerging expansion (4).
        width_mult: multiplier on every stage width (``scale_channels``, divisor 8); ``None``
            = the paper's widths.
        num_classes, in_chans: classifier outputs and input channels.
        drop_rate: dropout before the classifier.
        small_input: for 28-32 px inputs, the first three stem convs use stride 1 (stem 16x
            -> 2x; 28 px gives 14, 7 and 4 px stages instead of 1-px maps).
    """

    def __init__(
        self,
        dims: tuple[int, ...] = (128, 192, 320),
        depths: tuple[int, ...] = (2, 2, 2),
        state_dims: tuple[int, ...] = (49, 25, 9),
        mlp_ratio: float = 4.0,
        width_mult: float | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        dims = tuple(scale_channels(d, width_mult) for d in dims)
        d0, s = dims[0], (1, 1, 1) if small_input else (2, 2, 2)
        self.stem = nn.Sequential(
            ConvNormAct(in_chans, d0 // 8, 3, s[0]),
            ConvNormAct(d0 // 8, d0 // 4, 3, s[1]),
            ConvNormAct(d0 // 4, d0 // 2, 3, s[2]),
            ConvNormAct(d0 // 2, d0, 3, 2, act=None),
        )
        self.stages = nn.ModuleList(
            nn.ModuleList(EfficientViMBlock(d, mlp_ratio, n) for _ in range(depth))
            for d, depth, n in zip(dims, depths, state_dims, strict=True)
        )
        self.downsamples = nn.ModuleList(PatchMerging(a, b, mlp_ratio) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.hidden_norms = nn.ModuleList(LayerNormChannels1d(d) for d in dims)
        self.norm = LayerNorm2d(dims[-1], eps=1e-5)
        self.fusion_dims = (*dims, dims[-1])
        self.init_head(sum(self.fusion_dims), num_classes, drop_rate)
        self._init_weights()

    def make_classifier(self, num_classes: int) -> nn.Module:
        """A :class:`FusionHead` over the stages' pooled hidden states and the pooled final map."""
        return FusionHead(self.fusion_dims, num_classes)

    def _init_weights(self) -> None:
        # Official init: unit/zero norms; the BN closing each residual branch starts at zero
        # (dwconvs, FFN output) so every branch starts as the identity mix.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, EfficientViMBlock):
                for conv in (m.dwconv1, m.dwconv2, m.ffn[1]):
                    nn.init.zeros_(conv[1].weight)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """(B, C, H, W) image -> ``(map, hidden_states)``: the final (B, C', H/64, W/64) map
        (H/8 with ``small_input``) and each stage's last hidden state, (B, D_i, N_i)."""
        x = self.stem(x)
        hs = []
        for i, blocks in enumerate(self.stages):
            for blk in blocks:
                x, h = blk(x)
            hs.append(h)
            if i < len(self.downsamples):
                x = self.downsamples[i](x)
        return x, tuple(hs)

    def pool(self, f: tuple[torch.Tensor, tuple[torch.Tensor, ...]]) -> torch.Tensor:
        """Normalize and average each hidden state over its N states and the map over space; concatenate."""
        x, hs = f
        pooled = [norm(h).mean(-1) for norm, h in zip(self.hidden_norms, hs, strict=True)]
        pooled.append(self.norm(x).mean((2, 3)))
        return torch.cat(pooled, dim=1)


@register_model(
    paper="Lee et al., EfficientViM: Efficient Vision Mamba with Hidden State Mixer based State Space Duality, CVPR 2025",
    tags=("state_space_models",),
)
def efficientvim_m1(width_mult: float | None = None, **kwargs) -> nn.Module:
    """EfficientViM-M1: dims (128, 192, 320), depths (2, 2, 2), hidden states (49, 25, 9)."""
    return EfficientViM(width_mult=width_mult, **kwargs)
