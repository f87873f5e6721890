"""Latency statistics checked exactly: a fake clock and modules whose run time we script.

Real timings on a shared machine are noise; these tests replace the latency module's clock
with one that only the model advances, so every sample, the median, the quartiles, the
warm-up length and the calibration are known in advance and asserted exactly.
"""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from torch import nn

from workbench.measure import latency as lat
from workbench.measure.latency import LatencyResult, compare_latency, measure_latency


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def __deepcopy__(self, memo):  # a model copied for channels_last/device keeps the one clock
        return self


class Calls(list):
    """Log shared by a module and its deep copies: (clock time at start, module id, input)."""

    def __deepcopy__(self, memo):
        return self


class Scripted(nn.Module):
    """Each forward advances the fake clock by the next duration (ms) of ``script``.

    Past the end of the script the last duration repeats. Calls are logged with the clock
    time at which they started. A 2x2 conv weight lets tests see memory-format conversions.
    """

    def __init__(self, clock: FakeClock, script_ms, log: list | None = None, name: str = "") -> None:
        super().__init__()
        self.clock, self.script, self.name = clock, list(script_ms), name
        self.weight = nn.Parameter(torch.ones(3, 3, 2, 2))
        self.calls = Calls()
        self.log = log if log is not None else Calls()

    @property
    def starts(self) -> list[float]:
        return [c[0] for c in self.calls]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        i = len(self.calls)
        nhwc = self.weight.is_contiguous(memory_format=torch.channels_last)
        self.calls.append((self.clock.t, id(self), x, nhwc, torch.get_num_threads(), self.weight.device.type))
        self.log.append(self.name)
        self.clock.t += self.script[min(i, len(self.script) - 1)] / 1000
        return x


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(lat, "_clock", c)
    return c


def test_median_quartiles_cv_are_those_of_the_samples(clock):
    # warmup_s=0 runs exactly the minimum 3 warm-up forwards (10 ms each: 1 forward per 10 ms
    # sample); the 5 timed samples are then 10, 30, 20, 100, 40 ms: median 30, mean 40.
    m = Scripted(clock, [10, 10, 10, 10, 30, 20, 100, 40])
    r = measure_latency(m, (3, 4, 4), samples=5, sample_ms=10, warmup_s=0)
    assert r.iters_per_sample == 1
    assert r.samples_ms == pytest.approx((10, 30, 20, 100, 40), rel=1e-9)
    assert r.median_ms == pytest.approx(30, rel=1e-9)  # the mean (40) would be wrong
    assert r.mean_ms == pytest.approx(40, rel=1e-9)
    assert r.min_ms == pytest.approx(10, rel=1e-9)
    assert (r.q1_ms, r.q3_ms) == pytest.approx((20, 40), rel=1e-9)
    assert r.iqr_ms == pytest.approx(20, rel=1e-9)
    assert r.cv == pytest.approx(statistics.stdev([10, 30, 20, 100, 40]) / 40, rel=1e-9)
    assert r.n == 5 and len(m.starts) == 3 + 5
    assert (r.backend, r.channels_last, r.device, r.batch_size) == ("eager", False, "cpu", 1)
    assert r.env["threads"] == r.threads and r.env["device"] == "cpu"


def test_warm_up_runs_for_warmup_s_before_the_first_timed_sample(clock):
    m = Scripted(clock, [10])
    r = measure_latency(m, (3, 4, 4), samples=4, sample_ms=10, warmup_s=0.5)
    timed = r.n * r.iters_per_sample
    warm = len(m.starts) - timed
    assert warm == 50  # 50 x 10 ms = the 0.5 s asked for, and not one forward less
    assert m.starts[warm] >= 0.5  # the first timed forward starts after the warm-up
    assert r.median_ms == pytest.approx(10, rel=1e-9)


def test_warm_up_runs_at_least_three_forwards(clock):
    m = Scripted(clock, [10])
    r = measure_latency(m, (3, 4, 4), samples=2, sample_ms=10, warmup_s=0)
    assert len(m.starts) - r.n * r.iters_per_sample >= 3


