"""Verdict rules of the quantization and deployment notebooks, on hand-made numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.lessons import deployment as dep
from workbench.lessons import quantization as qz


def _lat(ratios: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"name": list(ratios), "ratio": list(ratios.values())})


SWEEP = pd.DataFrame(
    [
        {"bits": 32, "act_bits": 32, "per_channel": None, "symmetric": None, "method": "float", "accuracy": 90.0},
        {"bits": 8, "act_bits": 8, "per_channel": True, "symmetric": True, "method": "minmax", "accuracy": 89.8},
        {"bits": 4, "act_bits": 4, "per_channel": True, "symmetric": True, "method": "minmax", "accuracy": 70.0},
        {"bits": 4, "act_bits": 4, "per_channel": False, "symmetric": True, "method": "minmax", "accuracy": 40.0},
    ]
).assign(accuracy_drop=lambda d: 90.0 - d.accuracy)
SENS = pd.DataFrame(
    [{"layer": "a", "kind": "depthwise", "params": 9, "accuracy": 80.0, "accuracy_drop": 10.0},
     {"layer": "b", "kind": "pointwise", "params": 64, "accuracy": 89.0, "accuracy_drop": 1.0}]
)  # fmt: skip
QAT = {"bits": 4, "float": 90.0, "ptq": 70.0, "qat": 88.0}


def _speeds(fp28, q28, fp224, q224, acc_fp=90.0, acc_q=89.5):
    lat28 = _lat({"eager fp32": 1.0, "onnxruntime fp32": fp28, "onnxruntime int8": q28})
    lat224 = _lat({"eager fp32": 1.0, "onnxruntime fp32": fp224, "onnxruntime int8": q224})
    acc = {"eager fp32": acc_fp, "onnxruntime fp32": acc_fp, "onnxruntime int8": acc_q}
    return qz.speedups(lat28, acc), qz.speedups(lat224)


def test_speedups_are_same_runtime_ratios():
    s28, _ = _speeds(0.8, 0.4, 0.9, 0.3)
    row = s28.iloc[0]
    assert row.runtime == "onnxruntime"
    assert row.speedup_vs_fp32 == pytest.approx(2.0) and row.speedup_vs_eager == pytest.approx(2.5)
    assert row.accuracy_drop == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("fp28", "q28", "fp224", "q224", "acc_q", "verdict"),
    [
        (0.8, 0.4, 0.9, 0.3, 89.5, "supported"),  # 2x and 3x, drop 0.5
        (0.8, 0.4, 0.9, 0.3, 88.0, "partly supported"),  # drop 2 points
        (0.8, 0.6, 0.9, 0.3, 89.5, "partly supported"),  # 1.33x at 28 px only
        (0.8, 0.79, 0.9, 0.88, 89.5, "not supported"),  # int8 no faster
        (0.8, 0.4, 0.9, 0.45, 89.5, "supported"),  # exactly 2x counts
    ],
)
def test_quantization_verdict(fp28, q28, fp224, q224, acc_q, verdict):
    s28, s224 = _speeds(fp28, q28, fp224, q224, acc_q=acc_q)
    lesson = qz.conclude(SWEEP, SENS, QAT, s28, s224)
    assert lesson.verdict == verdict, lesson.evidence


def test_quantization_too_short_training_caps_the_verdict():
    s28, s224 = _speeds(0.8, 0.4, 0.9, 0.3)
    short = SWEEP.assign(accuracy=SWEEP.accuracy - 40)  # float 50 %: below a linear classifier
    lesson = qz.conclude(short, SENS, QAT, s28, s224)
    assert lesson.verdict == "partly supported" and "untestable" in lesson.evidence
    assert any("training too short" in t for t in lesson.takeaways)


def test_quantization_no_backend_is_inconclusive_and_says_why():
    empty = pd.DataFrame(columns=["runtime", "fp32_ratio", "int8_ratio", "speedup_vs_fp32", "speedup_vs_eager"])
    lesson = qz.conclude(SWEEP, SENS, QAT, empty, empty, status={"pt2e": "torch has no quantize_pt2e"})
    assert lesson.verdict == "inconclusive"
    assert any("pt2e" in t for t in lesson.takeaways)
    text = " ".join(lesson.takeaways)
    assert "depthwise +10.00" in text and "70.0% -> 88.0%" in text


def _runtime_lat(ort: float, ov: float, threads=(1, 2)) -> pd.DataFrame:
    rows = []
    for t in threads:
        for name, r in (("eager fp32", 1.0), ("onnxruntime fp32", ort), ("openvino fp32", ov), ("onnxruntime int8", 0.3)):
            rt, prec = name.split()
            rows.append({"name": name, "ratio": r, "runtime": rt, "precision": prec, "threads": t, "batch_size": 1})
    return pd.DataFrame(rows)


def _agree(fp32=100.0, int8=99.5) -> pd.DataFrame:
    return pd.DataFrame(
        [{"name": "onnxruntime fp32", "max_abs_diff": 1e-5, "top1_agreement": fp32, "precision": "fp32"},
         {"name": "onnxruntime int8", "max_abs_diff": 0.1, "top1_agreement": int8, "precision": "int8"}]
    )  # fmt: skip


def _zoo(n: int, shuffle_ort: bool) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append({"model": f"m{i}", "runtime": "eager", "ratio": 1.0 + i})
        rows.append({"model": f"m{i}", "runtime": "onnxruntime", "ratio": (n - i) if shuffle_ort else 0.5 + i})
    return pd.DataFrame(rows)


def test_rank_correlation_is_spearman():
    rho, wide = dep.rank_correlation(_zoo(8, shuffle_ort=True))
    assert rho.loc["eager", "onnxruntime"] == pytest.approx(-1.0)
    assert list(wide.index) == [f"m{i}" for i in range(8)]


@pytest.mark.parametrize(
    ("ort", "fp32_agree", "n", "shuffle", "verdict"),
    [
        (0.5, 100.0, 8, False, "supported"),
        (0.5, 100.0, 8, True, "partly supported"),  # ranking changes
        (0.95, 99.0, 8, True, "not supported"),  # nothing holds
        (0.5, 100.0, 5, False, "partly supported"),  # ranking untestable with 5 models
    ],
)
def test_deployment_verdict(ort, fp32_agree, n, shuffle, verdict):
    lesson = dep.conclude(_runtime_lat(ort, 0.9), _agree(fp32_agree), _zoo(n, shuffle))
    assert lesson.verdict == verdict, lesson.evidence


def test_deployment_speed_must_hold_on_every_thread_count():
    lat = _runtime_lat(0.5, 0.9)
    lat.loc[(lat.threads == 2) & (lat.runtime != "eager"), "ratio"] = 0.95  # no gain at 2 threads
    lesson = dep.conclude(lat, _agree(), _zoo(8, False))
    assert lesson.verdict == "partly supported" and "Speed fails" in lesson.evidence


def test_deployment_nothing_testable_is_inconclusive():
    empty_lat = pd.DataFrame(columns=["name", "ratio", "runtime", "precision", "threads", "batch_size"])
    empty_agree = pd.DataFrame(columns=["name", "max_abs_diff", "top1_agreement", "precision"])
    assert dep.conclude(empty_lat, empty_agree, None).verdict == "inconclusive"
