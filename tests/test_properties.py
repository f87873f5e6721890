"""Property-based tests (Hypothesis): the MAC counter against closed forms on random shapes,
and the channel-rounding rule's invariants.

Each property states the closed form once and lets Hypothesis pick the shapes (groups, stride,
padding, dilation, rectangular kernels and inputs, token counts, heads), so an off-by-one in the
output-size arithmetic or a dropped factor shows up on shapes nobody wrote by hand.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

import workbench.layers as layers
import workbench.layers.conv as layers_conv
from workbench.layers import make_divisible
from workbench.measure.macs import MacCount, count_macs

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _out(size: int, k: int, s: int, p: int, d: int) -> int:
    """Output side of a convolution (the formula in the ``nn.Conv2d`` docs)."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@FAST
@given(
    batch=st.integers(1, 3),
    groups=st.integers(1, 4),
    in_per_group=st.integers(1, 4),
    out_per_group=st.integers(1, 4),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    bias=st.booleans(),
    batch_in_size=st.booleans(),
)
def test_conv2d_macs_closed_form(batch, groups, in_per_group, out_per_group, kh, kw, stride, padding, dilation, h, w, bias, batch_in_size):
    oh = _out(h, kh, stride[0], padding[0], dilation[0])
    ow = _out(w, kw, stride[1], padding[1], dilation[1])
    assume(oh >= 1 and ow >= 1)
    cin, cout = groups * in_per_group, groups * out_per_group
    conv = nn.Conv2d(cin, cout, (kh, kw), stride, padding, dilation, groups=groups, bias=bias)
    if batch_in_size:
        r = count_macs(conv, (batch, cin, h, w))
    else:  # (C, H, W) and the batch_size argument
        r = count_macs(conv, (cin, h, w), batch_size=batch)
    # every output element is a dot product over (cin / groups) x kh x kw inputs; bias adds are not MACs
    assert r.macs == batch * cout * oh * ow * in_per_group * kh * kw
    assert r.flops == 2 * r.macs
    assert r.by_operator.get("conv") == r.macs
    assert r.input_size == (batch, cin, h, w)
    assert not r.unsupported


@FAST
@given(
    lead=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    din=st.integers(1, 32),
    dout=st.integers(1, 32),
    bias=st.booleans(),
)
def test_linear_macs_on_token_dims(lead, din, dout, bias):
    x = torch.randn(*lead, din)
    r = count_macs(nn.Linear(din, dout, bias=bias), x)
    assert r.macs == math.prod(lead) * din * dout
    assert r.macs_all_ops == r.macs  # a linear layer alone has nothing else to count


@FAST
@given(
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    stride=st.integers(1, 3),
    h=st.integers(4, 12),
    w=st.integers(4, 12),
    channels=st.integers(1, 3),
    kind=st.sampled_from(["max", "avg"]),
    pad=st.booleans(),
)
def test_pooling_window_cost_closed_form(kh, kw, stride, h, w, channels, kind, pad):
    padding = (kh // 2, kw // 2) if pad else 0  # at most half the kernel, as torch requires
    cls = nn.MaxPool2d if kind == "max" else nn.AvgPool2d
    p = padding if pad else (0, 0)
    oh, ow = _out(h, kh, stride, p[0], 1), _out(w, kw, stride, p[1], 1)
    assume(oh >= 1 and ow >= 1)
    r = count_macs(cls((kh, kw), stride, padding), (2, channels, h, w))
    # one operation per window element per output element; pooling is no MAC
    assert r.by_operator["pool"] == kh * kw * 2 * channels * oh * ow
    assert r.macs == 0 and r.macs_all_ops == r.by_operator["pool"]


class _Attention(nn.Module):
    """softmax(q k^T / sqrt(E)) v with fixed keys/values of S tokens; q is the input."""

    def __init__(self, lead: tuple[int, ...], s: int, e: int, ev: int, sdpa: bool) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("k", torch.randn(*lead, s, e, generator=g))
        self.register_buffer("v", torch.randn(*lead, s, ev, generator=g))
        self.sdpa = sdpa

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        if self.sdpa:
            return F.scaled_dot_product_attention(q, self.k, self.v)
        attn = (q @ self.k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
        return attn @ self.v


@FAST
@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=3),  # (B,), (B, heads), (B, heads, groups)
    length=st.integers(1, 9),
    s=st.integers(1, 9),
    e=st.integers(1, 8),
    ev=st.integers(1, 8),
    sdpa=st.booleans(),
)
def test_attention_macs_closed_form(lead, length, s, e, ev, sdpa):
    m = _Attention(tuple(lead), s, e, ev, sdpa)
    r = count_macs(m, torch.randn(*lead, length, e))
    # QK^T: L x S dot products of length E; AV: L x Ev dot products of length S
    expected = math.prod(lead) * length * s * (e + ev)
    assert r.macs == expected
    key = "scaled_dot_product_attention" if sdpa else "matmul"
    assert r.by_operator[key] == expected
    assert not r.unsupported


