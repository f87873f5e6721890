"""Block-level tests for the MetaFormer / EfficientFormer / EfficientViT / RepViT layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.layers.efficientformer import EfficientFormerAttention, Meta3D, Meta4D
from workbench.layers.efficientvit import (
    CascadedGroupAttention,
    EfficientViTBlock,
    LocalWindowAttention,
)
from workbench.layers.metaformer import MetaFormerBlock, get_token_mixer, list_token_mixers
from workbench.layers.repvit import RepDWConv, RepViTBlock, RepViTDownsample


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _randomize_bn(module: nn.Module) -> None:
    """Non-trivial BN statistics and affine terms, so a wrong fold cannot pass by accident."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-1.0, 1.0)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)


@pytest.mark.parametrize("name", list_token_mixers())
def test_token_mixer_table_keeps_shape(name):
    x = torch.randn(2, 64, 7, 9)
    assert get_token_mixer(name, 64)(x).shape == x.shape
    block = MetaFormerBlock(64, token_mixer=name)
    assert block(x).shape == x.shape


def test_token_mixer_table_has_the_four_mixers():
    assert set(list_token_mixers()) >= {"pooling", "attention", "dwconv", "identity"}


def test_unknown_token_mixer_lists_valid_names():
    with pytest.raises(
        ValueError, match="unknown token mixer 'pool'.*attention.*dwconv.*identity.*pooling"
    ):
        get_token_mixer("pool", 16)


def test_unknown_norm_lists_valid_names():
    with pytest.raises(ValueError, match="unknown norm 'rms'.*groupnorm"):
        MetaFormerBlock(16, norm="rms")


def test_pooling_mixer_is_zero_on_constant_input():
    # avgpool(x) - x vanishes on a constant map, borders included (count_include_pad=False).
    x = torch.full((1, 4, 5, 5), 3.0)
    assert get_token_mixer("pooling", 4)(x).abs().max() == 0


@torch.no_grad()
def test_repdwconv_reparameterize_matches_eval_output():
    m = RepDWConv(24, 3)
    _randomize_bn(m)
    nn.init.normal_(m.conv1.bias)
    m.eval()
    x = torch.randn(2, 24, 9, 9)
    y_train_form = m(x)
    m.reparameterize()
    assert isinstance(m.reparam_conv, nn.Conv2d) and not hasattr(m, "conv1")
    assert sum(p.numel() for p in m.parameters()) == 24 * 9 + 24  # one 3x3 dw kernel + bias
    assert (m(x) - y_train_form).abs().max() <= 1e-4


@torch.no_grad()
@pytest.mark.parametrize("use_se", [True, False])
def test_repvit_block_reparameterize_matches_eval_output(use_se):
    from workbench.layers.reparameterization import reparameterize_model

    block = RepViTBlock(32, use_se=use_se)
    _randomize_bn(block)
    block.eval()
    x = torch.randn(2, 32, 8, 8)
    y = block(x)
    deployed = reparameterize_model(block)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in deployed.modules())
    assert (deployed(x) - y).abs().max() <= 1e-4


def test_repvit_downsample_shape():
    assert RepViTDownsample(16, 32)(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)


def test_cascaded_group_attention_shape():
    m = CascadedGroupAttention(64, key_dim=16, num_heads=4, attn_ratio=1, resolution=7).eval()
    assert m(torch.randn(2, 64, 7, 7)).shape == (2, 64, 7, 7)


@torch.no_grad()
def test_cascaded_group_attention_really_cascades():
    # Perturb only head 0's input chunk; head 1's output must change (it consumes head 0's
    # output), while in a plain group attention it would not.
    dim, heads = 32, 4
    m = CascadedGroupAttention(dim, key_dim=8, num_heads=heads, attn_ratio=1, resolution=4).eval()
    head_outs = []
    m.dws[1].register_forward_hook(lambda mod, inp, out: head_outs.append(out.clone()))
    x = torch.randn(1, dim, 4, 4)
    x2 = x.clone()
    x2[:, : dim // heads] += 1.0  # chunk 0 only
    m(x)
    m(x2)
    assert (head_outs[0] - head_outs[1]).abs().max() > 1e-3
    # ... and perturbing the last chunk leaves head 1 untouched (the cascade only flows forward)
    head_outs.clear()
    x3 = x.clone()
    x3[:, -(dim // heads) :] += 1.0
    m(x)
    m(x3)
    assert torch.equal(head_outs[0], head_outs[1])


def test_cascaded_group_attention_rejects_bad_heads():
    with pytest.raises(ValueError, match="divisible"):
        CascadedGroupAttention(30, key_dim=8, num_heads=4)


@pytest.mark.parametrize("size", [7, 14, 10])  # one window, 2x2 windows, padded windows
def test_local_window_attention_shapes(size):
    m = LocalWindowAttention(
        32, key_dim=8, num_heads=2, attn_ratio=2, resolution=size, window_resolution=7
    ).eval()
    assert m(torch.randn(1, 32, size, size)).shape == (1, 32, size, size)


def test_efficientvit_block_shape():
    m = EfficientViTBlock(32, key_dim=8, num_heads=2, attn_ratio=2, resolution=7).eval()
    assert m(torch.randn(2, 32, 7, 7)).shape == (2, 32, 7, 7)


def test_meta3d_shape():
    x = torch.randn(2, 49, 64)  # (B, N, C) on a 7 x 7 grid
    assert Meta3D(64, resolution=7, key_dim=16, num_heads=4)(x).shape == x.shape


def test_meta3d_attention_bias_is_relative():
    # Bias depends only on |dy|, |dx|: tokens (0,0)-(1,2) and (3,3)-(4,5) share an entry.
    attn = EfficientFormerAttention(16, key_dim=4, num_heads=2, resolution=7)
    nn.init.normal_(attn.attention_bias.attention_biases)
    b = attn.attention_bias()
    assert b.shape == (2, 49, 49)
    assert torch.equal(b[:, 0 * 7 + 0, 1 * 7 + 2], b[:, 3 * 7 + 3, 4 * 7 + 5])


def test_meta4d_shape():
    x = torch.randn(2, 48, 14, 14)
    assert Meta4D(48)(x).shape == x.shape


@torch.no_grad()
def test_repvit_model_deploy_form_matches_and_merges_heads():
    from workbench.layers.reparameterization import reparameterize_model
    from workbench.models import create_model

    model = create_model("repvit_m0_9", num_classes=10, small_input=True)
    _randomize_bn(model)
    for fc in (model.classifier, model.classifier_dist):
        nn.init.normal_(fc.weight, std=0.1)
        nn.init.normal_(fc.bias)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    y = model(x)
    deployed = reparameterize_model(model)
    assert deployed.classifier_dist is None
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in deployed.modules())
    assert (deployed(x) - y).abs().max() <= 1e-4
