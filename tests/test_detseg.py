"""Detectors, segmenters, their evaluators and lessons (issue 15, items 2 and 3)."""

import itertools

import pandas as pd
import pytest
import torch

import workbench as wb
from workbench.models.detection import BoxCoder, anchors_per_cell, default_boxes, postprocess

DETECTORS = {
    "ssdlite_mobilenetv3": {"backbone": "mobilenetv3_small_100", "width_mult": 0.5},
    "nanodet_mobilenetv3": {"backbone": "mobilenetv3_small_100", "width_mult": 0.5, "head_channels": 16},
    "tinyissimo_yolo": {"in_chans": 1, "num_classes": 10, "image_size": 96},
}


def _targets():
    return [
        {"boxes": torch.tensor([[10.0, 12.0, 40.0, 50.0], [50.0, 50.0, 70.0, 66.0]]), "labels": torch.tensor([3, 7])},
        {"boxes": torch.tensor([[20.0, 20.0, 68.0, 60.0]]), "labels": torch.tensor([0])},
    ]


# --- box coding and anchors ---------------------------------------------------------------------
def test_box_coder_round_trip():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(50, 2, generator=g) * 80
    boxes = torch.cat([xy, xy + 4 + torch.rand(50, 2, generator=g) * 40], 1)
    anchors = torch.cat([xy + 3, xy + 20], 1)
    coder = BoxCoder()
    assert torch.allclose(coder.decode(coder.encode(boxes, anchors), anchors), boxes, atol=1e-4)
    assert torch.allclose(coder.encode(anchors, anchors), torch.zeros(50, 4), atol=1e-6)


def test_default_boxes_count_and_centres():
    a = default_boxes(96, [12, 6], min_ratio=0.15, max_ratio=0.35, aspect_ratios=(2.0,))
    assert a.shape == ((144 + 36) * anchors_per_cell((2.0,)), 4) and anchors_per_cell((2.0, 3.0)) == 6
    first = a[:4]  # the first cell's boxes are centred on (4, 4)
    assert torch.allclose((first[:, :2] + first[:, 2:]) / 2, torch.full((4, 2), 4.0))


def test_ssdlite_matches_a_box_to_its_best_anchor():
    m = wb.create_model("ssdlite_mobilenetv3", **DETECTORS["ssdlite_mobilenetv3"])
    box = m.anchors[100:101].clone()
    cls, matched = m.match(box, torch.tensor([4]))
    assert cls[100] == 5 and torch.equal(matched[100], box[0])
    assert (cls == 0).sum() > len(cls) - 20  # almost every anchor is background


def test_nanodet_assigns_centre_points_on_the_right_level():
    m = wb.create_model("nanodet_mobilenetv3", **DETECTORS["nanodet_mobilenetv3"])
    small, large = torch.tensor([[40.0, 40.0, 56.0, 56.0]]), torch.tensor([[10.0, 10.0, 90.0, 90.0]])
    cls_s, _ = m.assign(small, torch.tensor([2]))
    cls_l, _ = m.assign(large, torch.tensor([5]))
    pos_s, pos_l = m.strides[cls_s == 2], m.strides[cls_l == 5]
    assert len(pos_s) > 0 and (pos_s == 8).all()  # a 16 px box lives on stride 8
    assert len(pos_l) > 0 and (pos_l == 16).all()  # an 80 px box on stride 16


# --- models: shapes, losses, decoding, MACs -----------------------------------------------------
@pytest.mark.parametrize("name", list(DETECTORS))
def test_detector_shapes_loss_and_candidates(name):
    torch.manual_seed(0)
    m = wb.create_model(name, **DETECTORS[name])
    x = torch.rand(2, 1, 96, 96)
    out = m(x)
    loss = m.loss(out, _targets())
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    m.eval()
    with torch.no_grad():
        dets = postprocess(m.candidates(m(x), score_thresh=0.0, topk=50), image_size=96)
    assert len(dets) == 2 and set(dets[0]) == {"boxes", "scores", "labels"}
    assert dets[0]["boxes"].shape[1] == 4 and (dets[0]["boxes"] >= 0).all() and (dets[0]["boxes"] <= 96).all()
    assert len(dets[0]["boxes"]) <= 50 and ((dets[0]["labels"] >= 0) & (dets[0]["labels"] < 10)).all()


