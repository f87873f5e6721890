"""Literature claims: recall patterns, bounds, sentence index, MACs conventions, the accuracy-vs-compute chart."""

import pytest

from workbench.literature import load_catalogue
from workbench.literature.catalogue import load_flops_conventions
from workbench.literature.claims import extract_claims
from workbench.plots.literature import accuracy_compute_pairs, claims_figure

LEYOLO = ("LeYOLO-Small achieves a competitive mAP score of 38.2% on the COCOval with just 4.5 FLOP(G). "
          "Our model family spans ultra-low configurations (< 1 GFLOP) to efficient object detection setups "
          "(> 4 GFLOPs) with 25.2, 31.3, 35.2, 38.2, 39.3 and 41 mAP for 0.66, 1.47, 2.53, 4.51, 5.8 and 8.4 FLOP(G).")
FBNET = "FBNet-B achieves 74.1% top-1 accuracy on ImageNet with 295M FLOPs and 23.1 ms latency on a Samsung S8 phone."


def _kv(text, **kw):
    return [(c.kind, c.value, c.bound, c.sentence) for c in extract_claims(text, **kw)]


def test_leyolo_bounds_lists_and_sentences():
    claims = extract_claims(LEYOLO)
    second = [c for c in claims if c.sentence == 1]
    bounds = {(c.value, c.bound) for c in second if c.kind == "compute" and c.bound}
    assert bounds == {(1.0, "<"), (4.0, ">")}
    assert [c.value for c in second if c.kind == "accuracy"] == [25.2, 31.3, 35.2, 38.2, 39.3, 41.0]
    assert [c.value for c in second if c.kind == "compute" and not c.bound] == [0.66, 1.47, 2.53, 4.51, 5.8, 8.4]
    assert [(c.kind, c.value) for c in claims if c.sentence == 0] == [("accuracy", 38.2), ("compute", 4.5)]
    assert all("FLOP" in c.text for c in claims if c.kind == "compute")  # the sentence is kept


@pytest.mark.parametrize(
    "text, expected",
    [
        ("accelerating fine-tuning by up to 2.2x.", [("speedup", 2.2, "<", 0)]),
        ("runs at over 30 frames per second", [("throughput", 30.0, ">", 0)]),
        ("It runs at a speed of 1000+ FPS on flagship devices.", [("throughput", 1000.0, ">", 0)]),
        ("with ~3x better throughput", [("speedup", 3.0, "~", 0)]),
        ("outperform their dense equivalents by 1.3-2.4x", [("speedup", 1.3, "~", 0), ("speedup", 2.4, "~", 0)]),
        ("child models range from 200 to 1000 MFLOPs.", [("compute", 200.0, "~", 0), ("compute", 1000.0, "~", 0)]),
        ("latency of 2.78/3.83/5.62 ms on T4 GPUs", [("latency", 2.78, "", 0), ("latency", 3.83, "", 0),
                                                    ("latency", 5.62, "", 0)]),
        ("3 ms/plate on GTX 1080 and 1.3 ms/plate on a CPU", [("latency", 3.0, "", 0), ("latency", 1.3, "", 0)]),
        ("with only 14,862 parameters", [("params", 14862.0, "", 0)]),
        ("uses 3 parameters", []),  # small raw counts are not model sizes
        ("It works. It reaches 80.0\\% top-1 accuracy.", [("accuracy", 80.0, "", 1)]),
        ("top-1 accuracy of 93.05%, 70.15% and 67.71% on three sets", [("accuracy", 93.05, "", 0),
                                                                        ("accuracy", 70.15, "", 0),
                                                                        ("accuracy", 67.71, "", 0)]),
    ],
)
def test_recall_patterns_and_bounds(text, expected):
    assert _kv(text) == expected


def test_units_and_metrics_of_new_patterns():
    got = [(c.kind, c.metric, c.unit, c.norm) for c in extract_claims(
        "NASNet achieves 2.4% error rate. It saves approximately 40% FLOPs. MobileNetV3 is 3.2\\% more accurate. "
        "EMO-5M achieves 79.4 Top-1. A speedup of 1.27 is reached.")]
    assert got == [("accuracy", "error", "%", 2.4), ("reduction", "saves", "%", 40.0),
                   ("accuracy", "accuracy (gain)", "%", 3.2), ("accuracy", "Top-1", "%", 79.4),
                   ("speedup", "speedup", "x", 1.27)]


