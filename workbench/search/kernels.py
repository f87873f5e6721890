"""Kernel detection: the units a latency lookup table is keyed by (nn-Meter style).

A *kernel* is what the runtime executes as one unit. :func:`detect_kernels` runs the model once
with hooks and records, in execution order:

* every leaf module call (``Conv2d``, ``Linear``, pooling, activations, normalisations, ...);
* every *composite* block called as one kernel, detected by class name (its children are not
  recorded separately): squeeze-excitation / channel attention (:data:`SE_PATTERN`: our
  ``SqueezeExcite``, ``SqueezeExciteBN``, ``EfficientChannelAttention``, ``CBAM``,
  ``ContrastChannelAttention``; timm's ``SqueezeExcite``, ``SEModule``, ``EffectiveSEModule``,
  ``EcaModule``; torchvision's ``SqueezeExcitation``) and attention (:data:`ATTENTION_PATTERN`:
  any class whose name contains ``Attention``/``Attn``, e.g. timm ``Attention``,
  ``MultiQueryAttention2d``, ``MobileAttention``, our ``CascadedGroupAttention``,
  ``EfficientFormerAttention``, ``nn.MultiheadAttention``);
* every tensor operation a module performs in its own ``forward`` outside its children (residual
  adds, ``torch.cat``, reshapes, functional activations, ...), captured with a
  ``TorchFunctionMode`` as kind ``"functional"``: in eager PyTorch each costs a dispatch (µs),
  which adds up in small models.

Fusion follows the deploy form: a ``Conv2d`` whose output feeds a ``BatchNorm2d`` (proved by
tensor identity, not module order) absorbs it (BN folded), and an activation fed by that output
is fused too -- one conv kernel, as oneDNN / ONNX Runtime execute it. ``Linear`` [+ activation]
likewise. Dropout, ``Identity`` and ``DropPath`` leaves cost nothing at inference and are dropped.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..measure._inputs import make_input

#: Composite squeeze-excitation / channel-attention blocks, matched on the class name.
SE_PATTERN = re.compile(
    r"SqueezeExci|SEModule|^SE$|^SE[A-Z]|^Eca|EfficientChannelAttention|^CBAM$|ChannelAttention"
)
#: Composite attention blocks (checked after :data:`SE_PATTERN`), matched on the class name.
ATTENTION_PATTERN = re.compile(r"Attention|Attn")

KINDS = (
    "conv_dense", "conv_depthwise", "conv_pointwise", "conv_grouped", "linear", "pool", "act", "norm",
    "se", "attention", "functional", "other",
)  # fmt: skip

_ACT_CLASSES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid,
    "silu": nn.SiLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leakyrelu": nn.LeakyReLU,
    "prelu": nn.PReLU, "elu": nn.ELU, "mish": nn.Mish, "hardtanh": nn.Hardtanh,
}  # fmt: skip
# timm's own activation classes (Swish, HardSwishMe, GELUTanh, ...) are activations too.
_ACT_NAMES = set(_ACT_CLASSES) | {"swish", "swishme", "hardswishme", "hardsigmoidme", "mishme", "gelutanh",
                                  "quickgelu", "hardmish", "starrelu"}  # fmt: skip
_FUNCTIONAL_ACTS = {"relu", "relu_", "relu6", "hardswish", "hardsigmoid", "silu", "gelu", "sigmoid", "tanh",
                    "leaky_relu", "hardtanh", "mish", "elu"}  # fmt: skip
_FREE = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity, nn.AlphaDropout)
_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)
_POOLS = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd,
          nn.modules.pooling._AdaptiveMaxPoolNd)  # fmt: skip
# Tensor methods that only read metadata or convert to Python; never kernels.
_SKIP_FUNCS = {"__get__", "__set__", "size", "dim", "numel", "item", "tolist", "__len__", "__bool__",
               "__format__", "__repr__", "__hash__", "__eq__" , "requires_grad_", "type", "is_contiguous",
               "data_ptr", "element_size", "stride", "storage_offset", "get_device", "__index__"}  # fmt: skip


class TensorSpec(NamedTuple):
    """A tensor argument, remembered by shape and dtype only."""

    shape: tuple[int, ...]
    dtype: str


def _spec(obj: Any) -> Any:
    """``obj`` with every tensor replaced by its :class:`TensorSpec` (tuples, lists, dicts walked)."""
    if isinstance(obj, torch.Tensor):
        return TensorSpec(tuple(obj.shape), str(obj.dtype).removeprefix("torch."))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_spec(o) for o in obj) if not hasattr(obj, "_fields") else tuple(_spec(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _spec(v) for k, v in obj.items()}
    if isinstance(obj, (nn.Module, Callable)) and not isinstance(obj, type):
        return f"<{type(obj).__name__}>"
    return obj


def _materialize(spec: Any, gen: torch.Generator) -> Any:
    """Inverse of :func:`_spec`: seeded random tensors of the recorded shapes."""
    if isinstance(spec, TensorSpec):
        dtype = getattr(torch, spec.dtype)
        if dtype.is_floating_point:
            return torch.randn(spec.shape, generator=gen).to(dtype)
        return torch.zeros(spec.shape, dtype=dtype)  # indices / masks: zeros are always valid
    if isinstance(spec, (tuple, list)):
        return type(spec)(_materialize(s, gen) for s in spec)
    if isinstance(spec, dict):
        return {k: _materialize(v, gen) for k, v in spec.items()}
    return spec


def _first_tensor_spec(spec: Any) -> TensorSpec | None:
    if isinstance(spec, TensorSpec):
        return spec
    items = spec.values() if isinstance(spec, dict) else spec if isinstance(spec, (tuple, list)) else ()
    for s in items:
        found = _first_tensor_spec(s)
        if found is not None:
            return found
    return None


def _config(module: nn.Module) -> tuple:
    """What distinguishes two instances of one class: plain attributes and parameter shapes."""
    attrs = tuple(
        sorted((k, v) for k, v in vars(module).items()
               if not k.startswith("_") and k != "training" and isinstance(v, (int, float, bool, str, tuple)))
    )  # fmt: skip
    shapes = tuple((n, tuple(p.shape)) for n, p in module.named_parameters())
    return attrs, shapes


@dataclass(frozen=True)
class Kernel:
    """One unit of execution, as a latency table keys it.

    Attributes:
        kind: one of :data:`KINDS`.
        op: class name of the module (``"Conv2d"``, ``"SqueezeExcite"``) or function name
            (``"add"``, ``"cat"``) for ``functional`` kernels.
        in_shape: shape of the first input, batch included (``()`` if it has none).
        out_shape: shape of the (first) output.
        k: kernel size ``(kh, kw)`` of conv/pool kernels, ``()`` otherwise.
        stride: stride ``(sh, sw)`` of conv/pool kernels, ``()`` otherwise.
        cin, cout: input/output channels (conv) or features (linear); 0 if not applicable.
        groups: conv groups (1 otherwise).
        act: fused activation (lower-case class name, ``"relu6"``) or ``""``.
        extra: whatever else changes the cost, as a sorted tuple (padding, dilation, call
            arguments, a composite block's configuration).
        module: the module to rebuild the kernel from (not part of the key).
        fn: the function of a ``functional`` kernel (not part of the key).
        act_module: the fused activation module (not part of the key).
        call: the recorded ``(args, kwargs)`` with tensors as :class:`TensorSpec`, kept for
            functional and multi-input kernels so :meth:`build` can replay the call.
    """

    kind: str
    op: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    k: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    cin: int = 0
    cout: int = 0
    groups: int = 1
    act: str = ""
    extra: tuple = ()
    module: nn.Module | None = field(default=None, compare=False, repr=False)
    fn: Callable | None = field(default=None, compare=False, repr=False)
    act_module: nn.Module | None = field(default=None, compare=False, repr=False)
    call: Any = field(default=None, compare=False, repr=False)

    def key(self) -> str:
        """A stable string that identifies the kernel's configuration (the table key)."""
        shapes = f"{'x'.join(map(str, self.in_shape))}->{'x'.join(map(str, self.out_shape))}"
        head = f"{self.kind}:{self.op}:{shapes}"
        if self.kind.startswith("conv") or self.kind == "pool":
            head += f":k{'x'.join(map(str, self.k))}:s{'x'.join(map(str, self.stride))}"
        if self.cin or self.cout:
            head += f":c{self.cin}-{self.cout}:g{self.groups}"
        if self.act:
            head += f":{self.act}"
        if self.extra:
            head += ":" + hashlib.sha1(repr(self.extra).encode()).hexdigest()[:10]
        return head

    @property
    def batch(self) -> int:
        return self.in_shape[0] if self.in_shape else 1

    @property
    def macs(self) -> int:
        """Multiply-accumulates of conv/linear/matmul kernels (BN folded); 0 for the others."""
        if self.kind.startswith("conv"):
            return math.prod(self.out_shape) * (self.cin // self.groups) * math.prod(self.k)
        if self.kind == "linear":
            return math.prod(self.out_shape) * self.cin
        if self.kind == "functional" and self.op in ("matmul", "__matmul__", "bmm", "linear"):
            return math.prod(self.out_shape) * (self.in_shape[-1] if self.in_shape else 0)
        return 0

    def features(self) -> dict[str, float]:
        """Numeric features for a per-kind regressor (sizes in elements, MACs)."""
        inn, out = math.prod(self.in_shape) if self.in_shape else 0, math.prod(self.out_shape) if self.out_shape else 0
        return {
            "macs": float(self.macs), "in_numel": float(inn), "out_numel": float(out),
            "k": float(max(self.k, default=0)), "stride": float(max(self.stride, default=0)),
            "cin": float(self.cin), "cout": float(self.cout), "groups": float(self.groups),
            "h_in": float(self.in_shape[-2]) if len(self.in_shape) >= 3 else 1.0,
            "h_out": float(self.out_shape[-2]) if len(self.out_shape) >= 3 else 1.0,
            "params": float(self._params()),
            "has_act": float(bool(self.act)),
        }  # fmt: skip

    def _params(self) -> int:
        if self.kind.startswith("conv") or self.kind == "linear":  # folded: weight and bias
            return self.cout * (self.cin // self.groups) * math.prod(self.k or (1,)) + self.cout
        if self.module is not None:
            return sum(p.numel() for p in self.module.parameters())
        return int(dict(self.extra).get("params", 0)) if _is_pairs(self.extra) else 0

    def to_dict(self) -> dict:
        """JSON-safe fields (modules and functions dropped): what a table file stores."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.compare}
        d["extra"] = repr(self.extra)
        d["params"] = self.features()["params"]
        d["key"] = self.key()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Kernel:
        """A kernel from :meth:`to_dict` (without its module: it cannot be rebuilt, only looked up)."""
        kw = {f.name: d[f.name] for f in fields(cls) if f.compare and f.name in d}
        for name in ("in_shape", "out_shape", "k", "stride"):
            kw[name] = tuple(kw.get(name, ()))
        kw["extra"] = (("params", d.get("params", 0)), ("repr", d.get("extra", "")))
        return _Stored(**kw, stored_key=d["key"]) if "key" in d else cls(**kw)

    def build(self) -> tuple[nn.Module, torch.Tensor]:
        """The kernel stand-alone, in eval mode, with a seeded input of its shape, for timing.

        Raises:
            ValueError: the kernel carries no module or function to rebuild it from (it was
                loaded from a table file), or its fused activation is unknown.
        """
        gen = torch.Generator().manual_seed(0)
        cfg = dict(self.extra) if _is_pairs(self.extra) else {}
        if self.kind.startswith("conv") and self.module is None and "padding" in cfg:
            # BN folded: the deployed conv always has a bias
            core: nn.Module = nn.Conv2d(self.cin, self.cout, self.k, self.stride, cfg["padding"], cfg["dilation"],
                                        self.groups, bias=True, padding_mode=cfg["padding_mode"])  # fmt: skip
        elif self.kind == "linear" and self.module is None and self.op == "Linear":
            core = nn.Linear(self.cin, self.cout)
        elif self.module is not None:
            core = copy.deepcopy(self.module)
        elif self.fn is not None and self.call is not None:
            core = _Call(self.fn, self.call)
        else:
            raise ValueError(f"kernel {self.key()!r} has no module or function to rebuild it from")
        if self.act and self.act_module is None and self.act not in _ACT_CLASSES:
            raise ValueError(f"kernel {self.key()!r}: unknown activation {self.act!r}; valid: {', '.join(_ACT_CLASSES)}")
        if self.act:
            act = copy.deepcopy(self.act_module) if self.act_module is not None else _ACT_CLASSES[self.act]()
            core = nn.Sequential(core, act)
        if self.call is not None and not isinstance(core, _Call):  # several inputs: replay them all
            core = _Call(core, self.call)
        core.eval()  # not chained: some timm modules override train() and return None
        if isinstance(core, _Call):
            return core, core.first_input()
        return core, torch.randn(self.in_shape, generator=gen)


class _Stored(Kernel):
    """A kernel loaded from a table file: its key is the stored one, whatever the key code does."""

    def __init__(self, *, stored_key: str, **kw) -> None:
        super().__init__(**kw)
        object.__setattr__(self, "_stored_key", stored_key)

    def key(self) -> str:
        return self._stored_key


def _is_pairs(extra: tuple) -> bool:
    return all(isinstance(e, tuple) and len(e) == 2 and isinstance(e[0], str) for e in extra)


class _Call(nn.Module):
    """Replays a recorded call with random tensors; the first tensor argument is the input."""

    def __init__(self, fn: Callable, spec: tuple) -> None:
        super().__init__()
        self.fn = fn
        args, kwargs = spec
        gen = torch.Generator().manual_seed(1)
        self.args, self.kwargs = _materialize(args, gen), _materialize(kwargs, gen)
        self._first = _first_path(self.args)

    def first_input(self) -> torch.Tensor:
        if self._first is None:
            return torch.zeros(0)
        t = self.args
        for i in self._first:
            t = t[i]
        return t.clone()

    def forward(self, x: torch.Tensor):
        args = self.args if self._first is None else _replace(self.args, self._first, x)
        return self.fn(*args, **self.kwargs)


def _first_path(args, path=()):
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            return (*path, i)
        if isinstance(a, (tuple, list)):
            p = _first_path(a, (*path, i))
            if p is not None:
                return p
    return None


def _replace(args, path, x):
    i, rest = path[0], path[1:]
    items = list(args)
    items[i] = x if not rest else _replace(items[i], rest, x)
    return type(args)(items) if not isinstance(args, list) else items


def _inplace_free(fn: Callable) -> Callable:
    """The out-of-place twin of an in-place op, so repeated timing never drifts into denormals."""
    name = getattr(fn, "__name__", "")
    if name.startswith("__i") and name.endswith("__"):
        return getattr(torch.Tensor, "__" + name[3:], fn)
    if name.endswith("_") and not name.endswith("__"):
        return getattr(torch.Tensor, name[:-1], fn)
    return fn


def _shape(t: Any) -> tuple[int, ...]:
    s = _first_tensor_spec(_spec(t))
    return s.shape if s is not None else ()


def _classify(module: nn.Module) -> str | None:
    """The kind of a module that is recorded as one kernel, or ``None`` to look inside it."""
    name = type(module).__name__
    if isinstance(module, _FREE) or name in ("DropPath", "NoAttention"):
        return "free"
    if SE_PATTERN.search(name):
        return "se"
    if ATTENTION_PATTERN.search(name) or isinstance(module, nn.MultiheadAttention):
        return "attention"
    if next(module.children(), None) is not None:
        return None
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, _POOLS):
        return "pool"
    if isinstance(module, _NORMS) or name.endswith("Norm2d"):
        return "norm"
    if name.lower() in _ACT_NAMES:
        return "act"
    return "other"


def _conv_kind(c: nn.Conv2d) -> str:
    if c.groups == 1:
        return "conv_pointwise" if tuple(c.kernel_size) == (1, 1) else "conv_dense"
    return "conv_depthwise" if c.groups == c.in_channels else "conv_grouped"


def _pair(v) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


class _Recorder(TorchFunctionMode):
    """Collects kernels in execution order and fuses conv [+BN] [+act] / linear [+act] online."""

    def __init__(self) -> None:
        super().__init__()
        self.kernels: list[Kernel] = []
        self.depth = 0  # > 0 while inside a recorded module: its ops belong to it
        self.pending: Kernel | None = None  # conv/linear that may still absorb BN / activation
        self.pending_out: torch.Tensor | None = None
        self.pending_bn = False

    # -- fusion ------------------------------------------------------------------------------
    def flush(self) -> None:
        if self.pending is not None:
            self.kernels.append(self.pending)
        self.pending, self.pending_out, self.pending_bn = None, None, False

    def _fuses(self, x: Any) -> bool:
        return self.pending is not None and x is self.pending_out

    def add(self, kernel: Kernel, out: Any, *, inp: Any = None, act_module: nn.Module | None = None) -> None:
        """Record ``kernel`` (output ``out``, first input ``inp``), fusing it into the pending conv."""
        is_bn = (kernel.kind == "norm" and isinstance(kernel.module, nn.BatchNorm2d)) or (
            kernel.kind == "functional" and kernel.op == "batch_norm")  # timm's BatchNormAct2d
        if is_bn and self._fuses(inp) and self.pending.kind.startswith("conv") \
                and not self.pending_bn and not self.pending.act:
            self.pending_out, self.pending_bn = out, True  # BN folded into the conv
            return
        if kernel.kind == "act" and self._fuses(inp) and not self.pending.act:
            act = kernel.op.lower().replace("_", "")
            self.pending = dataclasses.replace(self.pending, act=act, act_module=act_module)
            self.pending_out = out
            return
        self.flush()
        if kernel.kind.startswith("conv") or kernel.kind == "linear":
            self.pending, self.pending_out = kernel, out
        else:
            self.kernels.append(kernel)

    # -- functional ops ---------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", str(func))
        if self.depth == 0 and name not in _SKIP_FUNCS and _returns_tensor(out):
            inp = _first_tensor(args)
            call = (_spec(args), _spec(kwargs))
            kind, op = ("act", name.rstrip("_")) if name in _FUNCTIONAL_ACTS else ("functional", name)
            k = Kernel(kind, op, _shape(inp), _shape(out), extra=(("call", repr(call)),), fn=_inplace_free(func),
                       call=call)  # fmt: skip
            self.add(k, out, inp=inp)
        return out


def _returns_tensor(out: Any) -> bool:
    if isinstance(out, torch.Tensor):
        return True
    return isinstance(out, (tuple, list)) and bool(out) and all(isinstance(o, torch.Tensor) for o in out)


def _first_tensor(args: Any) -> torch.Tensor | None:
    for a in args if isinstance(args, (tuple, list)) else (args,):
        if isinstance(a, torch.Tensor):
            return a
        if isinstance(a, (tuple, list)):
            t = _first_tensor(a)
            if t is not None:
                return t
    return None


def _module_kernel(kind: str, module: nn.Module, inp: Any, out: Any) -> Kernel:
    op = type(module).__name__
    if kind == "conv":
        c = module
        pad = c.padding if isinstance(c.padding, str) else _pair(c.padding)
        extra = (("dilation", _pair(c.dilation)), ("padding", pad), ("padding_mode", c.padding_mode))
        # A plain conv is rebuilt from its configuration: no reference to the model's weights
        # (tables over a whole zoo would otherwise keep every model alive); subclasses with a
        # forward of their own (timm's Conv2dSame) are copied.
        return Kernel(_conv_kind(c), op, _shape(inp), _shape(out), _pair(c.kernel_size), _pair(c.stride),
                      c.in_channels, c.out_channels, c.groups, extra=extra,
                      module=None if type(c) is nn.Conv2d else module)  # fmt: skip
    if kind == "linear":
        return Kernel("linear", op, _shape(inp), _shape(out), cin=module.in_features, cout=module.out_features,
                      module=None if type(module) is nn.Linear else module)  # fmt: skip
    if kind == "pool":
        k = getattr(module, "kernel_size", None) or getattr(module, "output_size", ())
        s = getattr(module, "stride", None) or k
        return Kernel("pool", op, _shape(inp), _shape(out), _pair(k) if k else (), _pair(s) if s else (),
                      extra=_config(module), module=module)  # fmt: skip
    return Kernel(kind, op, _shape(inp), _shape(out), extra=_config(module), module=module)


def detect_kernels(model: nn.Module, input_size: tuple[int, ...] | torch.Tensor | None = None, *,
                   batch_size: int = 1) -> list[Kernel]:  # fmt: skip
    """The kernels one forward pass of ``model`` executes, in order, fused as deployed.

    Run it on the deploy form (:func:`workbench.reparameterize_model`) to see the kernels a
    deployed model runs; BN is folded here anyway wherever a conv feeds it directly.

    Args:
        model: any module taking one tensor (zoo, ``timm:`` or torchvision model); it runs once
            in eval mode under ``torch.inference_mode`` and is put back in its previous mode.
        input_size: ``(C, H, W)``, ``(B, C, H, W)`` or an example tensor; default
            ``model.default_input_size``.
        batch_size: batch used when ``input_size`` is ``(C, H, W)``.

    Returns:
        the kernels in execution order (a module called twice appears twice).

    Raises:
        ValueError: ``model`` is not an ``nn.Module`` or ``input_size`` is malformed.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"detect_kernels needs an nn.Module, got {type(model).__name__}")
    x = make_input(model, input_size, batch_size)
    rec = _Recorder()
    handles = []

    def pre(mod, args, kwargs):
        rec.depth += 1

    def make_post(kind: str):
        def post(mod, args, kwargs, out):
            rec.depth -= 1
            if rec.depth == 0 and kind != "free":
                inp = _first_tensor(args) if args else _first_tensor(tuple(kwargs.values()))
                k = _module_kernel(kind, mod, inp, out)
                n_tensors = sum(isinstance(a, torch.Tensor) for a in (*args, *kwargs.values()))
                if n_tensors > 1 or kwargs:  # replay the whole call when timing it alone
                    k = dataclasses.replace(k, call=(_spec(args), _spec(kwargs)))
                rec.add(k, out, inp=inp, act_module=mod if kind == "act" else None)

        return post

    registered: set[int] = set()

    def register(mod: nn.Module) -> None:
        if id(mod) in registered:  # a module shared by two parents is hooked once
            return
        registered.add(id(mod))
        kind = _classify(mod)
        if kind is None:
            for child in mod.children():
                register(child)
            return
        handles.append(mod.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(mod.register_forward_hook(make_post(kind), with_kwargs=True))

    register(model)  # a bare Conv2d or SE block is itself one kernel
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), rec:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    rec.flush()
    return rec.kernels


def kernel_frame(kernels: Sequence[Kernel]) -> pd.DataFrame:  # noqa: F821  (pandas imported lazily)
    """One row per kernel (``Kernel.to_dict()``), in execution order: for listing a model's kernels."""
    import pandas as pd

    return pd.DataFrame([k.to_dict() for k in kernels])