def test_calibration_fits_forwards_into_a_sample(clock):
    # 2 ms per forward, 10 ms samples: 5 forwards per sample, each sample 10 ms / 5 = 2 ms.
    m = Scripted(clock, [2])
    r = measure_latency(m, (3, 4, 4), samples=3, sample_ms=10, warmup_s=0)
    assert r.iters_per_sample == 5
    assert len(m.starts) == 3 + 3 * 5
    assert r.median_ms == pytest.approx(2, rel=1e-9)


def test_calibration_uses_the_last_five_warm_up_forwards(clock):
    # Slow first forwards (compile, cold caches) must not shrink the sample: the calibration
    # takes the median of the last 5 warm-up forwards. Warm-up: 100, 100, 100, 2, 2, 2 ms
    # (306 ms >= 0.305 s): the last 5 have median 2 ms -> 5 forwards per 10 ms sample; the
    # last 6 would give 51 ms -> 1 forward.
    m = Scripted(clock, [100, 100, 100, 2, 2, 2, 2])
    r = measure_latency(m, (3, 4, 4), samples=2, sample_ms=10, warmup_s=0.305)
    assert len(m.starts) - r.n * r.iters_per_sample == 6
    assert r.iters_per_sample == 5


def test_per_image_and_throughput(clock):
    m = Scripted(clock, [8])
    r = measure_latency(m, (3, 4, 4), batch_size=4, samples=3, sample_ms=8, warmup_s=0)
    assert r.batch_size == 4
    assert r.per_image_ms == pytest.approx(2, rel=1e-9)
    assert r.throughput == pytest.approx(500, rel=1e-9)  # 4 images / 8 ms


def test_compare_latency_ratio_and_round_robin_order(clock):
    log: list[str] = []
    fast = Scripted(clock, [10], log, "fast")
    slow = Scripted(clock, [30], log, "slow")
    df = compare_latency({"fast": fast, "slow": slow}, (3, 4, 4), rounds=4, sample_ms=10, warmup_s=0)
    assert list(df.name) == ["fast", "slow"]
    assert df.ratio.tolist() == pytest.approx([1.0, 3.0], rel=1e-9)
    assert df.median_ms.tolist() == pytest.approx([10.0, 30.0], rel=1e-9)
    assert df.iqr_ms.tolist() == pytest.approx([0.0, 0.0], abs=1e-9)
    assert (df.baseline == "fast").all() and (df.rounds == 4).all()
    assert df.batch_size.tolist() == [1, 1]  # batch 1 by default, as papers report
    assert df.attrs["env"]["threads"] == df.threads[0] and df.attrs["env"]["device"] == "cpu"
    # 3 warm-up forwards each, then one forward per model per round, the first model rotating.
    assert log[:6] == ["fast"] * 3 + ["slow"] * 3
    assert log[6:] == ["fast", "slow", "slow", "fast", "fast", "slow", "slow", "fast"]


