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


# --- the pruning notebook's verdict rule (workbench/lessons/pruning.py), on hand-made numbers ---

def _ptable(*, target_speed=2.0, mask_speed=1.0, base_acc=90.0, target_acc=89.0):
    import pandas as pd

    rows = [
        ("dense", "dense", 1.0, 1.0, base_acc, base_acc),
        ("magnitude 90%", "unstructured", mask_speed, mask_speed, 80.0, 88.0),
        ("l1 50%", "structured", target_speed * 0.8, target_speed, 70.0, target_acc),
    ]
    t = pd.DataFrame(rows, columns=["name", "kind", "speedup", "speedup_hi", "accuracy_pruned", "accuracy"])
    return t.assign(macs=[100, 100, 28], nonzero_macs=[100, 10, 28], nonzero_params=[1000, 100, 260])


def _verdict(**kw):
    from workbench.lessons import pruning

    return pruning.conclude(_ptable(**kw), target="l1 50%", resolution=224, finetune_steps=60, finetune_images=3840)


def test_pruning_verdict_supported():
    lesson = _verdict()
    assert lesson.verdict == "supported"
    assert "2.00x" in lesson.evidence and "1 seed, no spread" in lesson.takeaways[0]


@pytest.mark.parametrize(
    ("kw", "verdict"),
    [
        ({"target_acc": 87.0}, "partly supported"),  # fast but 3 points lost
        ({"mask_speed": 1.3}, "partly supported"),  # masks got faster: the "no gain" half fails
        ({"target_speed": 1.2}, "not supported"),  # accuracy kept, but no 1.5x
        ({"target_speed": 1.2, "base_acc": 60.0}, "inconclusive"),  # too short and too slow
        ({"base_acc": 60.0}, "partly supported"),  # fast but accuracy untestable
    ],
)
def test_pruning_verdict_edges(kw, verdict):
    lesson = _verdict(**kw)
    assert lesson.verdict == verdict
    if kw.get("base_acc", 90) < 84:
        assert lesson.key_numbers["training"] == "too short: accuracy ignored"


def test_pruning_verdict_bad_table():
    from workbench.lessons import pruning

    with pytest.raises(ValueError, match="rows: dense"):
        pruning.conclude(_ptable(), target="l1 75%", resolution=224, finetune_steps=1, finetune_images=1)
    with pytest.raises(ValueError, match="first row must be 'dense'"):
        pruning.conclude(_ptable().iloc[1:], target="l1 50%", resolution=224, finetune_steps=1, finetune_images=1)


def test_merge_latency_speedups():
    import pandas as pd

    from workbench.lessons.pruning import merge_latency

    t = pd.DataFrame({"name": ["dense", "l1 50%"]})
    low = pd.DataFrame({"name": ["dense", "l1 50%"], "ratio": [1.0, 0.8], "ratio_q1": [1.0, 0.7], "ratio_q3": [1.0, 0.9]})
    hi = low.assign(ratio=[1.0, 0.5])
    m = merge_latency(t, low, hi)
    assert m.speedup.tolist() == [1.0, 1.25] and m.speedup_hi.tolist() == [1.0, 2.0]


def test_pruning_bank_entry_is_mobile_convs_base():
    from workbench.lessons import pruning

    (e,) = pruning.bank_entries({"backbone": "mobilenetv2_050", "recipe": "fmnist_short", "base_seed": 0})
    assert (e.model, e.recipe, e.seed, dict(e.kwargs)) == ("mobilenetv2_050", "fmnist_short", 0, {"small_input": True})
