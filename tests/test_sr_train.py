"""Efficient-SR notebook support: metrics against scikit-image, XLSR, train_sr, the verdict rule."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest
import torch

import workbench as wb
from workbench.data.metrics import psnr, rgb_to_y, ssim
from workbench.lessons import efficient_sr as L
from workbench.train.sr import center_crops, evaluate_sr, train_sr

skm = pytest.importorskip("skimage.metrics")


def _pair(seed=0, shape=(40, 48, 3)):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape).astype(np.uint8)
    noise = rng.normal(0, 6, shape)
    b = np.clip(a + noise, 0, 255).round().astype(np.uint8)
    return a, b


# --- Y conversion (MATLAB rgb2ycbcr, ITU-R BT.601 studio swing) ---


@pytest.mark.parametrize(
    ("rgb", "y"),
    [((0, 0, 0), 16.0), ((255, 255, 255), 235.0), ((255, 0, 0), 81.481), ((0, 255, 0), 144.553), ((0, 0, 255), 40.966)],
)
def test_rgb_to_y_matches_matlab_rgb2ycbcr(rgb, y):
    assert rgb_to_y(np.array(rgb, dtype=np.uint8)) == pytest.approx(y, abs=1e-9)


def test_rgb_to_y_rejects_non_rgb():
    with pytest.raises(ValueError, match="channels last"):
        rgb_to_y(np.zeros((4, 4)))


# --- PSNR / SSIM against scikit-image on the same Y, border cropped ---


@pytest.mark.parametrize("border", [0, 2, 3])
def test_psnr_on_y_matches_skimage(border):
    a, b = _pair()
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    ref = skm.peak_signal_noise_ratio(ya, yb, data_range=255)
    assert psnr(a, b, border=border) == pytest.approx(ref, abs=1e-9)


def test_ssim_on_y_matches_skimage_gaussian():
    a, b = _pair(1, (48, 52, 3))
    ya, yb = rgb_to_y(a)[2:-2, 2:-2], rgb_to_y(b)[2:-2, 2:-2]
    ref = skm.structural_similarity(ya, yb, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    # skimage averages over the full image with a cropped border of its own; compare on its valid region
    ours = ssim(a, b, border=2)
    assert ours == pytest.approx(ref, abs=5e-3)
    assert ssim(a, a, border=2) == pytest.approx(1.0)


def test_border_crop_removes_exactly_border_pixels():
    a = np.full((30, 30, 3), 128, np.uint8)
    b = a.copy()
    b[:2] = 0  # damage only a 2-pixel band
    assert math.isinf(psnr(a, b, border=2))
    assert math.isfinite(psnr(a, b, border=1))


def test_evaluate_sr_uses_border_equal_to_scale():
    eval_set = center_crops(wb.data.sr_eval_set(3), 30)
    net = wb.create_model("xlsr_x3")
    res = evaluate_sr(net, 3, eval_set=eval_set)
    for im, row in zip(eval_set, res.itertuples(), strict=True):
        assert row.bicubic_psnr == pytest.approx(psnr(im.bicubic, im.hr, border=3))
        assert row.bicubic_psnr != pytest.approx(psnr(im.bicubic, im.hr, border=0))


def test_center_crops_are_aligned_and_checked():
    full = wb.data.sr_eval_set(2)
    crops = center_crops(full, 40)
    for im, c in zip(full, crops, strict=True):
        assert c.lr.shape == (40, 40, 3) and c.hr.shape == (80, 80, 3) and c.bicubic.shape == (80, 80, 3)
        top = (im.lr.shape[0] - 40) // 2 * 2
        left = (im.lr.shape[1] - 40) // 2 * 2
        assert np.array_equal(c.hr, im.hr[top : top + 80, left : left + 80])
    with pytest.raises(ValueError, match="lr_size"):
        center_crops(full, 10_000)


# --- XLSR ---


def test_xlsr_params_match_the_abstracts_30x_fewer_than_vdsr():
    n = sum(p.numel() for p in wb.create_model("xlsr_x3").parameters())
    assert n == 21_947
    assert 665_000 / n == pytest.approx(30, abs=0.5)  # VDSR's 665K as printed in CARN's table


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_xlsr_shape_and_clipped_output(scale):
    net = wb.create_model(f"xlsr_x{scale}").eval()
    x = torch.rand(2, 3, 12, 14) * 4 - 2  # out-of-range input pushes the output beyond [0, 1]
    with torch.no_grad():
        y = net(x)
    assert y.shape == (2, 3, 12 * scale, 14 * scale)
    assert y.min() >= 0 and y.max() <= 1
    assert wb.models.model_entry(f"xlsr_x{scale}").default_input_size[1] * scale in (720, 719, 720)


def test_xlsr_without_clip_is_unbounded_and_otherwise_identical():
    torch.manual_seed(0)
    a = wb.create_model("xlsr_x2")
    torch.manual_seed(0)
    b = wb.create_model("xlsr_x2", clip=False)
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        for m in b.modules():  # push the output far outside [0, 1]
            if isinstance(m, torch.nn.Conv2d) and m.out_channels == 12:
                m.bias.fill_(3.0)
        x = torch.rand(1, 3, 8, 8)
        assert b(x).max() > 1
    assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())


def test_xlsr_macs_at_720p_by_hand():
    per_lr_pixel = 4 * 9 * 3 * 8 + 32 * 32 + 3 * (9 * 32 * 32 // 4 + 32 * 32) + 9 * 3 * 16 + 48 * 32 + 9 * 32 * 12
    macs = wb.measure.count_macs(wb.create_model("xlsr_x2"), (3, 36, 64)).macs
    assert macs == per_lr_pixel * 36 * 64


def test_reparameterize_keeps_imdn_whose_block_has_a_fuse_submodule():
    net = wb.create_model("imdn_x2", width_mult=0.25).eval()
    folded = wb.reparameterize_model(net)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(folded(x), net(x), atol=1e-5)


# --- training (tiny) and the bank ---


def test_train_sr_decreases_the_loss_and_is_json(tmp_path):
    torch.manual_seed(0)
    net = wb.create_model("espcn_x2", width_mult=0.25)
    h = train_sr(net, scale=2, steps=24, evals=2, batch_size=4, lr_patch=12, lr=3e-3, threads=1)
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h["step"] == [12, 24] and len(h["psnr"]) == 2 and math.isfinite(h["bicubic_psnr"])
    import json

    json.dumps(h)


def test_train_sr_rejects_bad_evals():
    with pytest.raises(ValueError, match="evals"):
        train_sr(wb.create_model("espcn_x2"), steps=2, evals=3)


def test_cached_train_hits_on_the_second_call(tmp_path):
    train = functools.partial(train_sr, scale=2, steps=2, evals=1, batch_size=2, lr_patch=12, threads=1)
    build = functools.partial(wb.create_model, "xlsr_x2", width_mult=0.5)
    first = wb.bank.cached_train("t", build=build, train=train, settings={"s": 1}, cache_dir=tmp_path)
    second = wb.bank.cached_train("t", build=build, train=train, settings={"s": 1}, cache_dir=tmp_path)
    assert not first.cache_hit and second.cache_hit
    assert second.history == first.history


# --- the verdict rule on hand-made numbers ---


def _table(psnrs, macs, bicubic=30.0):
    return pd.DataFrame({"name": [f"n{i}" for i in range(len(psnrs))], "psnr": psnrs, "bicubic_psnr": bicubic, "macs": macs})


def _int8(clip, noclip):
    return pd.DataFrame({"name": ["xlsr", "xlsr_noclip"], "drop_db": [clip, noclip], "backend": "onnxruntime"})


def test_conclude_supported():
    les = L.conclude(_table([31.0, 31.5], [4e9, 90e9]), _int8(0.02, 0.08), steps=100)
    assert les.verdict == "supported"
    assert "gap +0.50 dB" in les.evidence


def test_conclude_gap_too_large_is_partly_supported():
    les = L.conclude(_table([31.0, 32.5], [4e9, 90e9]), _int8(0.02, 0.08))
    assert les.verdict == "partly supported"


def test_conclude_int8_drop_larger_with_clip_fails_that_part():
    les = L.conclude(_table([31.0, 31.5], [4e9, 90e9]), _int8(0.2, 0.05))
    assert les.verdict == "partly supported" and "int8 fails" in les.evidence


def test_conclude_int8_tie_within_tolerance_holds():
    les = L.conclude(_table([31.0, 31.5], [4e9, 90e9]), _int8(0.005, -0.001))
    assert les.verdict == "supported"


def test_conclude_training_too_short_is_inconclusive():
    les = L.conclude(_table([20.0, 21.0], [4e9, 90e9]), _int8(0.0, 0.0), steps=4)
    assert les.verdict == "inconclusive"
    assert "too short" in les.takeaways[0]


def test_conclude_no_pair_10x_apart_is_untestable_part():
    les = L.conclude(_table([31.0, 31.2], [4e9, 6e9]), None)
    assert les.verdict == "partly supported"  # only the floor is testable (it holds)
    assert "untestable" in les.evidence
    assert "n/a" in str(les.key_numbers)


def test_conclude_heavy_net_below_bicubic_leaves_per_mac_untestable():
    les = L.conclude(_table([31.0, 29.0], [4e9, 90e9]), _int8(0.0, 0.0))
    assert "quality per MAC untestable" in les.evidence
    assert les.verdict == "partly supported"  # floor fails, int8 holds


def test_conclude_rejects_empty():
    with pytest.raises(ValueError, match="at least one"):
        L.conclude(_table([], []))