def test_head_output_shapes():
    ssd = wb.create_model("ssdlite_mobilenetv3", **DETECTORS["ssdlite_mobilenetv3"]).eval()
    logits, offsets = ssd(torch.zeros(1, 1, 96, 96))
    assert logits.shape == (1, len(ssd.anchors), 11) and offsets.shape == (1, len(ssd.anchors), 4)
    nano = wb.create_model("nanodet_mobilenetv3", **DETECTORS["nanodet_mobilenetv3"]).eval()
    assert nano(torch.zeros(1, 1, 96, 96)).shape == (1, 144 + 36, 14)
    tiny = wb.create_model("tinyissimo_yolo").eval()
    assert tiny(torch.zeros(1, 3, 88, 88)).shape == (1, 4, 4, 13)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_detector_macs_counted_by_the_zoo_counter(name):
    m = wb.create_model(name, **DETECTORS[name])
    c = wb.count_macs(m)
    assert c.macs > 0 and not c.unsupported and c.input_size == (1, 1, 96, 96)


def test_macs_grow_with_the_square_of_the_resolution():
    name, kw = "nanodet_mobilenetv3", DETECTORS["nanodet_mobilenetv3"]
    m = wb.create_model(name, **kw)
    big = wb.models.detection.detector_at(name, kw, m, 192)
    assert wb.count_macs(big).macs / wb.count_macs(m).macs == pytest.approx(4.0, rel=0.05)


def test_tinyissimo_parameters_near_the_paper():
    # 88 px RGB, 3 classes: the paper's setting; "422k parameters" (abstract); our widths are a reading of its table
    p = wb.count_params(wb.create_model("tinyissimo_yolo")).total
    assert 0.8 * 422_000 < p < 1.2 * 422_000


def test_real_ssdlite320_builds_at_320():
    m = wb.create_model("ssdlite_mobilenetv3", **wb.models.detection.SSDLITE320).eval()
    logits, _ = m(torch.zeros(1, 3, 320, 320))
    assert logits.shape[-1] == 91 and len(m.extras) == 4


# --- evaluators ----------------------------------------------------------------------------------
def test_map_of_perfect_predictions_is_one():
    t = _targets()
    preds = [{"boxes": x["boxes"], "scores": torch.ones(len(x["boxes"])), "labels": x["labels"]} for x in t]
    r = wb.measure.detection_map(preds, t)
    assert r["map"] == pytest.approx(1.0) and r["map_50"] == pytest.approx(1.0)


def test_map_of_a_loose_box_counts_only_low_thresholds():
    # IoU 0.62: a hit at IoU thresholds 0.50, 0.55, 0.60, a miss at 0.65..0.95 -> mAP@[.5:.95] = 3/10
    t = [{"boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]]), "labels": torch.tensor([1])}]
    p = [{"boxes": torch.tensor([[0.0, 0.0, 10.0, 6.2]]), "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}]
    r = wb.measure.detection_map(p, t)
    assert r["map_50"] == pytest.approx(1.0) and r["map"] == pytest.approx(0.3, abs=1e-6)
    wrong = [{**p[0], "labels": torch.tensor([2])}]
    assert wb.measure.detection_map(wrong, t)["map_50"] == pytest.approx(0.0)


def test_mean_iou_hand_made():
    target = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1]]])
    assert wb.measure.mean_iou(target, target, 3)["miou"] == pytest.approx(1.0)  # class 2 absent: left out
    pred = torch.tensor([[[0, 0, 0, 1], [0, 0, 1, 1]]])
    r = wb.measure.mean_iou(pred, target, 3)
    # class 0: TP 4, FP 1, FN 0 -> 0.8; class 1: TP 3, FN 1 -> 0.75
    assert r["per_class"][0] == pytest.approx(0.8) and r["per_class"][1] == pytest.approx(0.75)
    assert r["miou"] == pytest.approx(0.775) and r["pixel_accuracy"] == pytest.approx(7 / 8)
    with pytest.raises(ValueError, match="labels must lie in"):
        wb.measure.mean_iou(pred, target + 5, 3)


