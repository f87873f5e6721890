"""Zoo additions B: RegNetX, ReXNet, InceptionNeXt, StarNet, EfficientViM.

The registry-driven tests in ``test_models.py`` already check params (identical) and MACs
(0.5 %) against timm for every entry with a reference. Here: the same weights give the same
outputs as timm (a stronger check than counts), the RegNet design-space generator, and the
blocks' own properties.
"""

import pytest
import torch

import workbench as wb
from workbench.models import model_entry

TIMM_TWINS = ["regnetx_002", "regnetx_004", "rexnet_100", "starnet_s1", "inception_next_atto"]


def _params_last(state: dict) -> list:
    """``state``'s tensors with a module's own ``gamma`` moved after its children's tensors.

    timm keeps layer scale as a direct parameter of the block (listed first by ``state_dict``);
    ours is a child ``LayerScale`` module registered last.
    """
    out, held = [], []
    for k, v in state.items():
        while held and not k.startswith(held[-1][0]):
            out.append(held.pop()[1])
        if k.endswith(".gamma"):
            held.append((k[: -len("gamma")], v))
        else:
            out.append(v)
    return out + [v for _, v in reversed(held)]


def _copy_weights_in_order(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """Copy ``src``'s state into ``dst`` tensor by tensor, in registration order (shapes must match)."""
    s, d = _params_last(src.state_dict()), dst.state_dict()
    assert len(s) == len(d), f"{len(s)} tensors vs {len(d)}"
    for (k, v), w in zip(d.items(), s, strict=True):
        assert v.shape == w.shape, f"{k}: {tuple(v.shape)} vs {tuple(w.shape)}"
        v.copy_(w)


@pytest.mark.parametrize("name", TIMM_TWINS)
def test_same_weights_same_outputs_as_timm(name):
    torch.manual_seed(0)
    ref = wb.create_model(model_entry(name).reference).eval()
    # random BN statistics, so a wrong BN/conv pairing cannot hide behind identity BNs
    for m in ref.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    ours = wb.create_model(name).eval()
    _copy_weights_in_order(ref, ours)
    x = torch.randn(2, 3, 160, 160)
    with torch.inference_mode():
        a, b = ours(x), ref(x)
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()


# --- RegNet design space ------------------------------------------------------------------


def test_regnet_generator_reproduces_published_stages():
    from workbench.models.regnet import REGNETX_002, REGNETX_004, regnet_widths

    s = regnet_widths(REGNETX_002)
    assert [st.width for st in s] == [24, 56, 152, 368] and [st.depth for st in s] == [1, 1, 4, 7]
    s = regnet_widths(REGNETX_004)
    assert [st.width for st in s] == [32, 64, 160, 384] and [st.depth for st in s] == [1, 2, 7, 12]
    assert all(st.width % st.group_width == 0 for st in s)


def test_regnet_generator_is_quantized_linear():
    from workbench.models.regnet import RegNetParams, regnet_block_widths, regnet_widths

    p = RegNetParams(w0=32, wa=20.0, wm=2.0, depth=16, group_width=8)
    w = regnet_block_widths(p)
    assert len(w) == p.depth and w == sorted(w) and all(v % 8 == 0 for v in w)
    # every width sits on the geometric grid w0 * wm^k (before the multiple-of-8 rounding)
    assert {v for v in w} <= {32, 64, 128, 256, 512, 1024}
    assert sum(st.depth for st in regnet_widths(p)) == p.depth
    # wa = 0: a single stage of constant width
    assert regnet_block_widths(RegNetParams(w0=48, wa=0, wm=2.5, depth=5, group_width=8)) == [48] * 5


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(w0=20), "w0 must be a positive multiple of 8, got 20"),
        (dict(wm=1.0), "wm must be > 1, got 1.0"),
        (dict(wa=-1.0), "wa must be >= 0"),
        (dict(depth=0), "depth must be >= 1"),
    ],
)
def test_regnet_params_validated(kw, match):
    from workbench.models.regnet import RegNetParams

    base = dict(w0=24, wa=36.44, wm=2.49, depth=13, group_width=8)
    with pytest.raises(ValueError, match=match):
        RegNetParams(**{**base, **kw})