class _ScalarTail(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum() * 2  # a reduction to a 0-d tensor, then one multiply


def test_ops_on_scalars_count_one_per_element():
    r = count_macs(_ScalarTail(), torch.randn(3, 5))
    assert r.by_operator == {"pool": 15, "elementwise": 1}
    assert r.macs == 0 and r.macs_all_ops == 16


def test_maccount_str_states_the_convention():
    r = count_macs(nn.Sequential(nn.Linear(1000, 1000), nn.ReLU()), torch.randn(2, 1000))
    assert r.macs == 2_000_000 and r.macs_all_ops == 2_002_000
    assert str(r) == "MACs 2.0 M (all ops 2.0 M, FLOPs = 2 x MACs)"
    # 593 x 3457 = 2,050,001 MACs: just above the 2.05 M rounding boundary, so dividing by
    # anything but 1e6 shows in the printed figure
    r = count_macs(nn.Linear(593, 3457), torch.randn(1, 593))
    assert str(r) == "MACs 2.1 M (all ops 2.1 M, FLOPs = 2 x MACs)"
    r = MacCount(macs=3_000_000, macs_all_ops=3_000_000, by_operator={}, by_module={},
                 unsupported=Counter({"aten::fancy_op": 2}))  # fmt: skip
    assert str(r) == "MACs 3.0 M (all ops 3.0 M, FLOPs = 2 x MACs); UNSUPPORTED ops not counted: {'aten::fancy_op': 2}"


# ------------------------------------------------------------------------- channel rounding

divisors = st.sampled_from([1, 2, 3, 4, 8, 16, 32])
values = st.floats(min_value=0.01, max_value=4096, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(v=values, divisor=divisors)
def test_make_divisible_invariants(v, divisor):
    r = make_divisible(v, divisor)
    assert isinstance(r, int)
    assert r % divisor == 0
    assert r >= divisor  # default min_value
    assert r >= 0.9 * v  # never loses more than 10 %
    assert r <= max(divisor, v + divisor / 2) + divisor  # rounds, it does not inflate


@settings(max_examples=300, deadline=None)
@given(v=values, divisor=divisors, k=st.integers(1, 8))
def test_make_divisible_min_value(v, divisor, k):
    min_value = k * divisor
    r = make_divisible(v, divisor, min_value)
    assert r >= min_value and r % divisor == 0 and r >= 0.9 * v


@settings(max_examples=300, deadline=None)
@given(v=values, dv=st.floats(min_value=0, max_value=100), divisor=divisors)
def test_make_divisible_monotone(v, dv, divisor):
    assert make_divisible(v, divisor) <= make_divisible(v + dv, divisor)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(1, 512), divisor=divisors)
def test_make_divisible_keeps_multiples(k, divisor):
    assert make_divisible(k * divisor, divisor) == k * divisor


# beside make_divisible in workbench.layers (added with the one width convention)
scale_channels = getattr(layers, "scale_channels", None) or getattr(layers_conv, "scale_channels", None)
needs_scale_channels = pytest.mark.skipif(scale_channels is None, reason="workbench.layers.scale_channels not present")


@needs_scale_channels
@settings(max_examples=300, deadline=None)
@given(c=st.integers(1, 2048), width=st.floats(0.05, 4.0), divisor=divisors)
def test_scale_channels_invariants(c, width, divisor):
    r = scale_channels(c, width, divisor)
    assert r % divisor == 0 and r >= divisor and r >= 0.9 * c * width
    assert r == make_divisible(c * width, divisor)


@needs_scale_channels
@pytest.mark.parametrize("width", [0.0, -1.0, math.inf, math.nan])
def test_scale_channels_refuses_bad_width(width):
    with pytest.raises(ValueError, match="width"):
        scale_channels(32, width)