def test_pipeline_latency_with_a_fake_timer():
    # every round the timer advances 4 ms (forward), 1 ms (decode), 5 ms (NMS)
    steps = itertools.cycle([0.004, 0.001, 0.005, 0.0])
    clock = itertools.accumulate(steps, initial=0.0)
    m = wb.create_model("nanodet_mobilenetv3", **DETECTORS["nanodet_mobilenetv3"])
    r = wb.measure.pipeline_latency(m, torch.zeros(1, 96, 96), rounds=5, timer=lambda: next(clock))
    assert r["forward_ms"] == pytest.approx(4.0) and r["decode_ms"] == pytest.approx(1.0)
    assert r["nms_ms"] == pytest.approx(5.0) and r["nms_share"] == pytest.approx(0.5)


def test_train_detector_history():
    torch.manual_seed(0)
    m = wb.create_model("nanodet_mobilenetv3", **DETECTORS["nanodet_mobilenetv3"])
    h = wb.train.train_detector(m, n_train=8, steps=3, batch_size=4, log_every=2)
    assert h["steps"] == 3 and h["images"] == 12 and len(h["loss"]) == 2 and not m.training
    flipped = wb.train.flip_targets(_targets(), 96)
    assert torch.equal(flipped[0]["boxes"][0], torch.tensor([56.0, 12.0, 86.0, 50.0]))


# --- lessons -------------------------------------------------------------------------------------
def _det_table(map50=(0.6, 0.7, 0.3), nms=(0.02, 0.03, 0.01)):
    return pd.DataFrame({
        "name": ["ssdlite", "nanodet", "tinyissimo"], "params": [80e3, 90e3, 660e3], "macs": [3e6, 3.2e6, 32e6],
        "map_50": list(map50), "map": [m / 2 for m in map50], "latency_ratio": [1.0, 1.1, 2.5], "nms_share": list(nms),
    })  # fmt: skip


def _sweep(map50=(0.3, 0.6, 0.65), macs=(1e6, 2.25e6, 4e6)):
    return pd.DataFrame({"name": ["64 px", "96 px", "128 px"], "size": [64, 96, 128], "macs": list(macs), "map_50": list(map50), "map": list(map50)})


def test_detection_lesson_rules():
    c = wb.lessons.detection.conclude
    assert c(_det_table(), _sweep(), train_size=96, steps=300).verdict == "supported"
    low = c(_det_table(map50=(0.2, 0.3, 0.1)), _sweep(), train_size=96, steps=300)
    assert low.verdict == "partly supported" and "training too short" in low.key_numbers["training"]
    bad = c(_det_table(map50=(0.2, 0.3, 0.1), nms=(0.2, 0.3, 0.1)), _sweep(map50=(0.3, 0.3, 0.3)), train_size=96, steps=300)
    assert bad.verdict == "not supported"
    short = c(_det_table(), _sweep(), train_size=96, steps=20)
    assert short.verdict == "inconclusive" and "too short" in short.evidence
    one_size = c(_det_table(), _sweep().iloc[:1], train_size=64, steps=300)
    assert one_size.verdict == "partly supported" and "untestable" in one_size.evidence
    assert any("1 seed, no spread" in t for t in short.takeaways)
    assert set(short.records()) == {"key_numbers", "claim_result"}
    with pytest.raises(ValueError, match="at least one detector"):
        c(_det_table().iloc[:0], _sweep(), train_size=96, steps=300)


