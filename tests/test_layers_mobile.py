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


def test_scale_channels_is_the_one_width_rule():
    from workbench.layers import make_divisible
    from workbench.layers.conv import scale_channels as layer_scale

    assert layer_scale is scale_channels  # the builder re-uses the layers' rule
    assert scale_channels(96, None) == 96 and scale_channels(90, None, 8) == 90  # None = paper widths
    assert scale_channels(96, 1.0) == 96 and scale_channels(90, 1.0) == make_divisible(90)
    assert scale_channels(64, 0.5, 4) == 32 and scale_channels(10, 0.1, 4) == 4  # min_value = divisor
    assert scale_channels(10, 0.1, 4, min_value=8) == 8
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="width_mult must be a finite number > 0"):
            scale_channels(64, bad)


_V3 = dict(small_input=True, num_classes=10, in_chans=1)


def _params(model):
    return sum(p.numel() for p in model.parameters())


def test_attention_defaults_keep_the_architecture():
    import workbench as wb

    base = _params(wb.create_model("mobilenetv3_small_075", **_V3))
    assert _params(wb.create_model("mobilenetv3_small_075", attn="se", **_V3)) == base
    assert _params(wb.create_model("mobilenetv3_small_075", attn="se", attn_kwargs={"rd_ratio": 0.25}, **_V3)) == base


def test_attention_parameters_change_the_blocks():
    import workbench as wb

    def build(attn, **kw):
        return wb.create_model("mobilenetv3_small_075", attn=attn, attn_kwargs=kw, **_V3)

    none = _params(build("none"))
    se_small, se, se_big = (_params(build("se", rd_ratio=r)) for r in (0.125, 0.25, 0.5))
    assert none < se_small < se < se_big
    eca3, eca7 = build("eca", k_size=3), build("eca", k_size=7)
    k = {m.k_size for m in eca7.modules() if isinstance(m, EfficientChannelAttention)}
    assert k == {7} and _params(eca7) - _params(eca3) == 4 * len(
        [m for m in eca3.modules() if isinstance(m, EfficientChannelAttention)]
    )
    adaptive = {m.k_size for m in build("eca").modules() if isinstance(m, EfficientChannelAttention)}
    assert adaptive <= {3, 5} and len(adaptive) >= 1
    cbam = build("cbam", rd_ratio=0.25, spatial_kernel=3)
    assert {m.spatial.kernel_size for m in cbam.modules() if hasattr(m, "spatial")} == {(3, 3)}
    assert _params(cbam) > _params(build("cbam"))  # 1/4 vs the paper's 1/16 bottleneck
    with torch.inference_mode():
        assert cbam.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize(
    "attn, kw, needle",
    [
        ("se", {"rd_ratio": 0}, r"rd_ratio must be a ratio in \(0, 1\], got 0"),
        ("se", {"rd_ratio": 1.5}, r"rd_ratio must be a ratio in \(0, 1\]"),
        ("se", {"k_size": 3}, "no option 'k_size'; valid: rd_ratio"),
        ("eca", {"k_size": 4}, "k_size must be an odd int >= 1, got 4"),
        ("eca", {"k_size": 2.0}, "k_size must be an odd int >= 1"),
        ("eca", {"rd_ratio": 0.5}, "no option 'rd_ratio'; valid: k_size"),
        ("cbam", {"spatial_kernel": 6}, "spatial_kernel must be an odd int >= 1, got 6"),
        ("cbam", {"rd_ratio": -1}, r"rd_ratio must be a ratio in \(0, 1\]"),
        ("gc", {}, "unknown attention 'gc'; valid: cbam, eca, none, se"),
    ],
)
def test_attention_bad_parameters_raise_one_line(attn, kw, needle):
    import workbench as wb

    with pytest.raises(ValueError, match=needle) as err:
        wb.create_model("mobilenetv3_small_075", attn=attn, attn_kwargs=kw, **_V3)
    assert "\n" not in str(err.value)


def test_attention_options_refused_without_se_rows():
    import workbench as wb

    with pytest.raises(ValueError, match="no SE blocks"):
        wb.create_model("mobilenetv2_050", attn_kwargs={"rd_ratio": 0.5})