def test_regnet_any_design_point_builds():
    from workbench.models.regnet import RegNet, RegNetParams

    m = RegNet(RegNetParams(w0=16, wa=8.0, wm=2.2, depth=6, group_width=4), num_classes=10, in_chans=1, small_input=True)
    assert m(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    # the same point through the registry, as the model bank builds it (plain-number kwargs)
    r = wb.create_model("regnetx_002", w0=16, wa=8.0, wm=2.2, depth=6, group_width=4, num_classes=10, in_chans=1, small_input=True)
    assert wb.count_params(r).total == wb.count_params(m).total
    with pytest.raises(ValueError, match="wm must be > 1"):
        wb.create_model("regnetx_002", wm=0.5)


# --- ReXNet ------------------------------------------------------------------------------


def test_rexnet_channels_increase_linearly():
    from workbench.models.rexnet import rexnet_channels

    cfg = rexnet_channels()
    chs = [c for c, *_ in cfg]
    assert len(cfg) == 16 and chs[0] == 16 and chs[-1] == 185
    steps = [b - a for a, b in zip(chs[:-1], chs[1:], strict=True)]
    assert all(s in (11, 12) for s in steps), "180/16 = 11.25 channels per block"
    assert [s for _, _, s, _ in cfg].count(2) == 4 and not cfg[0][3] and cfg[-1][3]


def test_rexnet_partial_residual_keeps_new_channels():
    from workbench.layers.rexnet import LinearBottleneck

    torch.manual_seed(0)
    b = LinearBottleneck(8, 12, exp_ratio=6.0).eval()
    x = torch.randn(2, 8, 5, 5)
    with torch.inference_mode():
        y, branch = b(x), b.conv_pwl(b.act_dw(b.se(b.conv_dw(b.conv_exp(x)))))
    assert torch.allclose(y[:, :8], branch[:, :8] + x) and torch.equal(y[:, 8:], branch[:, 8:])
    assert not LinearBottleneck(8, 12, stride=2).use_shortcut and not LinearBottleneck(12, 8).use_shortcut


# --- EfficientViM (no timm reference: the paper's numbers) ------------------------------


def test_efficientvim_m1_matches_paper_claim():
    """Params within 1 % and MACs within 5 % of the paper's 6.7 M / 239 M (datasets/claims/ssm.csv)."""
    from workbench.models.claims import load_claims

    row = load_claims().query("model == 'efficientvim_m1'").iloc[0]
    m = wb.create_model("efficientvim_m1")
    params, macs = wb.count_params(m).total, wb.count_macs(m, (3, 224, 224))
    assert not macs.unsupported
    assert abs(params / (float(row.params_m) * 1e6) - 1) <= 0.01, params
    assert abs(macs.macs / (float(row.macs_m) * 1e6) - 1) <= 0.05, macs.macs


class _Mixer(torch.nn.Module):
    def __init__(self, dim, n, side):
        super().__init__()
        from workbench.layers.ssm import HSMSSD

        self.ssd, self.hw = HSMSSD(dim, n), (side, side)

    def forward(self, x):
        return self.ssd(x, self.hw)[0]


def test_hsm_ssd_cost_is_linear_in_tokens():
    """4x the tokens -> ~4x the MACs (attention's QK^T would be 16x): the SSM's selling point."""
    dim, n = 64, 16
    macs = [wb.count_macs(_Mixer(dim, n, s), torch.randn(1, dim, s * s)).macs for s in (16, 32)]
    assert 3.5 < macs[1] / macs[0] < 4.1


def test_hsm_ssd_shapes_and_hidden_state():
    from workbench.layers.ssm import EfficientViMBlock

    torch.manual_seed(0)
    blk = EfficientViMBlock(32, state_dim=9).eval()
    x = torch.randn(2, 32, 6, 5)  # non-square maps work (the official code assumes H == W)
    with torch.inference_mode():
        y, h = blk(x)
    assert y.shape == x.shape and h.shape == (2, 32, 9)


def test_efficientvim_small_input_keeps_a_spatial_map():
    m = wb.create_model("efficientvim_m1", num_classes=10, in_chans=1, small_input=True).eval()
    with torch.inference_mode():
        x, hs = m.forward_features(torch.randn(1, 1, 28, 28))
    assert x.shape[-2:] == (4, 4) and [h.shape[-1] for h in hs] == [49, 25, 9]
    assert m.num_features == 128 + 192 + 320 + 320


# --- all five families --------------------------------------------------------------------

ZOO_B = ["regnetx_002", "regnetx_004", "rexnet_100", "inception_next_atto", "starnet_s1", "efficientvim_m1"]


@pytest.mark.parametrize("name", ZOO_B)
def test_deploy_form_folds_bn_and_keeps_outputs(name):
    from workbench.layers.reparameterization import reparameterize_model

    torch.manual_seed(0)
    m = wb.create_model(name, num_classes=10, in_chans=1, small_input=True)
    m.train()
    with torch.no_grad():  # non-trivial BN statistics
        m(torch.randn(4, 1, 28, 28))
    m.eval()
    d = reparameterize_model(m)
    n_bn = lambda net: sum(isinstance(x, torch.nn.BatchNorm2d) for x in net.modules())  # noqa: E731
    assert n_bn(d) < n_bn(m)
    x = torch.randn(2, 1, 28, 28)
    with torch.inference_mode():
        assert torch.allclose(m(x), d(x), atol=1e-4, rtol=1e-3)
