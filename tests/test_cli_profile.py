"""``workbench profile``: every bad input is refused with exit 2 and one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

import workbench as wb
import workbench.measure
from workbench.cli import main
from workbench.measure import memory
from workbench.measure.stride import check_resolution, total_stride
from workbench.paths import REPO_ROOT

MODEL = "mobilenetv2_050"  # total stride 32, cheap to build


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


@pytest.mark.parametrize("width", ["inf", "-inf", "nan", "0", "-0.5"])
def test_bad_width_is_one_line(width, capsys):
    assert main(["profile", MODEL, "--no-latency", f"--width={width}"]) == 2
    _one_line_error(capsys, "--width must be > 0 and finite, got")


def test_resolution_below_total_stride_names_the_minimum(capsys):
    assert main(["profile", MODEL, "--no-latency", "--resolution", "1"]) == 2
    _one_line_error(capsys, "1x1", "total stride 32", ">= 32")
    assert main(["profile", MODEL, "--no-latency", "--resolution", "31"]) == 2
    _one_line_error(capsys, "31x31", ">= 32")


def test_resolution_at_total_stride_is_profiled(capsys):
    assert main(["profile", MODEL, "--no-latency", "--resolution", "32", "--json"]) == 0
    assert '"input_size": [\n    1,\n    3,\n    32,\n    32\n  ]' in capsys.readouterr().out


def test_total_stride_measured():
    assert total_stride(wb.create_model(MODEL)) == 32
    assert total_stride(wb.create_model("shufflenetv2_050")) == 32
    assert total_stride(wb.create_model("espcn_x2")) == 1  # SR nets never downsample
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.MaxPool2d(2), nn.Conv2d(4, 4, 1))
    assert total_stride(seq, (3, 64, 64)) == 4
    # a 1x1 conv after global pooling is not a downsampling
    head = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.AdaptiveAvgPool2d(1), nn.Conv2d(4, 4, 1))
    assert total_stride(head, (3, 64, 64)) == 2


def test_wb_profile_applies_the_same_rule():
    with pytest.raises(ValueError, match=r"total stride 32.*>= 32"):
        wb.profile(MODEL, (3, 16, 16), latency=False)
    m = wb.create_model(MODEL)
    with pytest.raises(ValueError, match="16x40"):
        check_resolution(m, (3, 16, 40))
    check_resolution(m, (3, 32, 40))  # both sides >= 32: accepted
    assert wb.profile(m, (3, 32, 32), latency=False).input_size == (1, 3, 32, 32)


def test_batch_that_cannot_fit_names_the_largest_that_does(monkeypatch, capsys):
    m = wb.create_model(MODEL)
    one = memory.measure_memory(m, (3, 224, 224))
    per_image, fixed = one.peak_activation_bytes, one.param_bytes + one.buffer_bytes
    available = int((fixed + 100.5 * per_image) / memory.MEMORY_BUDGET_FRACTION)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: available)
    assert main(["profile", MODEL, "--no-latency", "--batch", "100000"]) == 2
    _one_line_error(capsys, "batch 100000", "largest batch that fits is 100")
    # the named batch passes the check, one more does not
    assert memory.check_batch_memory(m, (3, 224, 224), 100, available=available) <= available
    with pytest.raises(ValueError, match="largest batch that fits is 100$"):
        memory.check_batch_memory(m, (3, 224, 224), 101, available=available)


def test_batch_check_when_nothing_fits():
    m = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match="not even batch 1 fits at 32x32"):
        memory.check_batch_memory(m, (3, 32, 32), 2, available=1000)


def test_huge_resolution_is_estimated_not_allocated(monkeypatch, capsys):
    # 100,000 px squared would need ~2 TB for the input alone: refused from the estimate at the
    # default size scaled by the pixel ratio, without allocating anything that large.
    m = wb.create_model(MODEL)
    one = memory.measure_memory(m, (3, 224, 224))
    est = memory.check_batch_memory(m, (3, 448, 448), 1, available=2**50)
    assert est == one.param_bytes + one.buffer_bytes + 4 * one.peak_activation_bytes
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 16 * 2**30)
    assert main(["profile", MODEL, "--no-latency", "--resolution", "100000"]) == 2
    _one_line_error(capsys, "not even batch 1 fits at 100000x100000")


def test_available_memory_is_read_from_meminfo():
    avail = memory.available_memory_bytes()
    if os.path.exists("/proc/meminfo"):
        assert avail is not None and avail > 0
    else:
        assert avail is None


def test_threads_below_one(capsys):
    assert main(["profile", MODEL, "--no-latency", "--threads", "0"]) == 2
    _one_line_error(capsys, "--threads must be >= 1")


@pytest.mark.parametrize(
    "exc",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB\nmore detail"),
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                     "you tried to allocate 963379200000 bytes. Error code 12"),
        RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x1280 and 640x10)"),
        MemoryError(),
    ],
)
def test_errors_while_profiling_exit_2_in_one_line(exc, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(workbench.measure, "profile", fail)
    assert main(["profile", MODEL, "--no-latency"]) == 2
    _one_line_error(capsys, f"profiling {MODEL} at 3x224x224, batch 1 failed", type(exc).__name__)


def test_subprocess_exit_2_without_traceback():
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for bad in (["--width", "inf"], ["--resolution", "1"]):
        p = subprocess.run(
            [sys.executable, "-m", "workbench", "profile", MODEL, "--no-latency", *bad],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert p.returncode == 2, p.stderr
        assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert p.stdout == ""
