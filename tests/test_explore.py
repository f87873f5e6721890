"""wb.explore without a browser: the live path (ipywidgets + FigureWidget, driven from Python) and
the static path (a plain go.Figure), on blocks, small models and hand-made tables."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

import workbench as wb
from workbench.explore import (
    CostExplorer,
    LiteratureExplorer,
    LiveMonitor,
    ZooExplorer,
    is_static,
    papers_table,
    zoo_table,
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))  # never touch the user's counts
    monkeypatch.delenv("WORKBENCH_RECORD_DIR", raising=False)


# -- static or live ------------------------------------------------------------------------------
def test_is_static_explicit_env_and_plain_python(monkeypatch):
    assert is_static(True) is True and is_static(False) is False
    assert is_static() is True  # pytest: no Jupyter kernel
    monkeypatch.setenv("WORKBENCH_RECORD_DIR", "/tmp/x")
    assert is_static(None) is True
    assert is_static(False) is False  # explicit beats detection


# -- cost explorer -------------------------------------------------------------------------------
def _bars(fig) -> dict[str, float]:
    return dict(zip(fig.data[0].x, fig.data[0].y, strict=True))


def test_cost_block_slider_updates_figure_in_place():
    ex = CostExplorer(block="inverted_residual", predictor=None, live=True)
    assert set(ex.knobs) == {"width_mult", "kernel_size", "exp_ratio", "resolution"}
    fig = ex.figure
    assert isinstance(fig, go.FigureWidget)
    assert _bars(fig) == pytest.approx({"params": 1.0, "MACs": 1.0, "activation memory": 1.0})
    ex._sliders["width_mult"].value = 0.5  # what a user's slider move does
    assert ex.figure is fig  # updated in place, not replaced
    bars = _bars(fig)
    # 1x1 convs dominate: MACs and params scale ~ width^2; activations ~ width
    assert 0.2 < bars["MACs"] < 0.35 and 0.2 < bars["params"] < 0.35
    assert 0.4 < bars["activation memory"] < 0.6
    assert "width multiplier 0.5" in fig.layout.title.text
    ex._sliders["resolution"].value = 112  # twice the side: 4x MACs, params unchanged
    assert _bars(fig)["MACs"] / bars["MACs"] == pytest.approx(4.0, rel=0.01)
    assert _bars(fig)["params"] == pytest.approx(bars["params"])
    assert "16x112x112" in ex._summary.value


def test_cost_counts_each_configuration_once(monkeypatch):
    ex = CostExplorer(block="dwsep", predictor=None)
    calls = []
    real = ex._count
    monkeypatch.setattr(ex, "_count", lambda cfg: calls.append(dict(cfg)) or real(cfg))
    ex.update(kernel_size=5)
    ex.update(kernel_size=3)  # the start: counted in __init__
    ex.update(kernel_size=5)
    assert calls == [{"width_mult": 1.0, "kernel_size": 5, "resolution": 56}]


def test_cost_kernel_size_changes_only_the_depthwise_part():
    ex = CostExplorer(block="dwsep", predictor=None)
    c3 = ex.costs()
    c7 = ex.update(kernel_size=7)
    chs, res = c3.input_size[0], c3.input_size[1]
    # depthwise k x k: (49 - 9) * C * H * W more MACs and (49 - 9) * C more weights
    assert c7.macs - c3.macs == 40 * chs * res * res
    assert c7.params - c3.params == 40 * chs


def test_cost_model_knobs_from_the_entry_signature():
    ex = CostExplorer("cheapnet", predictor=None)
    assert list(ex.knobs) == ["width_mult", "resolution"]
    assert ex.knobs["resolution"][2] == 28 and 28 in ex.knobs["resolution"][1]
    base = ex.costs()
    half = ex.update(width_mult=0.5)
    assert half.macs < base.macs and half.params < base.params
    assert half.input_size == (1, 28, 28)


def test_cost_model_vary_a_knob_whose_default_is_none():
    ex = CostExplorer("regnetx_002", vary=["width_mult"], predictor=None)  # width_mult=None: the paper's widths
    assert ex.start["width_mult"] == 1.0 and 1.0 in ex.knobs["width_mult"][1]


def test_cost_predicted_latency_bar_and_measure_button():
    class FakePredictor:
        def predict(self, info):
            return sum(k.macs for k in info.kernels) / 1e6  # 1 ms per MMAC

    seen = []

    def fake_measure(model, size, threads):
        seen.append((type(model).__name__, size, threads))
        return 2.5

    ex = CostExplorer(block="inverted_residual", predictor=FakePredictor(), live=True, measure_fn=fake_measure)
    assert "latency (predicted)" in _bars(ex.figure)
    assert ex.costs().predicted_ms > 0
    ex._sliders["width_mult"].value = 2.0
    assert _bars(ex.figure)["latency (predicted)"] > 2.0
    ex._button.click()  # the "measure latency" button
    assert seen == [("InvertedResidual", (64, 56, 56), 1)]
    assert "2.5 ms" in ex._measured.value
    assert ex.measure() == 2.5


def test_cost_static_call_returns_a_plain_figure():
    fig = wb.explore.cost(block="fused_mbconv", predictor=None, static=True)
    assert type(fig) is go.Figure
    assert list(fig.data[0].x) == ["params", "MACs", "activation memory"]
    assert "fused_mbconv" in fig.layout.title.text


def test_cost_source_one_click_away():
    ex = CostExplorer(block="inverted_residual", predictor=None, live=True)
    acc = ex._source
    assert acc.selected_index is None  # collapsed until clicked
    assert "InvertedResidual" in acc.children[0].value and "shortcut" in acc.children[0].value


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one"),
        ({"model": "cheapnet", "block": "dwsep"}, "exactly one"),
        ({"block": "nope"}, "unknown block 'nope'; valid: inverted_residual"),
        ({"block": "dwsep", "vary": ["nope"]}, "unknown knob 'nope'"),
    ],
)
def test_cost_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CostExplorer(predictor=None, **kwargs)


def test_cost_update_rejects_values_not_offered():
    ex = CostExplorer(block="dwsep", predictor=None)
    with pytest.raises(ValueError, match="unknown kernel_size value 4"):
        ex.update(kernel_size=4)
    with pytest.raises(ValueError, match="unknown knob 'depth'"):
        ex.update(depth=2)


# -- zoo explorer --------------------------------------------------------------------------------
def _zoo_rows() -> pd.DataFrame:
    df = pd.DataFrame({
        "name": ["mobilenetv2_050", "cheapnet", "reference_cnn", "eager fp32"],
        "params": [2e6, 1e5, 4e5, 1e6], "macs": [1e8, 2e6, 5.6e6, 1e7],
        "accuracy": [88.0, 86.0, 90.0, float("nan")], "source": ["a", "a", "b", "b"],
    })  # fmt: skip
    return df


def test_zoo_table_reads_a_reports_models_tables(tmp_path):
    for slug, rows in (("a", _zoo_rows().iloc[:2]), ("b", _zoo_rows().iloc[2:])):
        (tmp_path / "records" / slug).mkdir(parents=True)
        rows.drop(columns="source").to_csv(tmp_path / "records" / slug / "models.csv", index=False)
    t = zoo_table(tmp_path)
    assert list(t.source) == ["a", "a", "b", "b"]
    assert t.set_index("name").loc["cheapnet", "task"] == "classification"
    assert "cheap_operators" in t.set_index("name").loc["cheapnet", "tags"]
    assert t.set_index("name").loc["eager fp32", "family"] == "other"  # not a registry model
    with pytest.raises(ValueError, match="no records"):
        zoo_table(tmp_path / "empty")


def test_zoo_table_counts_registry_models():
    t = zoo_table(names=["reference_cnn"])
    assert t.loc[0, "macs"] == wb.measure.count_model("reference_cnn").macs
    assert t.loc[0, "task"] == "classification"


def test_zoo_filters_axes_and_click_profile(tmp_path):
    for slug in ("a", "b"):
        (tmp_path / "records" / slug).mkdir(parents=True)
    _zoo_rows()[lambda d: d.source == "a"].drop(columns="source").to_csv(tmp_path / "records/a/models.csv", index=False)
    _zoo_rows()[lambda d: d.source == "b"].drop(columns="source").to_csv(tmp_path / "records/b/models.csv", index=False)
    ex = ZooExplorer(zoo_table(tmp_path), live=True)
    assert (ex.x, ex.y) == ("macs", "accuracy")
    fig = ex.figure
    n_points = sum(len(t.x) for t in fig.data[:-1])
    assert n_points == 3  # the row without accuracy is not plotted
    assert list(fig.data[-1].x) == [2e6, 5.6e6]  # Pareto front: cheapnet, reference_cnn
    ex.update(family="cheap_operators")
    assert sum(len(t.x) for t in fig.data[:-1]) < n_points
    ex.update(family="all", y="params")
    assert sum(len(t.x) for t in fig.data[:-1]) == 4 and not fig.data[-1].x
    assert fig.layout.yaxis.title.text == "params"
    prof = ex.select("cheapnet")
    assert prof.loc["macs"].iloc[0] == 2e6 and "paper" in prof.index
    assert "cheapnet" in ex._profile.value
    with pytest.raises(ValueError, match="unknown axis 'flops'"):
        ex.update(x="flops")
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        ex.select("nope")
    assert type(ex.static_figure()) is go.Figure


# -- training monitor ----------------------------------------------------------------------------
def test_live_monitor_during_a_real_fit():
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    model = torch.nn.Linear(4, 3)
    mon = LiveMonitor(live=True, every=2, show=False)
    wb.fit(model, (batches, batches), epochs=2, lr=0.05, progress=False, callbacks=[mon])
    assert mon.steps == list(range(1, 9)) and all(math.isfinite(v) for v in mon.losses)
    assert list(mon.figure.data[0].x) == mon.steps
    assert list(mon.figure.data[2].x) == [1, 2] and len(mon.figure.data[2].y) == 2  # test acc
    assert mon._bar.value == mon._bar.max == 8


def test_live_monitor_static_records_only():
    mon = wb.explore.live(static=True, show=False)
    assert mon.widget is None and type(mon.figure) is go.Figure
    state = SimpleNamespace(total_steps=2, global_step=0, loss=torch.tensor(1.5), epoch=0)
    mon.on_fit_start(state)
    mon.on_step(state)
    mon.on_fit_end(state, SimpleNamespace(train_acc=[50.0], test_acc=[40.0]))
    assert list(mon.figure.data[0].y) == [1.5]
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        LiveMonitor(every=0)


# -- literature explorer -------------------------------------------------------------------------
RECORDS = [
    {"id": "p1", "title": "Tiny Nets: A Paper", "year": 2024, "families": ["mobile_cnn"], "task": "image_classification", "relevance": "core"},
    {"id": "p2", "title": "Other Paper", "year": None, "families": ["nas"], "task": "detection", "relevance": "peripheral"},
    {"id": "p3", "title": "Off Topic", "year": 2020, "families": [], "task": "generic", "relevance": "off_topic"},
]  # fmt: skip
TECHS = [SimpleNamespace(slug="mobile_convs", families=("mobile_cnn",), papers=("Tiny Nets: a paper",))]


def test_papers_table_tested_and_covered():
    t = papers_table(TECHS, RECORDS).set_index("id")
    assert list(t.index) == ["p1", "p2"]  # off-topic dropped
    assert t.loc["p1", "tested_by"] == ["mobile_convs"] and t.loc["p1", "notebook"] == "mobile_convs"
    assert t.loc["p2", "covered_by"] == [] and t.loc["p2", "notebook"] == ""


def test_papers_table_reads_the_technique_registry():
    t = papers_table(wb.techniques.TECHNIQUES)
    assert t.tested_by.map(bool).sum() > 0 and t.covered_by.map(bool).sum() > 0


def test_literature_filters_and_links():
    ex = LiteratureExplorer(papers_table(TECHS, RECORDS), link="{slug}.html", live=True)
    assert "href='mobile_convs.html'" in ex._table.value
    assert list(ex.update(coverage="uncovered").id) == ["p2"]
    assert list(ex.figure.data[1].y) == [0, 1]  # uncovered per family: mobile_cnn 0, nas 1
    assert ex.update(coverage="all", undated=False, years=(2023, 2025)).id.tolist() == ["p1"]
    assert ex.update(undated=True, task="detection").id.tolist() == ["p2"]
    with pytest.raises(ValueError, match="unknown coverage 'some'"):
        ex.update(coverage="some")
    fig = wb.explore.literature(TECHS, static=True)
    assert type(fig) is go.Figure and fig.layout.barmode == "stack"


def test_literature_starting_filters_reach_the_widgets():
    ex = wb.explore.literature(TECHS, static=False, coverage="uncovered")
    assert ex.filters["coverage"] == "uncovered"
    assert ex.widget[0].children[2].value == "uncovered"
    assert len(ex.rows()) > 0 and not ex.rows().covered_by.map(bool).any()
