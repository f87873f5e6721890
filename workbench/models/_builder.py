"""Architectures as data: typed block rows -> ``nn.Sequential`` stages.

A CNN trunk is written as a table: a list of stages, each a list of :class:`BlockRow` (one row
per distinct block configuration, ``n`` repeats each), at width 1.0. :func:`build_stages` turns
it into modules, applying the width multiplier (:func:`workbench.layers.conv.scale_channels`,
``make_divisible`` with divisor 8, Sandler et al. 2018, the zoo's one width rule) and the depth multiplier
(:func:`scale_repeats`, ``ceil``, Tan & Le 2019) are applied; models use the same two helpers
for their stem and head so that nothing else rounds channels.

Block types are looked up by name in one table (``'ds'``, ``'ir'``, ``'fused'``, ``'cna'``);
other families add theirs with :func:`register_block` instead of editing the builder.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from torch import nn

from ..layers.conv import ConvNormAct, scale_channels
from ..layers.mobile_cnn import DepthwiseSeparableConv, FusedMBConv, InvertedResidual, SEConfig


@dataclass(frozen=True)
class BlockRow:
    """One row of an architecture table: ``n`` repeats of a block, at width multiplier 1.0.

    Attributes:
        block: block type name in the builder's table (``'ds'`` depthwise-separable,
            ``'ir'`` inverted residual / MBConv, ``'fused'`` FusedMBConv, ``'cna'`` plain
            conv-BN-act), see :func:`list_blocks`.
        k: kernel size of the spatial (depthwise or fused) conv.
        s: stride of the first repeat; the other repeats use stride 1.
        c: output channels at width 1.0 (scaled by :func:`scale_channels`).
        e: expansion ratio (``'ir'``, ``'fused'``; ignored by ``'ds'`` and ``'cna'``).
        n: repeats at depth 1.0 (scaled by :func:`scale_repeats`).
        se: squeeze-excite ratio, 0 = none; sized by the model's :class:`SEConfig`.
        act: activation name for this row; ``None`` = the model's default activation.
        skip: allow the residual where shapes match (``False`` = timm's ``noskip``).
        pw_act: activation after the pointwise conv of a ``'ds'`` block (MobileNetV1,
            PP-LCNet).
    """

    block: str
    k: int
    s: int
    c: int
    e: float = 1.0
    n: int = 1
    se: float = 0.0
    act: str | None = None
    skip: bool = True
    pw_act: bool = False


_DEFAULT_SE = SEConfig()

BlockFn = Callable[[BlockRow, int, int, int, str | None, SEConfig], nn.Module]
"""``fn(row, in_chs, out_chs, stride, act, se_config) -> nn.Module``."""

_BLOCKS: dict[str, BlockFn] = {
    "ds": lambda r, i, o, s, act, se: DepthwiseSeparableConv(
        i, o, r.k, s, act=act, pw_act=r.pw_act, se_ratio=r.se, se=se, noskip=not r.skip
    ),
    "ir": lambda r, i, o, s, act, se: InvertedResidual(
        i, o, r.k, s, exp_ratio=r.e, act=act, se_ratio=r.se, se=se, noskip=not r.skip
    ),
    "fused": lambda r, i, o, s, act, se: FusedMBConv(
        i, o, r.k, s, exp_ratio=r.e, act=act, se_ratio=r.se, se=se, noskip=not r.skip
    ),
    "cna": lambda r, i, o, s, act, se: ConvNormAct(i, o, r.k, s, act=act),
}


def register_block(name: str, fn: BlockFn) -> None:
    """Add a block type to the builder's table.

    Args:
        name: the name rows use in :attr:`BlockRow.block`.
        fn: ``fn(row, in_chs, out_chs, stride, act, se_config) -> nn.Module``.

    Raises:
        ValueError: if ``name`` is already registered.
    """
    if name in _BLOCKS:
        raise ValueError(f"block type {name!r} already registered")
    _BLOCKS[name] = fn


def list_blocks() -> list[str]:
    """Block type names accepted in :attr:`BlockRow.block`."""
    return sorted(_BLOCKS)


def scale_repeats(n: int, depth_mult: float = 1.0) -> int:
    """Repeats at ``depth_mult``: ``ceil(n * depth_mult)`` (EfficientNet's compound scaling)."""
    return int(math.ceil(n * depth_mult))


def build_stages(
    stages: Sequence[Sequence[BlockRow]],
    in_chs: int,
    *,
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    act: str | None = "relu",
    se: SEConfig = _DEFAULT_SE,
    small_input: bool = False,
) -> tuple[nn.Sequential, int]:
    """Build a table of stages into ``nn.Sequential(stage0, stage1, ...)``.

    Args:
        stages: list of stages, each a list of :class:`BlockRow` (width/depth 1.0).
        in_chs: channels entering the first stage (the stem's output, already scaled).
        width_mult: channel multiplier; every row's ``c`` goes through :func:`scale_channels`.
        depth_mult: depth multiplier; every row's ``n`` goes through :func:`scale_repeats`
            (per row, not per stage as timm does -- identical for one-row stages).
        act: default activation for rows whose ``act`` is ``None``.
        se: how blocks size their SE (:class:`SEConfig`).
        small_input: set the stride of the first row with ``s > 1`` to 1 (the model makes
            its stem stride 1 too): total stride 32 -> 8 for 28-32 px inputs.

    Returns:
        ``(stages, out_chs)``: the modules and the channels of the last stage.

    Raises:
        KeyError: a row names an unknown block type (the message lists the valid ones).
    """
    if small_input:
        stages = _first_downsample_to_stride1(stages)
    modules = []
    for stage in stages:
        blocks = []
        for row in stage:
            if row.block not in _BLOCKS:
                raise KeyError(
                    f"unknown block type {row.block!r}; valid: {', '.join(list_blocks())}"
                )
            out_chs = scale_channels(row.c, width_mult)
            row_act = row.act if row.act is not None else act
            for i in range(scale_repeats(row.n, depth_mult)):
                blocks.append(
                    _BLOCKS[row.block](row, in_chs, out_chs, row.s if i == 0 else 1, row_act, se)
                )
                in_chs = out_chs
        modules.append(nn.Sequential(*blocks))
    return nn.Sequential(*modules), in_chs


def _first_downsample_to_stride1(stages: Sequence[Sequence[BlockRow]]) -> list[list[BlockRow]]:
    out = [list(stage) for stage in stages]
    for stage in out:
        for j, row in enumerate(stage):
            if row.s > 1:
                stage[j] = replace(row, s=1)
                return out
    return out
