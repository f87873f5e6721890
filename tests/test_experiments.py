"""Layer experiments, multiplier grids and the train-and-measure helper."""

import math

import numpy as np
import pandas as pd
import pytest

from workbench.experiment import LINEAR_BASELINE_ACC, training_note
from workbench.measure import count_macs, multiplier_grid, scaling_exponents
from workbench.measure.guidelines import GUIDELINES


@pytest.mark.parametrize("gid", list(GUIDELINES))
def test_guideline_variants_have_equal_macs(gid):
    _, make = GUIDELINES[gid]
    macs = [count_macs(m, (c, 8, 8)).macs for m, c in make(64, 2).values()]
    # channel counts are rounded to integers: equal within 5 %
    assert max(macs) / min(macs) < 1.05, macs


def test_scaling_exponents_recover_a_power_law():
    grid = pd.DataFrame([{"width": w, "resolution": r, "macs": 7 * w**2 * r**1.5} for w in (0.5, 1, 2) for r in (64, 128, 224)])
    e = scaling_exponents(grid)
    assert e["width"] == pytest.approx(2.0) and e["resolution"] == pytest.approx(1.5)


def test_multiplier_grid_on_mobilenetv2():
    g = multiplier_grid("mobilenetv2_100", [0.5, 1.0], [112, 224])
    assert len(g) == 4
    full = g[(g.width == 1.0) & (g.resolution == 224)].macs.item()
    assert math.isclose(full, 300_774_272, rel_tol=1e-9)
    # resolution does not change params; MACs ~ resolution^2 (less: the classifier and odd late maps)
    assert g[g.width == 1.0].params.nunique() == 1
    assert 3.5 < full / g[(g.width == 1.0) & (g.resolution == 112)].macs.item() < 4.05


def test_training_note_flags_short_runs():
    short = pd.DataFrame({"accuracy": [40.0, 55.0], "accuracy_std": [np.nan, np.nan]})
    assert training_note(short, epochs=1, images=500).startswith("TOO SHORT")
    ok = pd.DataFrame({"accuracy": [88.0, 89.5], "accuracy_std": [0.2, 0.3]})
    assert "TOO SHORT" not in training_note(ok, epochs=3, images=8000)
    noisy = pd.DataFrame({"accuracy": [88.0, 88.3], "accuracy_std": [0.4, 0.5]})
    assert "noise" in training_note(noisy, epochs=3, images=8000)
    assert LINEAR_BASELINE_ACC == 84.0


def _synthetic():
    import torch

    import workbench.data as wbd

    g = torch.Generator().manual_seed(0)
    y = torch.arange(160) % 4
    x = ((y * 50 + 20).view(-1, 1, 1, 1) + torch.randint(0, 30, (160, 1, 8, 8), generator=g)).to(torch.uint8)
    return wbd.DataBundle(
        wbd.TensorLoader(x[:128], y[:128], batch_size=32, shuffle=True, drop_last=True, mean=0.5, std=0.3),
        wbd.TensorLoader(x[128:], y[128:], batch_size=32, mean=0.5, std=0.3),
        num_classes=4, class_names=tuple("abcd"), version={"synthetic": "experiments"},
    )  # fmt: skip


def test_train_compare_through_the_bank(tmp_path, monkeypatch):
    from workbench import bank
    from workbench.experiment import train_compare

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    data = _synthetic()
    variants = {"full": ("reference_cnn", {}), "half": ("reference_cnn", {"width_mult": 0.5})}
    c1 = train_compare(variants, data, seeds=(0,), latency=False, threads=1, recipe="smoke")
    assert list(c1.table.name) == ["full", "half"] and (c1.table.recipe == "smoke").all()
    assert not c1.runs.cached.any() and len(bank.list_entries()) == 2
    c2 = train_compare(variants, data, seeds=(0,), latency=False, threads=1, recipe="smoke")
    assert c2.runs.cached.all() and list(c2.runs.accuracy) == list(c1.runs.accuracy)
    assert c1.table.params.iloc[1] < c1.table.params.iloc[0]
    # the recipe's own values are no change (same entries); a different value derives a recipe
    c3 = train_compare(variants, data, latency=False, threads=1, recipe="smoke", epochs=1, lr=0.1)
    assert c3.runs.cached.all()
    c4 = train_compare({"full": variants["full"]}, data, latency=False, threads=1, recipe="smoke", epochs=2)
    assert not c4.runs.cached.any() and c4.table.recipe.item() == "smoke+epochs=2"
    assert len(c4.histories["full"].epoch) == 2
    with pytest.raises(ValueError, match="not a recipe field; valid: subset"):
        train_compare(variants, data, recipe="smoke", callbacks=())
    with pytest.raises(KeyError, match="smoke"):
        train_compare(variants, data, recipe="smok", latency=False)


def test_train_compare_cached_fit_path_still_works(tmp_path, monkeypatch):
    from workbench.experiment import train_compare

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    c = train_compare({"a": ("reference_cnn", {"width_mult": 0.5})}, _synthetic(), latency=False, threads=1,
                      epochs=1, lr=0.05, progress=False)  # fmt: skip
    assert c.table.recipe.isna().all() and not c.runs.cached.any()
    assert train_compare({"a": ("reference_cnn", {"width_mult": 0.5})}, _synthetic(), latency=False, threads=1,
                         epochs=1, lr=0.05, progress=False).runs.cached.all()  # fmt: skip