def test_macs_only_where_the_convention_is_known():
    def macs(text, conv=None):
        return [c.macs for c in extract_claims(text, conv) if c.kind == "compute"]

    assert macs("with 300M MAdds") == [300.0]
    assert macs("under 600M MACs") == [600.0]
    assert macs("with 295M FLOPs") == [None]  # unknown: "as stated"
    assert macs("with 295M FLOPs", "macs") == [295.0]
    assert macs("with 1.2G FLOPs", "flops") == [600.0]  # two operations per multiply-add
    assert [c.macs for c in extract_claims("74.1% top-1", "macs")] == [None]  # only compute claims
    with pytest.raises(ValueError, match="multiply"):
        extract_claims("295M FLOPs", "multiply")


def test_extraction_is_deterministic():
    assert extract_claims(LEYOLO + " " + FBNET) == extract_claims(LEYOLO + " " + FBNET)


def _record(rid, abstract, task="image_classification", conv=None):
    return {"id": rid, "title": rid.upper(), "task": task,
            "claims": [c.to_dict() for c in extract_claims(abstract, conv)]}


def test_chart_pairs_one_sentence_one_accuracy_one_value():
    records = [
        _record("fbnet", FBNET, conv="macs"),
        _record("leyolo", LEYOLO, task="detection"),
        _record("split", "It reaches 75.0% top-1 accuracy. It costs 300M MACs."),  # two sentences: no pair
        _record("two", "They reach 75.0% and 77.0% top-1 accuracy with 300M MACs."),  # two accuracies: no pair
        _record("bound", "It reaches 80.0% top-1 accuracy under the mobile setting (<600M MACs)."),  # a bound
        _record("gain", "It gains +1.3% top-1 accuracy at 300M MACs."),  # a gain is not an absolute accuracy
        _record("ghost", "It achieves 75.3% top-1 accuracy on ImageNet with 167M FLOPs."),  # convention unknown
    ]
    pairs = accuracy_compute_pairs(records)
    assert [(p["id"], p["accuracy"], p["macs"], p["stated"]) for p in pairs] == [
        ("fbnet", 74.1, 295.0, 295.0), ("leyolo", 38.2, None, 4500.0), ("ghost", 75.3, None, 167.0)]
    fig = claims_figure(records)
    traces = {t.name: (list(t.x), list(t.y), t.marker.color) for t in fig.data}
    assert traces["image_classification: MACs (1)"][:2] == ([295.0], [74.1])
    assert traces["image_classification: FLOPs as stated (1)"][:2] == ([167.0], [75.3])
    assert traces["detection: FLOPs as stated (1)"][:2] == ([4500.0], [38.2])  # never 41 mAP at "> 4 GFLOPs"
    colours = {name.split(":")[0]: c for name, (_, _, c) in traces.items()}
    assert colours["detection"] != colours["image_classification"]
    assert "3 one-sentence pairs" in fig.layout.title.text


def test_flops_conventions_are_justified_and_name_real_papers():
    conv = load_flops_conventions()
    assert conv and set(conv.values()) <= {"macs", "flops"}
    records = {r["id"]: r for r in load_catalogue()}
    assert set(conv) <= set(records)
    for rid, c in conv.items():
        assert records[rid]["flops_convention"] == c
        assert all(x["macs"] is not None for x in records[rid]["claims"] if x["kind"] == "compute")


def test_flops_convention_rows_are_checked(tmp_path):
    path = tmp_path / "conv.csv"
    path.write_text("id,title,convention,evidence\np,P,gmacs,table\n")
    with pytest.raises(ValueError, match="gmacs"):
        load_flops_conventions(path)
    path.write_text("id,title,convention,evidence\np,P,macs, \n")
    with pytest.raises(ValueError, match="evidence"):
        load_flops_conventions(path)
