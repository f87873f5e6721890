"""Memory of a forward pass: parameter bytes and peak live activation bytes.

Activation memory is measured, not estimated: a ``TorchDispatchMode`` sees every tensor each
ATen operator returns during one eval-mode forward, and tracks which storages are still alive
(a storage dies when the last tensor viewing it is garbage collected). The peak of the live
bytes -- the input included, since the caller holds it for the whole forward -- is what an
inference engine without operator fusion or buffer reuse inside an op must hold at once.
In-place ops and views share storage and are counted once.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from ._inputs import make_input


@dataclass(frozen=True)
class MemoryResult:
    """Bytes needed by one forward pass.

    Attributes:
        param_bytes: parameters (shared ones once).
        buffer_bytes: buffers (e.g. BatchNorm running statistics).
        input_bytes: the input tensor.
        peak_activation_bytes: maximum bytes of simultaneously live tensors during the forward,
            input included, parameters excluded.
        output_bytes: the output tensor(s).
        input_size: (B, C, H, W).
    """

    param_bytes: int
    buffer_bytes: int
    input_bytes: int
    peak_activation_bytes: int
    output_bytes: int
    input_size: tuple[int, ...]

    @property
    def total_peak_bytes(self) -> int:
        return self.param_bytes + self.buffer_bytes + self.peak_activation_bytes


class _LiveTensors(TorchDispatchMode):
    """Tracks bytes of live storages created by ops (plus one seed tensor, the input)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: dict[int, int] = {}  # storage data_ptr -> live tensor objects viewing it
        self.sizes: dict[int, int] = {}
        self.live = 0
        self.peak = 0
        self.ignore: set[int] = set()

    def track(self, t: torch.Tensor) -> None:
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr in self.ignore or st.nbytes() == 0:
            return
        if ptr not in self.refs:
            self.refs[ptr] = 0
            self.sizes[ptr] = st.nbytes()
            self.live += st.nbytes()
            self.peak = max(self.peak, self.live)
        self.refs[ptr] += 1
        weakref.finalize(t, self._release, ptr)

    def _release(self, ptr: int) -> None:
        self.refs[ptr] -= 1
        if self.refs[ptr] == 0:
            self.live -= self.sizes.pop(ptr)
            del self.refs[ptr]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.track(t)
        return out


def _bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def measure_memory(model: nn.Module, input_size: tuple[int, ...] | None = None, *, batch_size: int = 1) -> MemoryResult:
    """Parameter bytes and peak activation bytes of one inference forward.

    Args:
        model: the module (run in eval mode under ``torch.inference_mode``; mode restored).
        input_size: ``(C, H, W)`` or ``(B, C, H, W)``; default ``model.default_input_size``.
        batch_size: used when ``input_size`` has no batch dimension.
    """
    params = {id(p): p for p in model.parameters()}
    x = make_input(model, input_size, batch_size)
    was_training = model.training
    model.eval()
    mode = _LiveTensors()
    # Parameters and buffers are not activations, even when an op returns a view of them.
    mode.ignore = {p.untyped_storage().data_ptr() for p in params.values()}
    mode.ignore |= {b.untyped_storage().data_ptr() for b in model.buffers()}
    try:
        with torch.inference_mode(), mode:
            mode.track(x)
            out = model(x)
    finally:
        model.train(was_training)
    outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
    return MemoryResult(
        param_bytes=_bytes(params.values()),
        buffer_bytes=_bytes(model.buffers()),
        input_bytes=_bytes([x]),
        peak_activation_bytes=int(mode.peak),
        output_bytes=_bytes(outs),
        input_size=tuple(x.shape),
    )


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` in bytes (memory a new allocation can get without
    swapping); ``None`` where the kernel does not report it (non-Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # reported in kiB
    except (OSError, ValueError, IndexError):
        pass
    return None


# Share of MemAvailable a forward may plan to use: the rest is for the allocator's slack,
# Python, the latency run's second copy of the activations and the other processes.
MEMORY_BUDGET_FRACTION = 0.8


def check_batch_memory(
    model: nn.Module,
    input_size: tuple[int, ...],
    batch_size: int,
    *,
    available: int | None = None,
) -> int:
    """Refuse a batch whose activations cannot fit in memory, before trying to allocate them.

    The estimate is the measured batch-1 peak of live activations times ``batch_size``, plus
    parameters and buffers once; it must fit in :data:`MEMORY_BUDGET_FRACTION` of ``available``.
    An input larger than ``model.default_input_size`` is not measured (that could itself exhaust
    memory): the batch-1 peak at the default size is scaled by the pixel ratio, a lower bound
    for attention nets whose attention maps grow with the square of the token count.

    Args:
        model: the network.
        input_size: ``(C, H, W)``.
        batch_size: images per forward.
        available: bytes available (default :func:`available_memory_bytes`; no check if unknown).

    Returns:
        The estimated bytes of the forward at ``batch_size``.

    Raises:
        ValueError: the estimate exceeds the budget; the message names the largest batch that fits.
    """
    c, h, w = (int(v) for v in tuple(input_size)[-3:])
    probe, scale = (c, h, w), 1.0
    default = getattr(model, "default_input_size", None)
    if default is not None and h * w > default[-2] * default[-1]:
        probe, scale = tuple(default[-3:]), h * w / (default[-2] * default[-1])
    one = measure_memory(model, probe, batch_size=1)
    fixed = one.param_bytes + one.buffer_bytes
    per_image = max(1, round(one.peak_activation_bytes * scale))
    need = fixed + per_image * batch_size
    available = available_memory_bytes() if available is None else available
    if available is None:
        return need
    budget = int(MEMORY_BUDGET_FRACTION * available)
    if need > budget:
        largest = max(0, (budget - fixed) // per_image)
        hint = f"the largest batch that fits is {largest}" if largest >= 1 else f"not even batch 1 fits at {h}x{w}"
        raise ValueError(
            f"batch {batch_size} at {h}x{w} needs ~{need / 2**30:.1f} GiB of activations and weights "
            f"({per_image / 2**20:.1f} MiB per image) but {budget / 2**30:.1f} GiB "
            f"({100 * MEMORY_BUDGET_FRACTION:.0f}% of the available memory) is the limit; {hint}"
        )
    return need
