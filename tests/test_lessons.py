"""Lessons: show_source, and each notebook's verdict rule on hand-made numbers (edge cases too)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import workbench as wb
from workbench.lessons import channel_attention as ca
from workbench.lessons import cost_model as cm
from workbench.lessons import mobile_convs as mc
from workbench.lessons.verdicts import VERDICTS, Lesson, seed_spread
from workbench.report.record import VERDICTS as RECORD_VERDICTS
from workbench.report.record import _check_claim_result, _check_key_numbers

NAN = float("nan")


# --- show_source --------------------------------------------------------------------------------
def test_show_source_names_file_and_line_and_renders_highlighted():
    import inspect
    from pathlib import Path

    from workbench.layers import SqueezeExcite

    src = wb.show_source(SqueezeExcite)
    path, line = src.location.rsplit(":", 1)
    expected = (
        Path(inspect.getsourcefile(SqueezeExcite))
        .resolve()
        .relative_to(wb.paths.REPO_ROOT)
        .as_posix()
    )
    assert path == expected and path.startswith("workbench/layers/")
    lines = (wb.paths.REPO_ROOT / path).read_text().splitlines()
    assert lines[int(line) - 1].startswith("class SqueezeExcite")
    assert "def forward" in src.code
    html = src._repr_html_()
    assert path in html and "<span" in html  # pygments colouring
    md = src._repr_markdown_()
    assert "```python\nclass SqueezeExcite" in md


def test_show_source_function_and_bad_input():
    assert "def conv_algorithm" in wb.show_source(wb.measure.conv_algorithm).code
    with pytest.raises(ValueError, match="class, function"):
        wb.show_source(3)
    with pytest.raises(ValueError, match="no Python source"):
        wb.show_source(int)


# --- Lesson -----------------------------------------------------------------------------------
def test_verdicts_match_the_report_schema():
    assert VERDICTS == RECORD_VERDICTS
    with pytest.raises(ValueError, match="verdict"):
        Lesson("c", "probably", "e", ())


def test_seed_spread_never_prints_nan():
    assert seed_spread(NAN, 1) == "1 seed, no spread"
    assert seed_spread(0.5, 1) == "1 seed, no spread"
    assert seed_spread(NAN, 2) == "2 seeds, no spread"
    assert "0.31" in seed_spread(0.31, 3)


# --- cost_model -------------------------------------------------------------------------------
def _zoo(latencies, macs):
    return pd.DataFrame({"name": [f"m{i}" for i in range(len(macs))], "macs": macs, "latency_ms": latencies,
                         "arithmetic_intensity": [1.0 + i for i in range(len(macs))]})  # fmt: skip


def _layers(dense_gflops, dw_gflops):
    return pd.DataFrame({"kind": ["dense 3x3", "depthwise 3x3", "pointwise 1x1"], "width": [128] * 3,
                         "achieved_gflops": [dense_gflops, dw_gflops, 50.0], "arithmetic_intensity": [40.0, 0.3, 20.0]})  # fmt: skip


def _guidelines(g1=1.3, g4_off=0.7):
    rows = [("G1", "equal width", "c1:c2 = 1:1", 1.0), ("G1", "equal width", "c1:c2 = 1:12", g1),
            ("G2", "groups", "groups = 1", 1.0), ("G2", "groups", "groups = 8", 1.02),
            ("G4", "elementwise", "ReLU on, shortcut on", 1.0), ("G4", "elementwise", "ReLU off, shortcut off", g4_off)]  # fmt: skip
    return pd.DataFrame(rows, columns=["guideline", "claim", "variant", "latency_ratio"])


def _conv(**kw):
    d = {"channels": 128, "size": 28, "implementation": "jit:avx512_core", "algorithm": "convolution_direct",
         "conv_gflops": 230.0, "im2col_gflops": 80.0, "fresh_peak_gflops": 110.0, "pct_of_fresh_peak": 209.0,
         "pct_of_cached_peak": 240.0, "winograd": False}  # fmt: skip
    d.update(kw)
    return d


MACS = [50e6, 100e6, 150e6, 200e6, 250e6, 300e6, 4e9]


def test_cost_model_supported_when_macs_misorder_and_depthwise_is_slow():
    lesson = cm.conclude(
        _zoo([5, 1, 4, 2, 3, 1.5, 40], MACS),
        _layers(200, 10),
        _guidelines(),
        _conv(),
        dram_gbs=40,
        cache_gbs=200,
    )
    assert lesson.verdict == "supported"
    assert "rho(MACs, latency)" in lesson.evidence and "20.0x" in lesson.evidence
    text = " ".join(lesson.takeaways)
    assert "G1" in text and "holds" in text and "G2" in text and "no clear effect" in text
    assert "not Winograd" in text and "209%" in text
    _check_claim_result(lesson.claim_result())
    _check_key_numbers(lesson.key_numbers)


def test_cost_model_not_supported_when_macs_rank_latency_and_depthwise_keeps_up():
    lesson = cm.conclude(
        _zoo([1, 2, 3, 4, 5, 6, 40], MACS), _layers(100, 90), _guidelines(), _conv()
    )
    assert lesson.verdict == "not supported"
    assert (
        cm.conclude(
            _zoo([1, 2, 3, 4, 5, 6, 40], MACS), _layers(100, 10), _guidelines(), _conv()
        ).verdict
        == "partly supported"
    )


def test_cost_model_too_few_lightweight_models_is_inconclusive():
    lesson = cm.conclude(
        _zoo([2, 1, 3, 40], [50e6, 100e6, 150e6, 4e9]), _layers(200, 10), _guidelines(), _conv()
    )
    assert lesson.verdict == "inconclusive" and "at least 5" in lesson.evidence
    assert "nan" not in " ".join(lesson.takeaways).lower()


@pytest.mark.parametrize(
    ("conv", "expect"),
    [
        (_conv(winograd=True, algorithm="convolution_winograd"), "chose Winograd"),
        (_conv(pct_of_fresh_peak=80.0, pct_of_cached_peak=130.0), "stale cached peak"),
        (_conv(pct_of_fresh_peak=80.0, pct_of_cached_peak=None), "Nothing exceeds"),
        (_conv(implementation="not oneDNN", algorithm=""), "cannot be ruled out"),
    ],
)
def test_conv_sentence_follows_the_measured_outcome(conv, expect):
    assert expect in cm.conv_sentence(conv)


def test_g4_reversed_when_elementwise_removal_is_slower():
    assert "is reversed" in cm.guideline_findings(_guidelines(g4_off=1.3))["G4"]


# --- mobile_convs -----------------------------------------------------------------------------
def _blocks(c=64, ds_lat=0.45):
    hw = 28 * 28
    macs = [
        9 * c * c * hw,
        (9 * c + c * c) * hw,
        (12 * c * c + 54 * c) * hw,
        (12 * c * c + 54 * c) * hw + 10,
        9 * 36 * c * c * hw,
    ]
    names = ["standard 3x3 conv", "depthwise-separable (V1)", "inverted residual t=6 (V2)",
             "inverted residual t=6 + SE, hard-swish (V3)", "standard 3x3 conv at 6C"]  # fmt: skip
    return pd.DataFrame(
        {"name": names, "macs": macs, "latency_ratio": [1.0, ds_lat, 2.7, 3.1, 27.0]}
    )


def _trained(acc=(90.0, 91.0), std=(NAN, NAN), seeds=1):
    return pd.DataFrame(
        {"name": ["a", "b"], "accuracy": list(acc), "accuracy_std": list(std), "seeds": [seeds] * 2}
    )


def test_mobile_convs_formulas_and_verdict():
    pred = mc.predicted_ratios(64)
    assert pred["inverted residual"] == pytest.approx(1.427, abs=1e-3)
    assert pred["depthwise-separable"] == pytest.approx(1 / 64 + 1 / 9)
    lesson = mc.conclude(
        _blocks(),
        {"width": 1.9, "resolution": 2.0},
        _trained(),
        channels=64,
        epochs=4,
        images=20000,
    )
    assert lesson.verdict == "supported"
    text = " ".join(lesson.takeaways)
    assert "1.43x a standard 3x3" in text and "25x more MACs" in text
    assert "1 seed" in text or "one seed" in text.lower()


def test_mobile_convs_partly_when_latency_saving_is_small_and_not_when_no_mac_saving():
    assert (
        mc.conclude(_blocks(ds_lat=0.9), {"width": 2, "resolution": 2}, None, channels=64).verdict
        == "partly supported"
    )
    assert (
        mc.conclude(
            _blocks(ds_lat=0.45), {"width": 1.2, "resolution": 2}, None, channels=64
        ).verdict
        == "partly supported"
    )
    b = _blocks()
    b.loc[1, "macs"] = b.macs[0] / 2
    assert (
        mc.conclude(b, {"width": 2, "resolution": 2}, None, channels=64).verdict == "not supported"
    )


def test_mobile_convs_training_too_short_ignores_accuracy():
    lesson = mc.conclude(
        _blocks(),
        {"width": 2, "resolution": 2},
        _trained(acc=(40.0, 60.0)),
        channels=64,
        epochs=1,
        images=1000,
    )
    assert any("Training too short" in t for t in lesson.takeaways)
    assert lesson.key_numbers["training"].startswith("too short")
    assert "best accuracy" not in lesson.key_numbers


# --- channel_attention ------------------------------------------------------------------------
def _att(acc, std, seeds, lat=(1.0, 1.2, 1.1), macs=(100.0, 101.0, 100.1)):
    t = pd.DataFrame({"name": ["bb + none", "bb + se", "bb + eca"], "params": [1000, 1300, 1001], "macs": list(macs),
                      "macs_all_ops": list(macs), "latency_ratio": list(lat), "accuracy": list(acc),
                      "accuracy_std": list(std), "seeds": [seeds] * 3})  # fmt: skip
    return ca.overheads(t)


def test_channel_attention_one_seed_is_partly_and_never_nan():
    lesson = ca.conclude(_att((90, 90.5, 90.2), (NAN,) * 3, 1), epochs=4, images=20000)
    assert lesson.verdict == "partly supported"
    everything = lesson.evidence + " ".join(lesson.takeaways) + str(lesson.key_numbers)
    assert "nan" not in everything.lower() and "1 seed, no spread" in everything


def test_channel_attention_gain_beyond_spread_is_supported_and_within_is_partly():
    assert (
        ca.conclude(_att((90, 92, 90.1), (0.2, 0.3, 0.2), 3), epochs=4, images=20000).verdict
        == "supported"
    )
    assert (
        ca.conclude(_att((90, 90.4, 90.1), (0.3, 0.3, 0.2), 3), epochs=4, images=20000).verdict
        == "partly supported"
    )


def test_channel_attention_no_cost_effect():
    fast = dict(lat=(1.0, 1.001, 1.0005), macs=(100.0, 110.0, 105.0))
    assert (
        ca.conclude(
            _att((90, 90.1, 90.0), (0.3, 0.3, 0.3), 3, **fast), epochs=4, images=20000
        ).verdict
        == "not supported"
    )
    assert (
        ca.conclude(_att((40, 41, 40), (0.3, 0.3, 0.3), 3, **fast), epochs=1, images=500).verdict
        == "inconclusive"
    )


def test_channel_attention_training_too_short_ignores_accuracy():
    lesson = ca.conclude(_att((40, 45, 41), (0.1, 0.1, 0.1), 3), epochs=1, images=500)
    assert "training too short" in lesson.evidence
    assert "best accuracy delta" not in lesson.key_numbers


def test_attention_params_counts_se_share():
    m = wb.create_model("mobilenetv3_small_075", num_classes=10, in_chans=1, small_input=True)
    share = ca.attention_params(m)
    assert share["modules"] > 0 and 0 < share["attention_params"] < share["total_params"]
    assert math.isclose(share["share_pct"], 100 * share["attention_params"] / share["total_params"])
    none = ca.attention_params(
        wb.create_model("mobilenetv3_small_075", num_classes=10, attn="none")
    )
    assert none["attention_params"] == 0


def test_cbam_confound_is_named_only_when_cbam_ran():
    kw = {"se": {"rd_ratio": 0.25}, "cbam": {"rd_ratio": 1 / 16}}
    lesson = ca.conclude(_att((90, 90.5, 90.2), (NAN,) * 3, 1), attn_kwargs=kw)
    assert not any("CBAM" in t for t in lesson.takeaways)  # no cbam row in this table
    t = _att((90, 90.5, 90.2), (NAN,) * 3, 1)
    t.loc[2, "name"] = "bb + cbam"
    lesson = ca.conclude(t, attn_kwargs=kw)
    assert any("NOT aligned" in s for s in lesson.takeaways)
    assert not any("$" in s for s in lesson.takeaways)  # takeaways are plain text, no LaTeX


# --- the measure helpers the lessons read ------------------------------------------------------
VERBOSE = """onednn_verbose,v1,info,oneDNN v3.12.0
onednn_verbose,v1,primitive,exec,cpu,reorder,jit:blk,undef,src:f32::blocked:abcd::f0,,1x256x28x28,0.29
onednn_verbose,v1,primitive,exec,cpu,convolution,jit:avx512_core,forward_training,src:f32,attr-scratchpad:user,alg:convolution_direct,mb1_ic256oc256,7.2
"""


def test_parse_onednn_verbose():
    from workbench.measure.conv_algorithm import parse_onednn_verbose

    assert parse_onednn_verbose(VERBOSE) == ("jit:avx512_core", "convolution_direct")
    wino = VERBOSE.replace("jit:avx512_core", "jit_wino:avx512_core").replace(
        "convolution_direct", "convolution_winograd"
    )
    assert parse_onednn_verbose(wino) == ("jit_wino:avx512_core", "convolution_winograd")
    assert parse_onednn_verbose("nothing here") == ("not oneDNN", "")


def test_memory_traffic_of_one_conv_is_weights_plus_input_plus_output():
    from torch import nn

    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    t = wb.measure.memory_traffic(conv, (8, 10, 10))
    assert t["weight_bytes"] == 4 * 16 * 8 * 9
    assert t["activation_bytes"] == 4 * (8 * 100 + 16 * 100)
    assert t["traffic_bytes"] == t["weight_bytes"] + t["activation_bytes"]


def test_mobile_blocks_macs_follow_the_formulas():
    blocks = wb.measure.mobile_blocks(64, 14)
    macs = {k: wb.count_macs(v, v.default_input_size).macs for k, v in blocks.items()}
    std = macs["standard 3x3 conv"]
    assert std == 9 * 64 * 64 * 14 * 14
    assert macs["depthwise-separable (V1)"] / std == pytest.approx(1 / 64 + 1 / 9, rel=1e-6)
    assert macs["inverted residual t=6 (V2)"] / std == pytest.approx(
        mc.predicted_ratios(64)["inverted residual"], rel=1e-6
    )
    assert macs["standard 3x3 conv at 6C"] == 36 * std


def test_deploy_latency_folds_bn_without_touching_the_model():
    from torch import nn

    models = {"a": wb.layers.ConvNormAct(4, 4, 3), "b": wb.layers.ConvNormAct(4, 4, 1)}
    table = pd.DataFrame({"name": ["a", "b"], "accuracy": [1.0, 2.0], "latency_ms": [NAN, NAN]})
    out = wb.measure.deploy_latency(table, models, (4, 8, 8), rounds=1, threads=1)
    assert (
        list(out.name) == ["a", "b"]
        and out.latency_ms.notna().all()
        and out.latency_ratio.iloc[0] == 1.0
    )
    assert any(
        isinstance(m, nn.BatchNorm2d) for m in models["a"].modules()
    )  # the original keeps its BN
    with pytest.raises(KeyError, match="no model"):
        wb.measure.deploy_latency(table.assign(name=["a", "c"]), models, (4, 8, 8))


def test_conv_algorithm_summary_never_prints_nan():
    from workbench.measure import ConvAlgorithm

    c = ConvAlgorithm(
        128,
        28,
        1,
        "jit:avx512_core",
        "convolution_direct",
        9 * 128 * 128 * 784,
        1.0,
        3.0,
        110.0,
        None,
    )
    text = c.summary()
    assert "none cached" in text and "nan" not in text.lower() and "Winograd: False" in text
    assert c.conv_gflops == pytest.approx(2 * c.macs / 1e6)
    assert "chose Winograd" in cm.conv_sentence(
        ConvAlgorithm(8, 8, 1, "jit_wino", "convolution_winograd", 1, 1.0, 1.0, 1.0, 1.0).to_dict()
    )


def test_cost_model_key_numbers_with_too_few_models_and_tiny_throughput():
    lesson = cm.conclude(
        _zoo([2, 1, 3, 40], [50e6, 100e6, 150e6, 4e9]), _layers(3.1, 0.0123), _guidelines(), _conv()
    )
    label = next(k for k in lesson.key_numbers if k.startswith("rho within"))
    assert lesson.key_numbers[label].startswith("too few models")
    assert (
        lesson.key_numbers["depthwise 3x3 C=128"]["value"] == 0.0123
    )  # 3 significant digits, not 0.0


def test_channel_attention_latency_noise_is_not_a_cost_effect():
    t = _att((90, 92, 90.1), (0.2, 0.3, 0.2), 3)
    t["latency_ratio_q1"] = [1.0, 0.9, 0.8]  # IQRs straddle the MAC overhead
    t["latency_ratio_q3"] = [1.0, 1.5, 1.4]
    lesson = ca.conclude(t, epochs=4, images=20000)
    assert lesson.verdict == "partly supported" and "within the latency noise" in lesson.evidence
    assert (
        ca.conclude(t.assign(accuracy=[40, 41, 40]), epochs=1, images=500).verdict == "inconclusive"
    )
    t["latency_ratio_q1"] = [1.0, 1.15, 1.05]  # lower quartiles above the MAC overhead: a real cost
    assert ca.conclude(t, epochs=4, images=20000).verdict == "supported"


def test_mobile_convs_speedup_must_hold_over_the_latency_iqr():
    b = _blocks(ds_lat=0.45).assign(
        latency_ratio_q3=[1.0, 0.8, 2.8, 3.2, 28.0]
    )  # slow quartile: only 1.25x
    assert (
        mc.conclude(b, {"width": 2, "resolution": 2}, None, channels=64).verdict
        == "partly supported"
    )
    assert (
        mc.conclude(
            b.assign(latency_ratio_q3=[1.0, 0.5, 2.8, 3.2, 28.0]),
            {"width": 2, "resolution": 2},
            None,
            channels=64,
        ).verdict
        == "supported"
    )


def test_mobile_convs_whole_model_width_exponent_is_roughly_quadratic():
    # MobileNetV2 at widths 0.5 and 1.0 fits ~1.62: its 1280-channel head does not scale below 1.0
    assert (
        mc.conclude(_blocks(), {"width": 1.62, "resolution": 1.97}, None, channels=64).verdict
        == "supported"
    )
    assert (
        mc.conclude(_blocks(), {"width": 1.62, "resolution": 1.7}, None, channels=64).verdict
        == "partly supported"
    )


def test_lesson_views_render_and_escape():
    lesson = Lesson(
        "MACs <mispredict> latency", "partly supported", "rho = 0.7 & gap 3x", ("a < b", "c")
    )
    html = lesson.verdict_view()._repr_html_()
    assert (
        "<strong>Verdict:</strong> PARTLY SUPPORTED" in html
        and "&lt;mispredict&gt;" in html
        and "&amp;" in html
    )
    assert lesson.takeaways_view()._repr_html_() == "<ul><li>a &lt; b</li><li>c</li></ul>"
    assert lesson.takeaways_view()._repr_markdown_() == "- a < b\n- c"
    assert "**Claim:** MACs" in lesson.verdict_view()._repr_markdown_()
    assert lesson.records()["claim_result"] == {
        "verdict": "partly supported",
        "evidence": "rho = 0.7 & gap 3x",
    }


def test_channel_attention_native_se_shares_the_mobile_convs_bank_entry():
    """The backbone's own SE, asked for explicitly, is the same network (same init): one entry."""
    import torch

    import workbench as wb

    opts = dict(se_rd_ratio=0.25, eca_k_size=3, cbam_rd_ratio=0.25, cbam_spatial_kernel=7)
    v = wb.lessons.channel_attention.variants("mobilenetv3_small_075", ["se", "eca"], **opts)
    mc = wb.lessons.mobile_convs.variants(["mobilenetv3_small_075"])
    assert v["mobilenetv3_small_075 + se"] == mc["mobilenetv3_small_075"]
    assert v["mobilenetv3_small_075 + eca"][1]["attn"] == "eca"
    # explicit options equal to the defaults build the identical network (no RNG drawn by checks)
    torch.manual_seed(0)
    a = wb.models.create_model("mobilenetv3_small_075", small_input=True)
    torch.manual_seed(0)
    b = wb.models.create_model("mobilenetv3_small_075", small_input=True, attn="se", attn_kwargs={"rd_ratio": 0.25})
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    # another ratio is another network, so it keeps its own kwargs (and bank entry)
    other = wb.lessons.channel_attention.variants("mobilenetv3_small_075", ["se"], **(opts | {"se_rd_ratio": 0.125}))
    assert other["mobilenetv3_small_075 + se"][1]["attn_kwargs"] == {"rd_ratio": 0.125}


def test_combine_parts_rule():
    from workbench.lessons.verdicts import combine_parts

    assert combine_parts(["holds", "holds"]) == "supported"
    assert combine_parts(["holds", "untestable"]) == "partly supported"
    assert combine_parts(["fails", "untestable"]) == "not supported"
    assert combine_parts(["holds", "fails"]) == "partly supported"
    assert combine_parts(["untestable", "untestable"]) == "inconclusive"
    assert combine_parts(["holds", "holds"], inconclusive=True) == "inconclusive"