# --- segmentation --------------------------------------------------------------------------------
SEGMENTERS = wb.lessons.segmentation.variants(0.5)


@pytest.mark.parametrize("label", list(SEGMENTERS))
def test_segmenter_shapes_and_macs(label):
    name, kw = SEGMENTERS[label]
    m = wb.create_model(name, **kw)
    y = m(torch.rand(2, 1, 96, 96))
    assert y.shape == (2, 11, 96, 96) and torch.isfinite(y).all()
    c = wb.count_macs(m)
    assert c.macs > 0 and not c.unsupported


def test_lraspp_gate_is_cheap_and_heads_differ_in_cost():
    lr = wb.create_model(*SEGMENTERS["lraspp"][:1], **SEGMENTERS["lraspp"][1])
    aspp = wb.create_model(*SEGMENTERS["aspp"][:1], **SEGMENTERS["aspp"][1])
    c_lr, c_aspp = wb.count_macs(lr), wb.count_macs(aspp)
    assert c_lr.macs < c_aspp.macs
    gate = c_lr.by_module.get("scale", 0)
    assert 0 < gate < 0.01 * c_lr.macs  # one 1x1 conv on a pooled vector


def test_real_segmenters_take_a_rectangular_input():
    real = wb.models.segmentation.real_segmenters(64, 128)
    assert all(m.default_input_size == (3, 64, 128) for m in real.values())
    with torch.inference_mode():
        assert real["LR-ASPP"].eval()(torch.zeros(1, 3, 64, 128)).shape == (1, 19, 64, 128)


def test_train_segmenter_and_evaluate():
    name, kw = SEGMENTERS["lraspp"]
    torch.manual_seed(0)
    m = wb.create_model(name, **kw)
    h = wb.train.train_segmenter(m, n_train=8, steps=2, batch_size=4, log_every=1)
    assert h["images"] == 8 and len(h["loss"]) == 2 and not m.training
    d = wb.data.mosaics(4, split="test")
    r = wb.measure.evaluate_segmenter(m, d.images, d.semantic, 11)
    assert 0 <= r["miou"] <= 1 and len(r["per_class"]) == 11


def _seg_tables(miou=(0.5, 0.52, 0.6), real_ratio=(1.0, 2.0, 3.0)):
    table = pd.DataFrame({"name": ["lraspp", "aspp", "unet"], "params": [8e4, 2e5, 1e5], "macs": [3e6, 6e6, 25e6],
                          "miou": list(miou), "latency_ratio": [1.0, 1.4, 3.0]})  # fmt: skip
    real = pd.DataFrame({"name": ["LR-ASPP", "ASPP (DeepLabV3 head)", "small U-Net"], "macs": [2e9, 8e9, 60e9], "latency_ratio": list(real_ratio)})
    return table, real


def test_segmentation_lesson_rules():
    c = wb.lessons.segmentation.conclude
    assert c(*_seg_tables(), steps=300).verdict == "supported"
    assert c(*_seg_tables(miou=(0.40, 0.50, 0.6)), steps=300).verdict == "partly supported"  # 0.10 below ASPP
    assert c(*_seg_tables(miou=(0.40, 0.50, 0.6), real_ratio=(1.0, 1.05, 2.0)), steps=300).verdict == "not supported"
    low = c(*_seg_tables(miou=(0.1, 0.12, 0.15)), steps=300)
    assert low.verdict == "partly supported" and "untestable" in low.evidence
    short = c(*_seg_tables(), steps=10)
    assert short.verdict == "inconclusive" and any("1 seed, no spread" in t for t in short.takeaways)
    table, real = _seg_tables()
    with pytest.raises(KeyError, match="row 'aspp' missing"):
        c(table.iloc[[0, 2]], real, steps=300)
