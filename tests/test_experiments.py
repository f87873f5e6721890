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
