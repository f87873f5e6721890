"""Mobile blocks (workbench.layers.mobile_cnn) and the stage builder (workbench.models._builder)."""

import pytest
import torch
from torch import nn

from workbench.layers.channel_attention import EfficientChannelAttention, SqueezeExcite
from workbench.layers.mobile_cnn import (
    DepthwiseSeparableConv,
    FusedMBConv,
    InvertedResidual,
    SEConfig,
)
from workbench.models._builder import (
    BlockRow,
    build_stages,
    list_blocks,
    register_block,
    scale_channels,
    scale_repeats,
)


def _zero_last_bn(block: nn.Module) -> None:
    """Make the block's residual branch output exactly 0 (last BN: weight = bias = 0)."""
    last_bn = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)][-1]
    nn.init.zeros_(last_bn.weight)
    nn.init.zeros_(last_bn.bias)


def _se_input_shape(block: nn.Module, x: torch.Tensor) -> tuple[int, ...]:
    seen = []
    handle = block.se.register_forward_hook(lambda m, inp, out: seen.append(tuple(inp[0].shape)))
    block.eval()(x)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize(
    ("in_chs", "out_chs", "stride", "noskip", "skip"),
    [
        (16, 16, 1, False, True),
        (16, 16, 2, False, False),
        (16, 24, 1, False, False),
        (16, 16, 1, True, False),
    ],
)
@pytest.mark.parametrize("cls", [DepthwiseSeparableConv, InvertedResidual, FusedMBConv])
def test_has_skip_and_shape(cls, in_chs, out_chs, stride, noskip, skip):
    block = cls(in_chs, out_chs, 3, stride, noskip=noskip)
    assert block.has_skip is skip
    x = torch.randn(2, in_chs, 12, 12)
    assert block.eval()(x).shape == (2, out_chs, 12 // stride, 12 // stride)


@pytest.mark.parametrize("cls", [DepthwiseSeparableConv, InvertedResidual, FusedMBConv])
def test_skip_is_added_in_forward(cls):
    block = cls(8, 8, 3, 1)
    _zero_last_bn(block)
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(block.eval()(x), x)  # branch is 0, so only the shortcut remains
    no_skip = cls(8, 8, 3, 1, noskip=True)
    _zero_last_bn(no_skip)
    assert no_skip.eval()(x).abs().max() == 0


def test_depthwise_separable_structure():
    block = DepthwiseSeparableConv(16, 32, 5, 2, act="hard_swish", pw_act=True)
    dw, pw = block.conv_dw[0], block.conv_pw[0]
    assert (dw.groups, dw.kernel_size, dw.stride) == (16, (5, 5), (2, 2))
    assert pw.kernel_size == (1, 1) and pw.out_channels == 32
    assert isinstance(block.conv_pw[2], nn.Hardswish)
    assert isinstance(DepthwiseSeparableConv(16, 32).conv_pw[2], nn.Identity)  # linear by default
    assert isinstance(block.se, nn.Identity)


def test_inverted_residual_structure():
    block = InvertedResidual(24, 40, 5, 2, exp_ratio=3, act="relu")
    assert block.conv_pw[0].out_channels == 72
    assert block.conv_dw[0].groups == 72 and block.conv_dw[0].stride == (2, 2)
    assert isinstance(block.conv_pwl[2], nn.Identity)  # linear bottleneck
    # expansion rounds to a multiple of 8 (timm/TF): 24 * 3.67 = 88.08 -> 88
    assert InvertedResidual(24, 24, exp_ratio=3.67).conv_pw[0].out_channels == 88


def test_se_placement_and_width():
    x = torch.randn(1, 24, 16, 16)
    # MobileNetV3: SE on the expanded depthwise output, make_divisible(72 / 4, 8) = 24 (10 % rule)
    v3 = InvertedResidual(
        24,
        40,
        5,
        2,
        exp_ratio=3,
        se_ratio=0.25,
        se=SEConfig(base="mid", divisor=8, act="relu", gate="hard_sigmoid"),
    )
    assert isinstance(v3.se, SqueezeExcite)
    assert _se_input_shape(v3, x) == (1, 72, 8, 8)
    assert v3.se.fc1.out_channels == 24
    assert isinstance(v3.se.act, nn.ReLU) and isinstance(v3.se.gate, nn.Hardsigmoid)
    # EfficientNet/MnasNet: bottleneck from the block input, block activation inside
    eff = InvertedResidual(24, 40, exp_ratio=6, act="silu", se_ratio=0.25, se=SEConfig(base="in"))
    assert eff.se.fc1.out_channels == 6 and eff.se.fc1.in_channels == 144
    assert isinstance(eff.se.act, nn.SiLU) and isinstance(eff.se.gate, nn.Sigmoid)
    # depthwise-separable: SE between the two convs, on the input channels
    ds = DepthwiseSeparableConv(24, 16, se_ratio=0.25)
    assert _se_input_shape(ds, x) == (1, 24, 16, 16)
    assert isinstance(InvertedResidual(24, 24).se, nn.Identity)


def test_se_config_swaps_attention_and_validates():
    block = InvertedResidual(16, 16, se_ratio=0.25, se=SEConfig(layer="eca"))
    assert isinstance(block.se, EfficientChannelAttention)
    assert block.eval()(torch.randn(1, 16, 8, 8)).shape == (1, 16, 8, 8)
    with pytest.raises(ValueError, match="base"):
        SEConfig(base="out")
    with pytest.raises(ValueError, match="unknown attention"):
        InvertedResidual(16, 16, se_ratio=0.25, se=SEConfig(layer="nope"))


def test_fused_mbconv():
    block = FusedMBConv(24, 48, 3, 2, exp_ratio=4)
    assert block.conv_exp[0].kernel_size == (3, 3) and block.conv_exp[0].stride == (2, 2)
    assert block.conv_exp[0].groups == 1 and block.conv_exp[0].out_channels == 96
    assert block.conv_pwl[0].kernel_size == (1, 1)
    single = FusedMBConv(24, 24, 3, 1, exp_ratio=1)  # one k x k conv with activation, no projection
    assert isinstance(single.conv_pwl, nn.Identity) and single.conv_exp[0].out_channels == 24
    assert isinstance(single.conv_exp[2], nn.SiLU) and single.has_skip
    x = torch.randn(2, 24, 8, 8)
    assert block.eval()(x).shape == (2, 48, 4, 4)


def test_scaling_helpers():
    assert [scale_channels(c, 0.35) for c in (16, 24, 32, 96)] == [8, 8, 16, 32]
    assert scale_channels(1280, 1.4) == 1792
    assert [scale_repeats(n, 1.1) for n in (1, 2, 3, 4)] == [2, 3, 4, 5]  # EfficientNet-B1


def test_build_stages_width_depth_and_small_input():
    table = [
        [BlockRow("ds", 3, 1, 16)],
        [BlockRow("ir", 3, 2, 24, e=6, n=2), BlockRow("ir", 5, 1, 24, e=3, act="relu")],
        [BlockRow("cna", 1, 2, 64)],
    ]
    stages, chs = build_stages(table, 16, width_mult=0.5, depth_mult=1.5, act="relu6")
    assert chs == 32 and len(stages) == 3
    assert [len(s) for s in stages] == [2, 5, 2]
    strides = [
        b.stride if isinstance(b, nn.Sequential) else b.conv_dw[0].stride[0]
        for s in stages
        for b in s
    ]
    assert strides == [1, 1, 2, 1, 1, 1, 1, 2, 1]
    assert isinstance(stages[1][0].conv_pw[2], nn.ReLU6) and isinstance(
        stages[1][4].conv_pw[2], nn.ReLU
    )
    x = torch.randn(1, 16, 32, 32)
    assert stages.eval()(x).shape == (1, 32, 8, 8)
    small, _ = build_stages(table, 16, small_input=True)
    assert small.eval()(x).shape == (1, 64, 16, 16)  # only the first stride-2 row became stride 1


def test_block_table_errors():
    assert {"ds", "ir", "fused", "cna"} <= set(list_blocks())
    with pytest.raises(KeyError, match="unknown block type 'nope'"):
        build_stages([[BlockRow("nope", 3, 1, 16)]], 16)
    with pytest.raises(ValueError, match="already registered"):
        register_block("ir", lambda *a: nn.Identity())
