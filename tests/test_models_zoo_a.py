"""Zoo additions A (issue 12): MobileNetV4 (UIB, Mobile MQA), MobileViT, MobileOne S1-S4.

Params/MACs against timm, small-input forwards and the classifier interface are covered by the
registry-driven tests in test_models.py; here: the blocks' own algebra, weight-for-weight
equality with timm, and the deploy form of every MobileOne.
"""

import pytest
import torch
from torch import nn

import workbench as wb
from workbench.layers.mobile_attention import MobileMQABlock, MultiQueryAttention2d
from workbench.layers.mobilevit import MobileViTBlock
from workbench.layers.reparameterization import reparameterize_model
from workbench.layers.uib import UniversalInvertedBottleneck
from workbench.models import list_models

MOBILEONES = list_models("mobileone_s*")
# same module order as timm, so a state dict maps over entry by entry
WEIGHT_FOR_WEIGHT = ["mobilenetv4_conv_small", "mobilenetv4_conv_medium", "mobilenetv4_hybrid_medium", "mobilevit_xxs"]


def _randomize_bn(model: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
                m.running_mean.uniform_(-0.2, 0.2, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
    return model


def test_new_models_registered_with_timm_reference_and_tags():
    for name in [*WEIGHT_FOR_WEIGHT, "mobileone_s1", "mobileone_s2", "mobileone_s3", "mobileone_s4"]:
        entry = wb.models.model_entry(name)
        assert entry.reference == f"timm:{name}"
    assert "efficient_attention" in wb.models.model_entry("mobilenetv4_hybrid_medium").tags
    assert "efficient_attention" not in wb.models.model_entry("mobilenetv4_conv_medium").tags
    assert "channel_attention" in wb.models.model_entry("mobileone_s4").tags
    assert wb.models.model_entry("mobilevit_xxs").default_input_size == (3, 256, 256)


@pytest.mark.parametrize(
    ("start_k", "mid_k", "variant"), [(3, 5, "ExtraDW"), (0, 3, "IB"), (3, 0, "ConvNext"), (0, 0, "FFN")]
)
def test_uib_variants_and_stride_placement(start_k, mid_k, variant):
    block = UniversalInvertedBottleneck(16, 16, start_k, mid_k, stride=1, exp_ratio=4).eval()
    assert block.variant == variant and block.has_skip
    assert isinstance(block.dw_start, nn.Identity) == (start_k == 0)
    assert isinstance(block.dw_mid, nn.Identity) == (mid_k == 0)
    x = torch.randn(2, 16, 8, 8)
    assert block(x).shape == x.shape
    if start_k or mid_k:
        down = UniversalInvertedBottleneck(16, 24, start_k, mid_k, stride=2)
        assert down(x).shape == (2, 24, 4, 4) and not down.has_skip
        strided = down.dw_mid if mid_k else down.dw_start
        assert strided[0].stride == (2, 2)  # the depthwise conv downsamples, never a 1x1
    else:
        with pytest.raises(ValueError, match="stride=2 needs a depthwise conv"):
            UniversalInvertedBottleneck(16, 24, 0, 0, stride=2)


def test_uib_layer_scale_starts_near_identity():
    block = UniversalInvertedBottleneck(16, 16, 3, 3, layer_scale=1e-5).eval()
    x = torch.randn(1, 16, 8, 8)
    with torch.inference_mode():
        assert (block(x) - x).abs().max() < 1e-3


@pytest.mark.parametrize("kv_stride", [1, 2])
def test_mqa_equals_multi_head_attention_with_one_shared_kv_head(kv_stride):
    torch.manual_seed(0)
    heads, d = 4, 8
    mqa = MultiQueryAttention2d(16, 24, num_heads=heads, key_dim=d, kv_stride=kv_stride).eval()
    x = torch.randn(2, 16, 6, 6)
    with torch.inference_mode():
        q = mqa.query(x).reshape(2, heads, d, 36)  # (B, h, d, N)
        k, v = mqa.key(x).flatten(2), mqa.value(x).flatten(2)  # (B, d, M), one head each
        assert k.shape[-1] == 36 // kv_stride**2
        scores = torch.einsum("bhdn,bdm->bhnm", q, k) / d**0.5
        o = torch.einsum("bhnm,bdm->bhdn", scores.softmax(-1), v).reshape(2, heads * d, 6, 6)
        assert torch.allclose(mqa(x), mqa.output(o), atol=1e-5)


def test_mqa_block_residual_only_when_shapes_match():
    x = torch.randn(1, 16, 4, 4)
    assert MobileMQABlock(16, 16, 2, 8).has_skip and not MobileMQABlock(16, 32, 2, 8).has_skip
    assert MobileMQABlock(16, 32, 2, 8, kv_stride=2)(x).shape == (1, 32, 4, 4)


def test_mobilevit_unfold_groups_same_offset_pixels_and_fold_inverts():
    block = MobileViTBlock(8, 16, depth=1, patch_size=2)
    x = torch.randn(2, 16, 4, 6)
    tokens = block.unfold(x)
    assert tokens.shape == (2 * 4, 2 * 3, 16)
    # sequence 1 of sample 0 = pixel (0, 1) of every 2x2 patch, patches in row-major order
    assert torch.equal(tokens[1, :, 0], x[0, 0, 0::2, 1::2].flatten())
    assert torch.equal(block.fold(tokens, 2, 4, 6), x)


def test_mobilevit_block_odd_map_is_resized_for_patches():
    block = MobileViTBlock(8, 16, depth=1, patch_size=2).eval()
    with torch.inference_mode():
        assert block(torch.randn(1, 8, 7, 7)).shape == (1, 8, 7, 7)


@pytest.mark.parametrize("name", WEIGHT_FOR_WEIGHT)
def test_same_function_as_timm_weight_for_weight(name):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    ours, ref = wb.create_model(name).eval(), timm.create_model(name, pretrained=False).eval()
    so = [v for k, v in ours.state_dict().items() if not k.endswith("num_batches_tracked")]
    sr = [v for k, v in _randomize_bn(ref).state_dict().items() if not k.endswith("num_batches_tracked")]
    assert [tuple(v.shape) for v in so] == [tuple(v.shape) for v in sr]
    with torch.no_grad():
        for a, b in zip(so, sr, strict=True):
            a.copy_(b)
        x = torch.randn(2, 3, 64, 64)
        assert torch.allclose(ours(x), ref(x), atol=1e-5)


@pytest.mark.parametrize("name", MOBILEONES)
def test_mobileone_deploy_form_equivalent(name):
    model = _randomize_bn(wb.create_model(name)).double()
    deploy = reparameterize_model(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in deploy.modules())
    assert wb.count_params(deploy).total < wb.count_params(model).total
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        assert (model.eval()(x) - deploy(x)).abs().max().item() <= 1e-4


@pytest.mark.parametrize("name", MOBILEONES)
def test_mobileone_deploy_params_match_timm(name):
    timm = pytest.importorskip("timm")
    from timm.models._manipulate import reparameterize_model as timm_reparameterize

    ours = reparameterize_model(wb.create_model(name))
    ref = timm_reparameterize(timm.create_model(name, pretrained=False).eval())
    assert wb.count_params(ours).total == wb.count_params(ref).total


def test_mobileone_s4_se_on_last_blocks_only():
    from workbench.layers.channel_attention import SqueezeExcite

    m = wb.create_model("mobileone_s4")
    gated = [len([b for b in st if isinstance(b.attn, SqueezeExcite)]) for st in m.stages]
    assert gated == [0, 0, 10, 2]  # 5 and 1 (depthwise, pointwise) pairs
    assert m.stages[2][-1].attn.fc1.out_channels == 896 // 16