def test_compare_latency_ratio_is_the_median_of_per_round_ratios(clock):
    # The baseline slows down round by round (10, 20, 30, 40 ms); the other model takes 40 ms
    # throughout. Per-round ratios 4, 2, 4/3, 1: their median 5/3 differs from the ratio of
    # the medians (40 / 25 = 1.6), so the test tells the two apart.
    base = Scripted(clock, [10, 10, 10, 10, 20, 30, 40], name="base")
    other = Scripted(clock, [40], name="other")
    df = compare_latency({"base": base, "other": other}, (3, 4, 4), rounds=4, sample_ms=10, warmup_s=0)
    q1, med, q3 = statistics.quantiles([4, 2, 4 / 3, 1], n=4, method="inclusive")
    assert med == pytest.approx(5 / 3)
    assert df.ratio.tolist() == pytest.approx([1.0, med], rel=1e-9)
    assert df.ratio_q1.tolist() == pytest.approx([1.0, q1], rel=1e-9)
    assert df.ratio_q3.tolist() == pytest.approx([1.0, q3], rel=1e-9)
    assert df.median_ms.tolist() == pytest.approx([25.0, 40.0], rel=1e-9)
    assert df.iqr_ms[0] == pytest.approx(32.5 - 17.5, rel=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sample_ms": 0}, "sample_ms"),
        ({"sample_ms": -5}, "sample_ms"),
        ({"sample_ms": math.nan}, "sample_ms"),
        ({"sample_ms": math.inf}, "sample_ms"),
        ({"warmup_s": -1}, "warmup_s"),
        ({"warmup_s": math.nan}, "warmup_s"),
        ({"warmup_s": math.inf}, "warmup_s"),
        ({"samples": 0}, "samples"),
        ({"samples": 2.5}, "samples"),
        ({"samples": True}, "samples"),
    ],
)
def test_measure_latency_refuses_bad_timing_args(kwargs, match, clock):
    m = Scripted(clock, [1])
    with pytest.raises(ValueError, match=f"^{match} must be"):
        measure_latency(m, (3, 4, 4), **kwargs)
    assert m.starts == []  # refused before a single forward


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rounds": 0}, "rounds"),
        ({"rounds": -3}, "rounds"),
        ({"sample_ms": 0}, "sample_ms"),
        ({"warmup_s": -0.1}, "warmup_s"),
    ],
)
def test_compare_latency_refuses_bad_args(kwargs, match, clock):
    m = Scripted(clock, [1])
    with pytest.raises(ValueError, match=f"^{match} must be"):
        compare_latency({"m": m}, (3, 4, 4), **kwargs)
    assert m.starts == []
    with pytest.raises(ValueError, match="at least one model"):
        compare_latency({}, (3, 4, 4))


def test_boundary_values_are_accepted(clock):
    m = Scripted(clock, [1])
    r = measure_latency(m, (3, 4, 4), samples=1, sample_ms=1e-3, warmup_s=0)
    assert r.n == 1 and r.iqr_ms == 0 and r.cv == 0
    df = compare_latency({"m": m}, (3, 4, 4), rounds=1, sample_ms=1e-3, warmup_s=0)
    assert df.ratio.tolist() == [1.0]


def test_two_samples_have_interpolated_quartiles(clock):
    m = Scripted(clock, [10, 10, 10, 10, 30])
    r = measure_latency(m, (3, 4, 4), samples=2, sample_ms=10, warmup_s=0)
    assert (r.q1_ms, r.median_ms, r.q3_ms) == pytest.approx((15, 20, 25), rel=1e-9)
    assert r.cv == pytest.approx(statistics.stdev([10, 30]) / 20, rel=1e-9)


def test_cpu_eager_measures_the_callers_model_in_place(clock):
    m = Scripted(clock, [1])
    m.train()
    measure_latency(m, (3, 4, 4), samples=2, sample_ms=1, warmup_s=0)
    assert {c[1] for c in m.calls} == {id(m)}  # no needless copy on CPU
    assert m.training  # mode restored


def test_channels_last_converts_a_copy_not_the_callers_model(clock):
    m = Scripted(clock, [1])
    r = measure_latency(m, (3, 4, 4), samples=2, sample_ms=1, warmup_s=0, channels_last=True)
    assert all(c[1] != id(m) for c in m.calls)  # a copy ran
    assert all(c[3] for c in m.calls)  # its weight was NHWC
    assert all(c[2].is_contiguous(memory_format=torch.channels_last) for c in m.calls)
    assert not m.weight.is_contiguous(memory_format=torch.channels_last)  # the caller's is not
    assert r.channels_last is True


def test_other_devices_move_a_copy(clock):
    m = Scripted(clock, [1])
    r = measure_latency(m, (3, 4, 4), samples=2, sample_ms=1, warmup_s=0, device="meta")
    assert all(c[2].device.type == "meta" and c[5] == "meta" and c[1] != id(m) for c in m.calls)
    assert m.weight.device.type == "cpu" and r.device == "meta" and r.env["device"] == "meta"


