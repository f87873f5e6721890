"""wb.compress.prune: masks, N:M, structured channel pruning on zoo models, bad input."""

import pytest
import torch
from torch import nn

import workbench as wb
from workbench.compress.prune import KeepSparsity, crosscheck, nm_masks, prune, sparsity


def _tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)).eval()  # fmt: skip


@pytest.fixture(scope="module")
def mnv2():
    torch.manual_seed(0)
    return wb.create_model("mobilenetv2_050", num_classes=10, in_chans=1, small_input=True).eval()


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_magnitude_sparsity_and_input_untouched(scope):
    m = _tiny()
    before = [p.clone() for p in m.parameters()]
    p = prune(m, 0.7, "magnitude", scope=scope)
    s = sparsity(p)
    assert abs(s["total"] - 0.7 * 200 / 360) < 0.01  # 200 prunable conv weights, the 160-weight classifier stays dense
    if scope == "layer":  # every pruned layer at the asked fraction; the classifier (6) stays dense
        assert abs(s["0"] - 0.7) < 0.02 and abs(s["3"] - 0.7) < 0.02 and s["6"] == 0
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters(), strict=True))
    assert p(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_global_scope_prunes_layers_unevenly():
    m = _tiny()
    with torch.no_grad():
        m[3].weight.mul_(100)  # a layer with large weights keeps them under one global threshold
    s = sparsity(prune(m, 0.5, "magnitude", scope="global"))
    assert s["0"] == 1.0 and s["3"] < 0.3  # 100 of 200 weights go: all 72 of layer 0 first (layer collapse)


def test_nm_pattern():
    m = _tiny()
    masks = nm_masks(m, 2, 4)
    assert "0" not in masks  # 9 weights per filter: not a multiple of 4, left dense
    grp = masks["3"].reshape(16, -1, 4)
    assert (grp.sum(-1) == 2).all()
    p = prune(m, 0.0, "nm", ignored=[])
    assert sparsity(p)["3"] == 0.5


def test_keep_sparsity_callback_restores_zeros():
    p = prune(_tiny(), 0.5, "magnitude")
    cb = KeepSparsity(p)
    with torch.no_grad():
        p[3].weight.add_(1.0)
    cb.on_step(type("S", (), {"model": p})())
    assert sparsity(p)["3"] >= 0.5


@pytest.mark.parametrize("method", ["l1", "bn_scale", "random", "taylor"])
def test_structured_mobilenetv2_halves_channels(mnv2, method):
    x = torch.randn(4, 1, 28, 28)
    calib = [(x, torch.tensor([0, 1, 2, 3]))]
    p = prune(mnv2, 0.5, method, example_inputs=x, calibration=calib)
    assert p(x).shape == (4, 10)
    before = wb.count_macs(mnv2, (1, 28, 28)).macs
    after = wb.count_macs(p, (1, 28, 28)).macs
    assert 0.2 < after / before < 0.4  # half the channels in and out: about a quarter of the MACs
    assert mnv2.get_classifier().out_features == p.get_classifier().out_features == 10
    assert sum(q.numel() for q in mnv2.parameters()) > 2 * sum(q.numel() for q in p.parameters())


@pytest.mark.parametrize("name", ["mobilenetv3_small_075", "ghostnet_100"])
def test_structured_handles_se_and_ghost(name):
    torch.manual_seed(0)
    m = wb.create_model(name, num_classes=10, in_chans=1, **({"small_input": True} if "mobilenet" in name else {})).eval()
    x = torch.randn(1, 1, 32, 32)
    p = prune(m, 0.5, "l1", example_inputs=x)
    assert p(x).shape == (1, 10)
    assert sum(q.numel() for q in p.parameters()) < 0.8 * sum(q.numel() for q in m.parameters())


def test_crosscheck_params_agree(mnv2):
    x = torch.randn(1, 1, 28, 28)
    c = crosscheck(prune(mnv2, 0.3, "l1", example_inputs=x), x)
    assert c["tp_params"] == c["params"]
    assert 0.8 < c["macs"] / c["tp_ops"] <= 1.0  # its "ops" add BatchNorm and element-wise work


@pytest.mark.parametrize("amount", [-0.1, 1.0, 1.5])
def test_bad_amount(amount):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        prune(_tiny(), amount, "magnitude")


def test_bad_method_scope_and_missing_calibration():
    with pytest.raises(ValueError, match="valid: magnitude"):
        prune(_tiny(), 0.5, "lottery")
    with pytest.raises(ValueError, match="valid: layer, global"):
        prune(_tiny(), 0.5, "magnitude", scope="net")
    with pytest.raises(ValueError, match="calibration"):
        prune(_tiny(), 0.5, "taylor")


def test_unsupported_layer_named():
    m = wb.create_model("efficientvit_m0", num_classes=10, in_chans=1)
    with pytest.raises(ValueError, match="attention_bias.*supported layers"):
        prune(m, 0.5, "l1")
    g = nn.Sequential(nn.Conv2d(4, 8, 3, groups=2), nn.Flatten(), nn.LazyLinear(10))
    with pytest.raises(ValueError, match="groups=2"):
        prune(g, 0.5, "l1")
