"""Two tiny networks whose token mixer is a keyword: the skeleton stays, the mixer changes.

* ``metaformer_tiny`` -- Yu et al.'s MetaFormer question ("MetaFormer Is Actually What You Need
  for Vision", CVPR 2022) on 28 px images: a 3x3/2 stem to 14 x 14 (196 tokens), two stages of
  :class:`~workbench.layers.metaformer.MetaFormerBlock` (14 x 14 and 7 x 7), and ``mixer=``
  any name of :func:`~workbench.layers.metaformer.list_token_mixers`.
* ``sequence_tiny`` -- an image read as a sequence of patches (sequential Fashion-MNIST):
  ``patch x patch`` pixels per token, a learned position embedding, pre-norm blocks
  ``x + mixer(LN(x))``, ``x + MLP(LN(x))`` with ``mixer=`` one of :data:`SEQUENCE_MIXERS`
  (softmax, window or linear attention, a Mamba-1 selective SSM or a Mamba-2 SSD).

Neither is a published architecture; both exist to compare mixers at equal everything else.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import scale_channels
from ..layers.conv import ConvNormAct
from ..layers.metaformer import MetaFormerBlock, get_norm2d
from ..layers.sequence_mixers import (
    SSD,
    LinearAttention,
    SelectiveSSM,
    SoftmaxAttention,
    WindowAttention,
)
from ._base import Classifier
from ._factory import register_model

__all__ = ["SEQUENCE_MIXERS", "MetaFormerTiny", "SequenceNet", "metaformer_tiny", "sequence_tiny"]

_PAPER = "(none: a MetaFormer skeleton sized for 28 px, after Yu et al., CVPR 2022)"


class MetaFormerTiny(Classifier):
    """Stem 3x3/2 conv-BN-GELU -> ``depths[0]`` blocks at H/2 -> 3x3/2 conv -> ``depths[1]`` at H/4.

    Args:
        num_classes, in_chans: classifier outputs, input channels.
        mixer: token mixer of every block (``'pooling'``, ``'attention'``, ...).
        dims: stage widths at ``width_mult`` 1.
        depths: blocks per stage.
        width_mult: multiplies ``dims`` (``scale_channels``).
        mixer_kwargs: forwarded to every token mixer.
        norm: block norm (``'batchnorm'``, ``'groupnorm'`` as PoolFormer, ``'layernorm'``).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 1,
        mixer: str = "pooling",
        dims: tuple[int, int] = (32, 64),
        depths: tuple[int, int] = (2, 2),
        width_mult: float = 1.0,
        mixer_kwargs: dict | None = None,
        norm: str = "batchnorm",
    ) -> None:
        super().__init__()
        d1, d2 = (scale_channels(d, width_mult) for d in dims)
        self.stem = ConvNormAct(in_chans, d1, 3, 2, act="gelu")

        def blocks(dim: int, n: int) -> list[nn.Module]:  # no LayerScale: 4 blocks, short training
            return [MetaFormerBlock(dim, mixer, norm=norm, layer_scale_init=None, mixer_kwargs=mixer_kwargs) for _ in range(n)]

        self.stages = nn.Sequential(
            nn.Sequential(*blocks(d1, depths[0])),
            nn.Sequential(nn.Conv2d(d1, d2, 3, 2, 1), *blocks(d2, depths[1])),
        )
        self.norm = get_norm2d(norm, d2)
        self.init_head(d2, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, dims[1], H/4, W/4) normalized map."""
        return self.norm(self.stages(self.stem(x)))


@register_model(default_input_size=(1, 28, 28), paper=_PAPER, tags=("efficient_attention",))
def metaformer_tiny(
    num_classes: int = 1000, in_chans: int = 1, mixer: str = "pooling", width_mult: float = 1.0,
    small_input: bool = True, mixer_kwargs: dict | None = None, norm: str = "batchnorm",
) -> MetaFormerTiny:  # fmt: skip
    """MetaFormer with two stages (32 and 64 channels, 2 + 2 blocks) for 28 px images.

    Args:
        mixer: any :func:`workbench.layers.list_token_mixers` name.
        small_input: accepted for the zoo's uniform interface; the network is built for 28 px.
        norm: block norm: ``'batchnorm'`` by default (as EfficientFormer's and EfficientViT's
            conv stages: it folds into the convs at deploy, and after 2 epochs on 10k images it
            beat PoolFormer's ``'groupnorm'`` by 4 points), ``'groupnorm'`` or ``'layernorm'``.
    """
    return MetaFormerTiny(num_classes, in_chans, mixer, width_mult=width_mult, mixer_kwargs=mixer_kwargs, norm=norm)


#: mixer name -> ``(B, N, D)`` sequence mixer class (built as ``cls(dim, **mixer_kwargs)``).
SEQUENCE_MIXERS: dict[str, type[nn.Module]] = {
    "attention": SoftmaxAttention,
    "window_attention": WindowAttention,
    "linear_attention": LinearAttention,
    "ssm": SelectiveSSM,
    "ssd": SSD,
}


class SequenceBlock(nn.Module):
    """Pre-norm transformer block with a swappable mixer: ``x + mixer(LN x)``, ``x + MLP(LN x)``."""

    def __init__(self, dim: int, mixer: nn.Module, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(mlp_ratio * dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SequenceNet(Classifier):
    """Patches as a sequence: ``(B, C, H, W) -> (B, HW / p^2, dim)`` tokens -> blocks -> mean.

    Args:
        num_classes, in_chans: classifier outputs, input channels.
        mixer: a :data:`SEQUENCE_MIXERS` name.
        dim: token width.
        depth: blocks.
        patch: pixels per token side (4: 49 tokens from 28 px; 2: 196; 1: 784).
        img_size: input side, fixes the number of position embeddings.
        mixer_kwargs: forwarded to the mixer (``window``, ``d_state``, ``scan``, ...).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 1,
        mixer: str = "attention",
        dim: int = 64,
        depth: int = 2,
        patch: int = 4,
        img_size: int = 28,
        mixer_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        if mixer not in SEQUENCE_MIXERS:
            raise ValueError(f"unknown sequence mixer {mixer!r}; valid: {', '.join(SEQUENCE_MIXERS)}")
        if img_size % patch:
            raise ValueError(f"patch {patch} must divide img_size {img_size}")
        self.patch = patch
        self.stem = nn.Linear(in_chans * patch * patch, dim)
        self.pos = nn.Parameter(torch.zeros(1, (img_size // patch) ** 2, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        cls = SEQUENCE_MIXERS[mixer]
        self.stages = nn.Sequential(*(SequenceBlock(dim, cls(dim, **(mixer_kwargs or {}))) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.init_head(dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, N, dim) tokens, N = HW / patch^2, in raster order."""
        b, c, h, w = x.shape
        p = self.patch
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), c * p * p)
        return self.norm(self.stages(self.stem(x) + self.pos))


@register_model(
    default_input_size=(1, 28, 28), tags=("state_space_models", "efficient_attention"),
    paper="(none: a 2-block sequence model on image patches, mixers after Gu & Dao 2023 and Cai et al. 2023)",
)  # fmt: skip
def sequence_tiny(
    num_classes: int = 1000, in_chans: int = 1, mixer: str = "attention", width_mult: float = 1.0,
    small_input: bool = True, patch: int = 4, depth: int = 2, mixer_kwargs: dict | None = None,
) -> SequenceNet:  # fmt: skip
    """Sequence model (width 64, 2 blocks, 4 x 4 patches: 49 tokens) for 28 px images.

    Args:
        mixer: a :data:`SEQUENCE_MIXERS` name.
        small_input: accepted for the zoo's uniform interface; the network is built for 28 px.
    """
    return SequenceNet(
        num_classes, in_chans, mixer, scale_channels(64, width_mult), depth, patch, mixer_kwargs=mixer_kwargs
    )