def test_compile_backend_times_the_compiled_model(clock, monkeypatch):
    compiled = []

    def fake_compile(model):
        compiled.append(model)

        def run(x):
            compiled.append("call")
            return model(x)

        return run

    monkeypatch.setattr(lat.torch, "compile", fake_compile)
    m = Scripted(clock, [1])
    r = measure_latency(m, (3, 4, 4), samples=2, sample_ms=1, warmup_s=0, backend="compile")
    assert compiled[0] is m and compiled.count("call") == len(m.calls) and r.backend == "compile"


def test_sync_only_on_cuda(monkeypatch):
    synced = []
    monkeypatch.setattr(lat.torch.cuda, "synchronize", lambda *a: synced.append(a))
    lat._sync("cpu")
    lat._sync("meta")
    assert synced == []
    lat._sync("cuda:1")
    lat._sync("cuda")
    assert len(synced) == 2


def test_models_given_as_a_list_are_named():
    a, b = nn.Identity(), nn.ReLU()
    b.registry_name = "relu_net"
    named = lat._as_named([a, b, a, a])
    assert list(named) == ["Identity", "relu_net", "Identity#2", "Identity#3"]
    assert named["Identity#3"] is a and named["relu_net"] is b
    built = lat._as_named(["mobilenetv2_050"])
    assert list(built) == ["mobilenetv2_050"] and built["mobilenetv2_050"].registry_name == "mobilenetv2_050"
    d = {"x": a}
    assert lat._as_named(d) == d


def test_str_states_the_conditions():
    r = LatencyResult(
        median_ms=1.23456, q1_ms=1.0, q3_ms=1.5, iqr_ms=0.5, mean_ms=1.3, min_ms=0.9, cv=0.1234, n=7,
        iters_per_sample=3, batch_size=2, threads=4, backend="eager", channels_last=False, device="cpu",
    )  # fmt: skip
    assert str(r) == "1.235 ms (IQR 0.500, CV 12.3%, n=7, batch 2, 4 thread(s), eager)"


def test_samples_are_sized_in_milliseconds(clock):
    # 1 ms forwards, 1000 ms samples: exactly 1000 forwards per sample (not 999)
    m = Scripted(clock, [1])
    assert measure_latency(m, (3, 4, 4), samples=1, sample_ms=1000, warmup_s=0).iters_per_sample == 1000
    m2 = Scripted(clock, [1])
    df = compare_latency({"m": m2}, (3, 4, 4), rounds=1, sample_ms=1000, warmup_s=0)
    assert len(m2.calls) == 3 + 1000 and df.median_ms[0] == pytest.approx(1, rel=1e-9)


def test_compare_latency_threads_batch_and_channels_last(clock):
    threads = torch.get_num_threads() % 4 + 1  # differs from the current setting
    before = torch.get_num_threads()
    a, b = Scripted(clock, [1]), Scripted(clock, [2])
    df = compare_latency({"a": a, "b": b}, (3, 4, 4), rounds=2, sample_ms=1, warmup_s=0,
                         threads=threads, batch_size=3, channels_last=True)  # fmt: skip
    assert torch.get_num_threads() == before
    assert df.threads.tolist() == [threads, threads] and df.batch_size.tolist() == [3, 3]
    for m in (a, b):
        assert all(c[4] == threads for c in m.calls)
        assert all(c[2].shape[0] == 3 and c[2].is_contiguous(memory_format=torch.channels_last) for c in m.calls)
        assert all(c[3] and c[1] != id(m) for c in m.calls)  # an NHWC copy ran


def test_compare_latency_moves_copies_and_inputs_to_the_device(clock):
    a, b = Scripted(clock, [1]), Scripted(clock, [2])
    df = compare_latency({"a": a, "b": b}, (3, 4, 4), rounds=2, sample_ms=1, warmup_s=0, device="meta")
    for m in (a, b):
        assert all(c[2].device.type == "meta" and c[5] == "meta" and c[1] != id(m) for c in m.calls)
        assert m.weight.device.type == "cpu"
    assert df.attrs["env"]["device"] == "meta"


def test_unknown_backend_names_the_valid_ones(clock):
    with pytest.raises(ValueError, match=r"^unknown backend 'tensorrt'; valid: eager, compile$"):
        measure_latency(Scripted(clock, [1]), (3, 4, 4), backend="tensorrt")
