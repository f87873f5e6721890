"""Super-resolution blocks (workbench.layers.sr) and the SR model zoo's shapes and conventions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from workbench.layers.sr import (
    IMDB,
    SCPA,
    UPA,
    Cascade,
    ContrastChannelAttention,
    EResidualBlock,
    MeanShift,
    PixelAttention,
    SubPixelConv,
    SubPixelUpsampler,
)
from workbench.models import create_model, list_models
from workbench.models.sr import lr_input_size

torch.manual_seed(0)

SR_FAMILIES = ["srcnn", "srcnn_955", "fsrcnn", "espcn", "carn_m", "pan", "imdn"]
Y_CHANNEL_FAMILIES = ["srcnn", "fsrcnn", "espcn"]  # trained on Y in their papers


def test_every_family_registered_at_every_scale():
    names = set(list_models(task="super_resolution"))
    assert {f"{f}_x{s}" for f in SR_FAMILIES for s in (2, 3, 4)} <= names


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("family", SR_FAMILIES)
def test_output_shape_rgb(family, scale):
    model = create_model(f"{family}_x{scale}").eval()
    x = torch.rand(1, 3, 12, 10)  # non-square catches swapped H/W
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, 12 * scale, 10 * scale)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("family", Y_CHANNEL_FAMILIES + ["imdn"])
def test_output_shape_y_channel(family, scale):
    model = create_model(f"{family}_x{scale}", in_chans=1).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 1, 7, 9))
    assert y.shape == (2, 1, 7 * scale, 9 * scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_default_input_size_is_720p_output(scale):
    entry_size = create_model(f"imdn_x{scale}").default_input_size
    assert entry_size == lr_input_size(scale)
    _, h, w = entry_size
    assert h * scale == 720
    assert abs(w * scale - 1280) < scale  # x3: 427 * 3 = 1281 (1280 / 3 is not an integer)


def test_bad_scale_raises():
    with pytest.raises(ValueError, match="scale"):
        lr_input_size(5)
    with pytest.raises(ValueError, match="scale"):
        SubPixelUpsampler(8, 5)
    with pytest.raises(ValueError, match="scale"):
        SubPixelConv(8, 3, 1)


def test_sub_pixel_conv_matches_manual_rearrangement():
    """PixelShuffle: out[c, h*s+i, w*s+j] = conv[c*s*s + i*s + j, h, w] (Shi et al., eq. 4)."""
    s, c = 3, 2
    up = SubPixelConv(4, c, s).eval()
    x = torch.randn(1, 4, 5, 6)
    with torch.no_grad():
        conv = up[0](x)  # (1, c*s*s, 5, 6)
        y = up(x)
    manual = torch.empty(1, c, 5 * s, 6 * s)
    for ch in range(c):
        for i in range(s):
            for j in range(s):
                manual[0, ch, i::s, j::s] = conv[0, ch * s * s + i * s + j]
    torch.testing.assert_close(y, manual)


def test_sub_pixel_conv_with_copy_weights_is_nearest_upsampling():
    s, c = 2, 3
    up = SubPixelConv(c, c, s, kernel_size=1)
    with torch.no_grad():
        w = torch.zeros(c * s * s, c, 1, 1)
        for ch in range(c):
            w[ch * s * s : (ch + 1) * s * s, ch] = 1.0  # every sub-pixel of channel ch copies it
        up[0].weight.copy_(w)
        up[0].bias.zero_()
        x = torch.randn(2, c, 4, 5)
        torch.testing.assert_close(up(x), F.interpolate(x, scale_factor=s, mode="nearest"))


@pytest.mark.parametrize(("scale", "steps"), [(2, 1), (3, 1), (4, 2), (8, 3)])
def test_sub_pixel_upsampler_steps(scale, steps):
    up = SubPixelUpsampler(8, scale, groups=4)
    assert len(up) == steps
    assert up(torch.randn(1, 8, 3, 4)).shape == (1, 8, 3 * scale, 4 * scale)


def test_pixel_attention_gate_in_open_unit_interval():
    pa = PixelAttention(6).eval()
    x = torch.randn(2, 6, 5, 5)
    with torch.no_grad():
        gate = pa(x) / x
        expected = torch.sigmoid(pa.conv(x))
    assert gate.shape == x.shape  # one gate per channel and pixel (3-D attention map)
    assert (gate > 0).all() and (gate < 1).all()
    torch.testing.assert_close(gate, expected)


def test_scpa_and_upa_shapes_and_bias_free_convs():
    scpa = SCPA(40)
    assert scpa(torch.randn(1, 40, 6, 6)).shape == (1, 40, 6, 6)
    # PAN: only the pixel-attention 1x1 (PAConv.gate) has a bias inside SC-PA.
    biased = [n for n, m in scpa.named_modules() if isinstance(m, nn.Conv2d) and m.bias is not None]
    assert biased == ["pa_conv.gate"]
    upa = UPA(40, 24, 2)
    assert upa(torch.randn(1, 40, 5, 6)).shape == (1, 24, 10, 12)
    with pytest.raises(ValueError, match="reduction"):
        SCPA(41)


def test_imdb_channel_split_sizes():
    block = IMDB(64)
    assert (block.distilled, block.remaining) == (16, 48)
    assert block.c1.in_channels == 64 and block.c1.out_channels == 64
    for conv in (block.c2, block.c3):
        assert conv.in_channels == 48 and conv.out_channels == 64
    assert block.c4.in_channels == 48 and block.c4.out_channels == 16
    assert block.fuse.in_channels == 4 * 16
    assert block(torch.randn(1, 64, 6, 7)).shape == (1, 64, 6, 7)
    with pytest.raises(ValueError, match="distill_rate"):
        IMDB(30)  # int(30 * 0.25) = 7 and 4 * 7 != 30


def test_contrast_channel_attention_matches_official_formula():
    cca = ContrastChannelAttention(32).eval()
    x = torch.randn(2, 32, 5, 7)
    # IMDN's stdv_channels: sqrt(sum((x - mean)^2) / (H * W)) -- population std.
    mean = x.mean((2, 3), keepdim=True)
    std = ((x - mean) ** 2).sum((2, 3), keepdim=True).div(5 * 7).sqrt()
    with torch.no_grad():
        expected = x * torch.sigmoid(cca.fc2(torch.relu(cca.fc1(std + mean))))
        torch.testing.assert_close(cca(x), expected)
    assert cca.fc1.out_channels == 2  # reduction 16


def test_cascade_shared_unit_counted_once_and_fusion_widths():
    unit = EResidualBlock(16, groups=4)
    shared = Cascade([unit] * 3, 16)
    distinct = Cascade([EResidualBlock(16, groups=4) for _ in range(3)], 16)
    n_unit = sum(p.numel() for p in unit.parameters())
    n_shared = sum(p.numel() for p in shared.parameters())
    n_distinct = sum(p.numel() for p in distinct.parameters())
    assert n_distinct - n_shared == 2 * n_unit
    assert [f[0].in_channels for f in shared.fuses] == [32, 48, 64]
    assert shared(torch.randn(1, 16, 5, 5)).shape == (1, 16, 5, 5)
    with pytest.raises(ValueError, match="groups"):
        EResidualBlock(18, groups=4)


def test_mean_shift_round_trip_and_no_parameters():
    sub, add = MeanShift((0.4, 0.5, 0.6), -1), MeanShift((0.4, 0.5, 0.6), 1)
    x = torch.rand(1, 3, 4, 4)
    torch.testing.assert_close(add(sub(x)), x)
    assert torch.allclose(sub(x)[:, 1], x[:, 1] - 0.5)
    assert not list(sub.parameters())


# Parameter counts of the official single-scale implementations (their layer definitions:
# CARN-pytorch carn_m.py with --group 4 minus the 2 x 12 frozen mean-shift numbers, IMDN
# architecture.py, PAN PAN_arch.py nf=40 unf=24 nb=16).
OFFICIAL_PARAMS = {
    "carn_m_x2": 257_027,
    "carn_m_x3": 303_427,
    "carn_m_x4": 294_147,
    "imdn_x2": 694_404,
    "imdn_x3": 703_059,
    "imdn_x4": 715_176,
    "pan_x2": 261_403,
    "pan_x3": 261_403,
    "pan_x4": 272_419,
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_PARAMS))
def test_params_identical_to_official_code(name):
    model = create_model(name)
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAMS[name]


def test_classic_param_counts_from_paper_formulas():
    # SRCNN 9-5-5 on Y: 9*9*64 + 5*5*64*32 + 5*5*32 weights (= 57,184, TPAMI) + 97 biases.
    assert (
        sum(p.numel() for p in create_model("srcnn_955_x2", in_chans=1).parameters()) == 57_184 + 97
    )
    # SRCNN 9-1-5: 8,032 weights (ECCV 2014) + 97 biases.
    assert sum(p.numel() for p in create_model("srcnn_x3", in_chans=1).parameters()) == 8_032 + 97
    # FSRCNN(56,12,4): 12,464 weights (ECCV 2016) + 173 biases + 172 PReLU slopes.
    assert (
        sum(p.numel() for p in create_model("fsrcnn_x3", in_chans=1).parameters())
        == 12_464 + 173 + 172
    )


def test_srcnn_pre_upsampled_takes_hr_input():
    model = create_model("srcnn_x2", pre_upsampled=True).eval()
    assert model.default_input_size == (3, 720, 1280)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 16, 18)).shape == (1, 3, 16, 18)


def test_width_mult_rescales_features():
    narrow = create_model("imdn_x2", width_mult=0.5)
    assert narrow.fea_conv.out_channels == 32
    assert narrow(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)
