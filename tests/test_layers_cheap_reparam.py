"""Cheap-operator and re-parameterization blocks: equivalence and shape checks.

BN running statistics and affine parameters are randomized before every equivalence check;
with fresh BN (mean 0, var 1, weight 1, bias 0) a folding bug in the statistics would go unseen.
"""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import randomize_bn
from torch import nn

from workbench.layers.cheap_operators import (
    GhostBottleneck,
    GhostModule,
    GhostModuleV2,
    ShuffleV2Block,
    channel_shuffle,
)
from workbench.layers.conv import ConvNormAct
from workbench.layers.reparameterization import (
    MobileOneBlock,
    RepVggBlock,
    fuse_conv_bn,
    reparameterize_model,
)
from workbench.models import create_model


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    torch.manual_seed(0)




def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _max_diff(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        return (a(x) - b(x)).abs().max().item()


@pytest.mark.parametrize(
    ("in_chs", "out_chs", "stride", "groups"),
    [(8, 8, 1, 1), (8, 16, 2, 1), (8, 8, 1, 2)],
)
def test_repvgg_block_reparameterize_equivalent(in_chs, out_chs, stride, groups):
    block = randomize_bn(RepVggBlock(in_chs, out_chs, stride, groups=groups))
    assert (block.identity is not None) == (in_chs == out_chs and stride == 1)
    deploy = reparameterize_model(block)
    assert isinstance(deploy.reparam_conv, nn.Conv2d) and len(deploy.convs) == 0
    assert _n_params(deploy) == out_chs * (in_chs // groups) * 9 + out_chs
    assert _max_diff(block, deploy, torch.randn(2, in_chs, 9, 9)) <= 1e-4


@pytest.mark.parametrize(
    ("chs", "out_chs", "kernel_size", "stride", "groups", "k"),
    [(8, 8, 3, 1, 8, 4), (8, 8, 3, 2, 8, 4), (8, 12, 1, 1, 1, 3), (8, 8, 1, 1, 1, 2)],
)
def test_mobileone_block_reparameterize_equivalent(chs, out_chs, kernel_size, stride, groups, k):
    block = randomize_bn(
        MobileOneBlock(chs, out_chs, kernel_size, stride, groups=groups, num_conv_branches=k)
    )
    assert len(block.convs) == k
    assert (block.scale is not None) == (kernel_size > 1)
    deploy = reparameterize_model(block)
    deploy.reparameterize()  # idempotent
    assert _n_params(deploy) == out_chs * (chs // groups) * kernel_size**2 + out_chs
    assert _max_diff(block, deploy, torch.randn(2, chs, 10, 10)) <= 1e-4


def _deploy_param_count(model: nn.Module, block_type: type) -> int:
    """Closed form: one kxk conv with bias per block, plus the classifier."""
    total = _n_params(model.classifier)
    for b in model.modules():
        if isinstance(b, block_type):
            conv = b.convs[0][0]
            total += conv.weight.numel() + conv.out_channels
    return total


@pytest.mark.parametrize(
    ("name", "block_type"), [("repvgg_a0", RepVggBlock), ("mobileone_s0", MobileOneBlock)]
)
def test_model_reparameterize_equivalent(name, block_type):
    # float64: over 20-50 summed multi-branch blocks with random BN the activations grow to ~1e5,
    # where float32 rounding alone exceeds 1e-4; float64 checks the algebra itself
    model = randomize_bn(create_model(name)).double()
    expected = _deploy_param_count(model, block_type)
    deploy = reparameterize_model(model)
    assert _n_params(deploy) == expected < _n_params(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in deploy.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "inplace=False must copy"
    assert _max_diff(model, deploy, torch.randn(1, 3, 64, 64, dtype=torch.float64)) <= 1e-4


@pytest.mark.parametrize("name", ["repvgg_a0", "mobileone_s0"])
def test_model_deploy_params_match_timm(name):
    timm = pytest.importorskip("timm")
    from timm.models._manipulate import reparameterize_model as timm_reparameterize

    ours = reparameterize_model(create_model(name))
    ref = timm_reparameterize(timm.create_model(name, pretrained=False).eval())
    assert _n_params(ours) == _n_params(ref)


def test_fuse_conv_bn_on_convnormact_model():
    model = randomize_bn(
        nn.Sequential(
            ConvNormAct(3, 8, 3, stride=2),
            ConvNormAct(8, 8, 3, groups=8, act="relu6"),
            ConvNormAct(8, 16, 1, act=None),
        )
    )
    deploy = reparameterize_model(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in deploy.modules())
    assert all(m.bias is not None for m in deploy.modules() if isinstance(m, nn.Conv2d))
    assert _max_diff(model, deploy, torch.randn(2, 3, 16, 16)) <= 1e-4


def test_fuse_conv_bn_keeps_conv_bias_and_rejects_mismatch():
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=True)
    bn = randomize_bn(nn.BatchNorm2d(6))
    fused = fuse_conv_bn(conv, bn)
    x = torch.randn(1, 4, 7, 7)
    with torch.no_grad():
        assert (fused(x) - bn(conv(x))).abs().max().item() <= 1e-5
    with pytest.raises(ValueError, match="channels"):
        fuse_conv_bn(conv, nn.BatchNorm2d(5))


def test_reparameterize_model_skips_bn_with_activation():
    """A BatchNorm2d subclass (timm's BatchNormAct2d applies an act) must not be folded away."""

    class BNAct(nn.BatchNorm2d):
        def forward(self, x):
            return torch.relu(super().forward(x))

    model = randomize_bn(nn.Sequential(nn.Conv2d(3, 4, 3), BNAct(4)))
    deploy = reparameterize_model(model)
    assert isinstance(deploy[1], BNAct)
    assert _max_diff(model, deploy, torch.randn(1, 3, 8, 8)) == 0.0


def test_channel_shuffle_permutation():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    y = torch.randn(2, 8, 3, 5)
    assert torch.equal(channel_shuffle(y, 2)[:, 1], y[:, 4])


def test_shuffle_block_shapes_and_split():
    assert ShuffleV2Block(24, 48, stride=2)(torch.randn(1, 24, 8, 8)).shape == (1, 48, 4, 4)
    unit = ShuffleV2Block(48, 48, stride=1).eval()
    x = torch.randn(1, 48, 8, 8)
    with torch.no_grad():
        out = unit(x)
    # the untouched half lands on the even channels after the shuffle
    assert torch.equal(out[:, 0::2], x[:, :24])
    with pytest.raises(ValueError, match="keeps its width"):
        ShuffleV2Block(24, 48, stride=1)


@pytest.mark.parametrize(
    ("in_chs", "out_chs", "ratio"), [(8, 16, 2), (8, 15, 2), (8, 16, 3), (5, 7, 4)]
)
def test_ghost_module_output_channels(in_chs, out_chs, ratio):
    m = GhostModule(in_chs, out_chs, ratio=ratio)
    assert m.primary_conv[0].out_channels == math.ceil(out_chs / ratio)
    assert m(torch.randn(2, in_chs, 6, 6)).shape == (2, out_chs, 6, 6)


def test_ghost_v2_and_bottleneck_shapes():
    # odd size: the half-resolution gate (3x3) is upsampled back to 7x7
    assert GhostModuleV2(8, 16)(torch.randn(1, 8, 7, 7)).shape == (1, 16, 7, 7)
    b = GhostBottleneck(16, 48, 24, dw_kernel_size=5, stride=2, se_ratio=0.25, dfc=True)
    assert b(torch.randn(1, 16, 8, 8)).shape == (1, 24, 4, 4)
    assert isinstance(GhostBottleneck(16, 48, 16).shortcut, nn.Identity)
