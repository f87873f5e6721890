"""Benchmarks package: the configuration table's interleaving and paired ratios (with a fake
runner: no timing asserted), a real tiny run, target/benchmark names, the CLI."""

from __future__ import annotations

import math

import pytest

import workbench.data as wbd
from workbench.bench import train as bt


class FakeRunner:
    """images/s per round from a script; records the call order."""

    script = {"base": [100.0, 10.0, 100.0], "fast": [300.0, 20.0, 150.0], "slow": [50.0, 5.0, 50.0]}
    calls: list = []

    def __init__(self, cfg, model_name, model_kwargs, subset, seed):
        self.name = {bt.TrainConfig(): "base", bt.TrainConfig(precision="bf16"): "fast"}.get(cfg, "slow")
        if cfg.batch_size == 7:
            raise RuntimeError("this configuration cannot run\nsecond line")
        self.i = -1  # the first call is the warm-up

    def images_per_s(self, images):
        if self.i >= 0:
            FakeRunner.calls.append(self.name)
        v = self.script[self.name][max(self.i, 0)]
        self.i += 1
        return v


def test_train_configs_interleaves_and_takes_median_of_paired_ratios(monkeypatch):
    monkeypatch.setattr(bt, "_Runner", FakeRunner)
    FakeRunner.calls = []
    configs = {"base": bt.TrainConfig(), "fast": bt.TrainConfig(precision="bf16"),
               "slow": bt.TrainConfig(channels_last=True), "broken": bt.TrainConfig(batch_size=7),
               "skipped": bt.TrainConfig(compile=True)}  # fmt: skip
    df = bt.train_configs(configs=configs, rounds=3, accuracy=False, skip=("skipped",)).set_index("config")
    # rounds alternate direction, so drift hits every configuration alike
    assert FakeRunner.calls == ["base", "fast", "slow", "slow", "fast", "base", "base", "fast", "slow"]
    assert df.loc["base", "ratio"] == 1.0
    # paired ratios 3, 2, 1.5 -> median 2 (the ratio of medians would be 1.5)
    assert df.loc["fast", "ratio"] == pytest.approx(2.0) and df.loc["fast", "images_per_s"] == 150.0
    assert (df.loc["fast", "ratio_min"], df.loc["fast", "ratio_max"]) == (1.5, 3.0)
    assert df.loc["slow", "ratio"] == pytest.approx(0.5)
    assert df.loc["broken", "note"] == "failed: RuntimeError: this configuration cannot run"
    assert math.isnan(df.loc["broken", "ratio"]) and df.loc["skipped", "note"].startswith("skipped")


def test_train_configs_real_tiny_run():
    if wbd.cache_info() is None:
        pytest.skip("real Fashion-MNIST cache absent")
    configs = {k: bt.CONFIGS[k] for k in (bt.BASELINE, "bf16 autocast", "evaluation (forward only)")}
    df = bt.train_configs("reference_cnn", configs=configs, images_per_block=64, rounds=2, acc_subset=256,
                          acc_test_subset=100, acc_epochs=1, threads=1, width_mult=0.5).set_index("config")  # fmt: skip
    assert list(df.index) == list(configs) and (df.images_per_s > 0).all()
    assert df.loc[bt.BASELINE, "ratio"] == 1.0
    assert 0 <= df.loc["bf16 autocast", "accuracy"] <= 100 and math.isnan(df.loc["evaluation (forward only)", "accuracy"])
    assert df.attrs["baseline"] == bt.BASELINE


def test_unknown_names_raise_keyerror():
    with pytest.raises(KeyError, match="reference_cnn, mobilenetv2_050"):
        bt.bench_target("resnet50")
    with pytest.raises(KeyError, match="fit_overhead"):
        bt.run_all(only=("nope",))


def test_cli_bench_train_rejects_unknown_configuration(capsys):
    from workbench.cli import main

    assert main(["bench", "train", "--only", "fp64"]) == 2
    assert "valid: fp32 eager" in capsys.readouterr().err
    assert main(["bench", "train", "--threads", "0"]) == 2


def test_moved_benchmarks_importable():
    from workbench.bench import latency_stability, zoo_vs_reference

    assert callable(latency_stability) and callable(zoo_vs_reference)


def test_count_benchmark_cold_then_warm():
    from workbench.bench import count_benchmark

    r = count_benchmark(["reference_cnn", "mobilenetv3_small_075"])
    assert r["models"] == 2 and r["cold_s"] > 0 and r["warm_s"] >= 0
    assert r["warm_s"] < r["cold_s"], "the warm pass is served from the counting cache"


def test_report_benchmark_refuses_bad_passes_and_profiles():
    from workbench.bench import report_benchmark

    with pytest.raises(ValueError, match="unknown pass 'hot'; valid: cold, warm, noop, edit"):
        report_benchmark("smoke", passes=["hot"])
    with pytest.raises(ValueError, match="unknown profile 'tiny'"):
        report_benchmark("tiny")
    with pytest.raises(ValueError, match="'plots/nope.py' is not a file of the package"):
        report_benchmark("smoke", passes=["warm", "edit"], edit="plots/nope.py")
