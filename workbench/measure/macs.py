"""Multiply-accumulate counting with fvcore as the engine.

Convention (the one the efficient-network papers use, and the one every ``macs`` column in
this project means):

* ``macs`` -- multiply-accumulates of convolutions (incl. depthwise/grouped/transposed),
  linear layers and matrix products (``matmul``/``bmm``/``einsum``, attention QK^T and AV,
  ``scaled_dot_product_attention``). One MAC = one multiply + one add. BatchNorm is *not*
  counted: at inference it folds into the preceding convolution. Bias additions are not
  counted (fvcore's and the papers' habit).
* ``flops`` -- ``2 * macs``. Many papers print "FLOPs" but mean multiply-adds (ShuffleNet,
  GhostNet, EfficientNet, EfficientViT, PoolFormer); this project never does: ``flops`` is
  always twice ``macs``.
* ``macs_all_ops`` -- ``macs`` plus everything else counted as one operation per output
  element (elementwise add/mul, activations, normalization, pooling, softmax, upsampling; see
  ``_OTHER_OPS`` for each op's cost). It shows how much work the MAC convention leaves out,
  which matters for memory-bound mobile blocks.

Every traced operator is counted, deliberately ignored (pure data movement such as reshape,
permute, cat, pixel_shuffle: listed in ``IGNORED_OPS``), or reported in ``unsupported`` --
never silently zero.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ._inputs import make_input

with warnings.catch_warnings():  # fvcore decorates helpers with torch.jit.script at import
    warnings.simplefilter("ignore")
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import get_shape

# Operators whose count is a multiply-accumulate count (the papers' "MACs").
MAC_OPS = frozenset({"conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum", "scaled_dot_product_attention"})

# Pure data movement / bookkeeping: deliberately zero cost.
IGNORED_OPS = frozenset(
    "aten::" + n
    for n in """Int ScalarImplicit __and__ arange bitwise_not cat chunk constant_pad_nd contiguous copy_
    detach dropout dropout_ feature_dropout alpha_dropout empty eq expand expand_as flatten floor
    floor_divide full full_like gather ge gt lt le ne index index_put_ index_select masked_fill
    narrow new_empty new_full new_zeros nonzero ones ones_like permute remainder reshape reshape_as
    roll select size slice split split_with_sizes squeeze stack t to transpose type_as unbind
    unflatten unsqueeze unsqueeze_ view view_as zeros zeros_like pixel_shuffle pixel_unshuffle
    channel_shuffle native_channel_shuffle repeat flip pad reflection_pad2d replication_pad2d
    zero_ fill_ clone lift_fresh numpy_T movedim unfold im2col _unsafe_view alias detach_
    masked_fill_ scatter scatter_ where tensor_split""".split()
)


def _numel(v: Any) -> int:
    shape = get_shape(v)
    return math.prod(shape) if shape else 1


def _per_output(cost: float, name: str):
    """Handle: ``cost`` operations per element of the first output."""

    def handle(inputs, outputs):
        return Counter({name: cost * _numel(outputs[0])})

    return handle


def _per_input(cost: float, name: str):
    """Handle: ``cost`` operations per element of the first input (reductions, global pools)."""

    def handle(inputs, outputs):
        return Counter({name: cost * _numel(inputs[0])})

    return handle


def _pool_window(name: str):
    """Windowed pooling: kernel-area operations per output element."""

    def handle(inputs, outputs):
        k = inputs[1].toIValue()
        if k is None:  # kernel given as a traced list construct
            k = [i.toIValue() for i in inputs[1].node().inputs()]
        area = math.prod(k) if isinstance(k, list | tuple) else k * k
        return Counter({name: area * _numel(outputs[0])})

    return handle


def _matmul(inputs, outputs):
    # Broadcast-safe: every output element is a K-long dot product.
    k = get_shape(inputs[0])[-1]
    return Counter({"matmul": _numel(outputs[0]) * k})


def _sdpa(inputs, outputs):
    # q: (..., L, E), k: (..., S, E), v: (..., S, Ev). QK^T costs L*S*E, AV costs L*S*Ev per batch-head.
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = math.prod(q[:-2])
    L, E = q[-2], q[-1]
    S, Ev = k[-2], v[-1]
    return Counter({"scaled_dot_product_attention": batch * L * S * (E + Ev)})


_ELEMENTWISE = """add add_ sub sub_ rsub mul mul_ div div_ relu relu_ relu6 hardtanh hardtanh_ hardswish
hardswish_ hardsigmoid hardsigmoid_ sigmoid sigmoid_ silu silu_ gelu gelu_ tanh tanh_ clamp clamp_
clamp_min clamp_min_ leaky_relu leaky_relu_ prelu elu elu_ mish mish_ neg abs exp log sqrt rsqrt
pow erf reciprocal minimum maximum square""".split()

# op -> handle for everything outside MAC_OPS (counted only in macs_all_ops).
_OTHER_OPS: dict[str, Any] = {f"aten::{n}": _per_output(1, "elementwise") for n in _ELEMENTWISE}
_OTHER_OPS |= {
    # softmax: exp, running sum, divide -- 3 operations per element.
    "aten::softmax": _per_output(3, "softmax"),
    "aten::log_softmax": _per_output(3, "softmax"),
    "aten::_softmax": _per_output(3, "softmax"),
    # reductions and global pooling read every input element once.
    "aten::mean": _per_input(1, "pool"),
    "aten::sum": _per_input(1, "pool"),
    "aten::adaptive_avg_pool2d": _per_input(1, "pool"),
    "aten::adaptive_avg_pool1d": _per_input(1, "pool"),
    "aten::adaptive_max_pool2d": _per_input(1, "pool"),
    "aten::max": _per_input(1, "pool"),
    "aten::amax": _per_input(1, "pool"),
    "aten::var": _per_input(2, "pool"),
    "aten::std": _per_input(2, "pool"),
    "aten::var_mean": _per_input(2, "pool"),
    "aten::std_mean": _per_input(2, "pool"),
    "aten::avg_pool2d": _pool_window("pool"),
    "aten::max_pool2d": _pool_window("pool"),
    "aten::avg_pool1d": _pool_window("pool"),
    # interpolation: nearest copies, bilinear blends 4 taps, bicubic 16.
    "aten::upsample_nearest2d": _per_output(1, "upsample"),
    "aten::upsample_bilinear2d": _per_output(4, "upsample"),
    "aten::upsample_bicubic2d": _per_output(16, "upsample"),
    "aten::_upsample_bicubic2d_aa": _per_output(16, "upsample"),
    "aten::_upsample_bilinear2d_aa": _per_output(4, "upsample"),
    "aten::grid_sampler": _per_output(4, "upsample"),
    # normalization: fvcore's 2 (eval BN: scale+shift) and 5 (LN/GN: mean, var, normalize, affine).
    "aten::batch_norm": _per_output(2, "norm"),
    "aten::layer_norm": _per_output(5, "norm"),
    "aten::group_norm": _per_output(5, "norm"),
    "aten::instance_norm": _per_output(5, "norm"),
}
_MAC_HANDLES = {
    "aten::matmul": _matmul,
    "aten::scaled_dot_product_attention": _sdpa,
}


@dataclass(frozen=True)
class MacCount:
    """Result of :func:`count_macs` for one forward pass at batch size ``batch_size``.

    Attributes:
        macs: multiply-accumulates of conv / linear / matmul / attention (papers' "MAdds").
        macs_all_ops: ``macs`` + every other counted op (elementwise, norm, pool, softmax, ...).
        flops: ``2 * macs`` (one multiply and one add per MAC). Never the papers' loose "FLOPs".
        by_operator: operator class -> count (``conv``, ``linear``, ``matmul``, ``elementwise``,
            ``norm``, ``pool``, ``softmax``, ``upsample``, ...).
        by_module: module name -> MACs (``macs`` convention; ``''`` is the whole model).
        unsupported: operator -> number of calls fvcore could not count. Shown, never zero-filled.
        input_size: (B, C, H, W) the count refers to.
    """

    macs: int
    macs_all_ops: int
    by_operator: dict[str, int]
    by_module: dict[str, int]
    unsupported: Counter = field(default_factory=Counter)
    input_size: tuple[int, ...] = ()

    @property
    def flops(self) -> int:
        """``2 * macs``."""
        return 2 * self.macs

    @property
    def batch_size(self) -> int:
        return self.input_size[0] if self.input_size else 1

    def __str__(self) -> str:
        s = f"MACs {self.macs / 1e6:,.1f} M (all ops {self.macs_all_ops / 1e6:,.1f} M, FLOPs = 2 x MACs)"
        if self.unsupported:
            s += f"; UNSUPPORTED ops not counted: {dict(self.unsupported)}"
        return s


def count_macs(
    model: nn.Module,
    input_size: tuple[int, ...] | torch.Tensor | None = None,
    *,
    batch_size: int = 1,
) -> MacCount:
    """Count multiply-accumulates of one forward pass (see the module docstring for the convention).

    Args:
        model: any ``nn.Module`` taking one tensor. It is traced in eval mode (BatchNorm uses
            running stats, dropout is off) and put back in its previous mode.
        input_size: ``(C, H, W)``, ``(B, C, H, W)`` or an example tensor; default
            ``model.default_input_size``.
        batch_size: batch used when ``input_size`` is ``(C, H, W)``. Papers report batch 1.

    Returns:
        A :class:`MacCount`.
    """
    x = make_input(model, input_size, batch_size)
    was_training = model.training
    model.eval()
    try:
        analysis = FlopCountAnalysis(model, (x,))
        analysis.set_op_handle(**_OTHER_OPS, **_MAC_HANDLES)
        analysis._ignored_ops = set(IGNORED_OPS)  # fvcore's own list silently drops relu/clamp
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            by_mod_op = analysis.by_module_and_operator()
            unsupported = Counter(analysis.unsupported_ops())
    finally:
        model.train(was_training)
    by_operator = {k: int(v) for k, v in sorted(by_mod_op[""].items())}
    macs = sum(v for k, v in by_operator.items() if k in MAC_OPS)
    by_module = {m: int(sum(v for k, v in ops.items() if k in MAC_OPS)) for m, ops in by_mod_op.items()}
    return MacCount(
        macs=int(macs),
        macs_all_ops=int(sum(by_operator.values())),
        by_operator=by_operator,
        by_module=by_module,
        unsupported=unsupported,
        input_size=tuple(x.shape),
    )


# --- conditional_computation notebook (issue 14): MoE dispatch and token-dropping ops ---
def _index_add(inputs, outputs):
    # index_add_(self, dim, index, source): one add per element of ``source``
    return Counter({"elementwise": _numel(inputs[3])})


IGNORED_OPS = IGNORED_OPS | {"aten::nonzero_numpy"}  # which tokens go where: bookkeeping
_OTHER_OPS |= {
    # top-k and sort read each input element once (the router's choice, the kept-token order)
    "aten::topk": _per_input(1, "select"),
    "aten::sort": _per_input(1, "select"),
    "aten::index_add_": _index_add,
}
