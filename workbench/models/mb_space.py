"""A MobileNetV2-like search space as data: :class:`MBArch`, its choices :class:`MBSpace`, the builder.

The space of ProxylessNAS (Cai et al., ICLR 2019) and Once-for-All (Cai et al., ICLR 2020), on
MobileNetV2's macro-architecture (Sandler et al., CVPR 2018): a 3x3/2 stem conv, one fixed
expansion-1 block (depthwise 3x3 -> linear 1x1), then stages of inverted residuals whose
**depth** (blocks per stage) and, per block, **kernel** (3, 5, 7) and **expansion** (3, 4, 6)
are searched, while each stage's width and stride are fixed; a 1x1 conv head, pooling, FC.
ReLU6 throughout, no SE, residual on every stride-1 block whose width does not change.

* :class:`MBStage` / :class:`MBArch` -- one network of the space (frozen, hashable, with a stable
  string :meth:`MBArch.key` that round-trips through :meth:`MBArch.from_key`, so bank entries
  and result tables can name it).
* :class:`MBSpace` -- the choices (depths per stage, kernels, expansions, widths, strides);
  :meth:`MBArch.sample` and :meth:`MBArch.mutate` draw from it (random and evolutionary search).
* ``create_model('mbv2_space', arch=...)`` builds any :class:`MBArch` (or its key) as a
  :class:`~workbench.models.mobilenet.MobileNet`; the default arch is MobileNetV2 1.0 itself
  (same tensors as ``mobilenetv2_100``). :mod:`workbench.models.nas_zoo` writes
  ProxylessNAS-mobile and two Once-for-All subnets as :class:`MBArch` values.

Width multipliers are not part of the arch: ``create_model(..., width_mult=0.5)`` scales stem,
stages and (above 1.0) head as for MobileNetV2.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ._factory import register_model
from .mobilenet import MobileNet, MobileSpec, R, stage_table

__all__ = [
    "EXPANSIONS", "KERNELS", "MOBILENETV2_ARCH", "PROXYLESS_SPACE", "MBArch", "MBSpace", "MBStage",
    "create_mbnet", "mb_spec", "mbv2_space",
]  # fmt: skip

#: kernel sizes of the depthwise convs a block may use
KERNELS = (3, 5, 7)
#: expansion ratios of an inverted residual a block may use
EXPANSIONS = (3, 4, 6)

Rng = np.random.Generator | int


def _ints(name: str, values, valid: tuple[int, ...] | None = None) -> tuple[int, ...]:
    if not isinstance(values, tuple | list):
        raise ValueError(f"{name}s must be a tuple or list (one per block/stage), got {values!r}")
    out = tuple(values)
    for v in out:
        if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or (valid and v not in valid):
            choices = ", ".join(map(str, valid)) if valid else "positive integers"
            raise ValueError(f"{name} {v!r} is not valid; valid: {choices}")
    return tuple(int(v) for v in out)


def _positive(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    return v


@dataclass(frozen=True)
class MBStage:
    """One stage: ``depth`` inverted residuals of ``width`` output channels at width 1.0.

    Attributes:
        width: output channels of every block (scaled by ``width_mult`` when built).
        stride: stride of the first block (1 or 2); the others use 1.
        kernels: depthwise kernel of each block, from :data:`KERNELS`; its length is the depth.
        expansions: expansion ratio of each block, from :data:`EXPANSIONS`, same length.

    Raises:
        ValueError: a kernel, expansion, stride or width outside the space, or ``kernels`` and
            ``expansions`` of different lengths (the message names the valid choices).
    """

    width: int
    stride: int
    kernels: tuple[int, ...]
    expansions: tuple[int, ...]

    def __post_init__(self) -> None:
        _positive("MBStage width", self.width)
        if self.stride not in (1, 2):
            raise ValueError(f"MBStage stride {self.stride!r} is not valid; valid: 1, 2")
        object.__setattr__(self, "kernels", _ints("MBStage kernel", self.kernels, KERNELS))
        object.__setattr__(self, "expansions", _ints("MBStage expansion", self.expansions, EXPANSIONS))
        if not self.kernels or len(self.kernels) != len(self.expansions):
            raise ValueError(
                f"MBStage needs one kernel and one expansion per block (depth >= 1), got "
                f"{len(self.kernels)} kernels and {len(self.expansions)} expansions"
            )

    @property
    def depth(self) -> int:
        """Number of blocks."""
        return len(self.kernels)

    @classmethod
    def uniform(cls, c: int, depth: int, stride: int, kernel: int = 3, expansion: int = 6) -> MBStage:
        """``depth`` identical blocks of ``c`` channels (MobileNetV2's rows: one ``t, c, n, s`` line)."""
        _positive("MBStage depth", depth)
        return cls(c, stride, (kernel,) * depth, (expansion,) * depth)

    def key(self) -> str:
        """``'<width>s<stride>:k<k>e<e>,...'``, e.g. ``'24s2:k3e6,k5e3'``."""
        return f"{self.width}s{self.stride}:" + ",".join(f"k{k}e{e}" for k, e in zip(self.kernels, self.expansions, strict=True))


_STAGE_RE = re.compile(r"(\d+)s(\d+):((?:k\d+e\d+,)*k\d+e\d+)")
_HEAD_RE = re.compile(r"stem(\d+)>(\d+)")
_KEY_FORM = "'stem<c>><c>|<width>s<stride>:k<k>e<e>,...|...|head<c>'"


@dataclass(frozen=True)
class MBArch:
    """One network of the MobileNetV2-like space (at width 1.0).

    Attributes:
        stages: the searched stages (:class:`MBStage`), in order.
        stem: output channels of the 3x3/2 stem conv.
        first: output channels of the fixed expansion-1 block after the stem (no residual).
        head: output channels of the 1x1 head conv before pooling.

    Raises:
        ValueError: no stages, or a stem/first/head width that is not an integer >= 1.
    """

    stages: tuple[MBStage, ...]
    stem: int = 32
    first: int = 16
    head: int = 1280

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages or not all(isinstance(s, MBStage) for s in self.stages):
            raise ValueError(f"MBArch needs a non-empty sequence of MBStage, got {self.stages!r}")
        for name in ("stem", "first", "head"):
            _positive(f"MBArch {name}", getattr(self, name))

    @property
    def depths(self) -> tuple[int, ...]:
        """Blocks per stage."""
        return tuple(s.depth for s in self.stages)

    def key(self) -> str:
        """Stable string naming the architecture, e.g. ``'stem32>16|24s2:k3e6,k3e6|...|head1280'``.

        Equal archs have equal keys and :meth:`from_key` rebuilds the arch; use it as the
        ``arch=`` argument of bank entries (JSON-friendly).
        """
        return "|".join([f"stem{self.stem}>{self.first}", *(s.key() for s in self.stages), f"head{self.head}"])

    @classmethod
    def from_key(cls, key: str) -> MBArch:
        """The arch :meth:`key` names.

        Raises:
            ValueError: ``key`` is not of the form :meth:`key` writes (the message shows it).
        """
        parts = key.split("|") if isinstance(key, str) else []
        m = _HEAD_RE.fullmatch(parts[0]) if len(parts) >= 3 else None
        h = re.fullmatch(r"head(\d+)", parts[-1]) if m else None
        stages = [_STAGE_RE.fullmatch(p) for p in parts[1:-1]] if h else [None]
        if not all(stages):
            raise ValueError(f"not an MBArch key: {key!r}; expected {_KEY_FORM}")
        out = []
        for s in stages:
            blocks = [b[1:].split("e") for b in s[3].split(",")]
            out.append(MBStage(int(s[1]), int(s[2]), tuple(int(k) for k, _ in blocks), tuple(int(e) for _, e in blocks)))
        return cls(tuple(out), int(m[1]), int(m[2]), int(h[1]))

    def kwargs(self) -> dict:
        """``create_model('mbv2_space', **arch.kwargs())`` arguments (a JSON-friendly bank key)."""
        return {"arch": self.key()}

    @classmethod
    def sample(cls, rng: Rng, space: MBSpace | None = None) -> MBArch:
        """A random member of ``space``: each stage's depth, then each block's kernel and expansion, uniform.

        Args:
            rng: a ``numpy.random.Generator`` or an integer seed (same seed, same arch).
            space: the choices; default :class:`MBSpace()`, the MobileNetV2-like space.
        """
        space = space or MBSpace()
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        stages = []
        for width, stride, depths in zip(space.widths, space.strides, space.depths, strict=True):
            d = _pick(rng, depths)
            stages.append(MBStage(width, stride, tuple(_pick(rng, space.kernels) for _ in range(d)),
                                  tuple(_pick(rng, space.expansions) for _ in range(d))))  # fmt: skip
        return cls(tuple(stages), space.stem, space.first, space.head)

    def mutate(self, rng: Rng, prob: float = 0.1, space: MBSpace | None = None) -> MBArch:
        """A neighbour for evolutionary search (OFA's mutation): each gene changes with probability ``prob``.

        The genes are each stage's depth and each block's kernel and expansion; a gene that
        mutates takes a *different* value from ``space``'s choices (so ``prob=1`` changes every
        gene that has an alternative). A stage that grows gets random new blocks at its end; one
        that shrinks loses its last blocks. Widths, strides, stem and head are kept.

        Args:
            rng: a ``numpy.random.Generator`` or an integer seed.
            prob: mutation probability per gene, in [0, 1].
            space: the choices (default :class:`MBSpace()`); it must have as many stages as this arch.

        Raises:
            ValueError: ``prob`` outside [0, 1], or ``space`` with another number of stages.
        """
        space = space or MBSpace()
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob!r}")
        if len(space.depths) != len(self.stages):
            raise ValueError(f"space has {len(space.depths)} stages, the arch has {len(self.stages)}")
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        stages = []
        for st, depths in zip(self.stages, space.depths, strict=True):
            d = _flip(rng, prob, st.depth, depths)
            ks = [*st.kernels[:d], *(_pick(rng, space.kernels) for _ in range(d - st.depth))]
            es = [*st.expansions[:d], *(_pick(rng, space.expansions) for _ in range(d - st.depth))]
            ks = tuple(_flip(rng, prob, k, space.kernels) for k in ks)
            es = tuple(_flip(rng, prob, e, space.expansions) for e in es)
            stages.append(MBStage(st.width, st.stride, ks, es))
        return MBArch(tuple(stages), self.stem, self.first, self.head)


    def crossover(self, other: MBArch, rng: Rng) -> MBArch:
        """A child of two archs of the same space (OFA's crossover): every gene from either parent.

        Each stage takes its depth from one parent at random; each of its blocks takes its
        kernel and its expansion independently from one parent (from the deeper parent where
        only that one has the block).

        Args:
            other: the second parent; same widths, strides, stem and head.
            rng: a ``numpy.random.Generator`` or an integer seed.

        Raises:
            ValueError: the parents differ outside the searched genes.
        """
        fixed = [(s.width, s.stride) for s in self.stages], (self.stem, self.first, self.head)
        if fixed != ([(s.width, s.stride) for s in other.stages], (other.stem, other.first, other.head)):
            raise ValueError(f"crossover needs archs of the same space; got {self.key()!r} and {other.key()!r}")
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        stages = []
        for a, b in zip(self.stages, other.stages, strict=True):
            d = (a, b)[int(rng.integers(2))].depth
            genes = []
            for j in range(d):
                both = [p for p in (a, b) if j < p.depth]
                genes.append((both[int(rng.integers(len(both)))].kernels[j], both[int(rng.integers(len(both)))].expansions[j]))
            stages.append(MBStage(a.width, a.stride, tuple(k for k, _ in genes), tuple(e for _, e in genes)))
        return MBArch(tuple(stages), self.stem, self.first, self.head)


def _pick(rng: np.random.Generator, choices: tuple[int, ...]) -> int:
    return int(choices[int(rng.integers(len(choices)))])


def _flip(rng: np.random.Generator, prob: float, value: int, choices: tuple[int, ...]) -> int:
    # one draw per gene whatever happens, so the stream (and the result) depends only on the seed
    # and the gene positions, not on which earlier genes had alternatives
    u = rng.random()
    others = tuple(c for c in choices if c != value)
    return _pick(rng, others) if u < prob and others else value


@dataclass(frozen=True)
class MBSpace:
    """The choices of a MobileNetV2-like search space (defaults: MobileNetV2's stages, OFA's choices).

    Attributes:
        widths: output channels per stage (fixed).
        strides: stride of each stage's first block (fixed).
        depths: allowed depths per stage; default 2-4 for the five inner stages (OFA) and 1
            for the last (MobileNetV2's single 320-channel block).
        kernels: allowed depthwise kernels, a subset of :data:`KERNELS`.
        expansions: allowed expansion ratios, a subset of :data:`EXPANSIONS`.
        stem, first, head: the fixed widths (see :class:`MBArch`).

    MobileNetV2 1.0 (:data:`MOBILENETV2_ARCH`) is a member of the default space.

    Raises:
        ValueError: per-stage tuples of different lengths, or a choice outside the valid ones.
    """

    widths: tuple[int, ...] = (24, 32, 64, 96, 160, 320)
    strides: tuple[int, ...] = (2, 2, 2, 1, 2, 1)
    depths: tuple[tuple[int, ...], ...] = ((2, 3, 4),) * 5 + ((1,),)
    kernels: tuple[int, ...] = KERNELS
    expansions: tuple[int, ...] = EXPANSIONS
    stem: int = 32
    first: int = 16
    head: int = 1280

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "widths", _ints("MBSpace width", self.widths))
        set_(self, "strides", _ints("MBSpace stride", self.strides, (1, 2)))
        set_(self, "depths", tuple(_ints("MBSpace depth", d) for d in self.depths))
        set_(self, "kernels", _ints("MBSpace kernel", self.kernels, KERNELS))
        set_(self, "expansions", _ints("MBSpace expansion", self.expansions, EXPANSIONS))
        n = len(self.widths)
        if not n or len(self.strides) != n or len(self.depths) != n:
            raise ValueError(
                f"MBSpace needs one width, stride and depth choice per stage, got {n} widths, "
                f"{len(self.strides)} strides, {len(self.depths)} depth choices"
            )
        if not self.kernels or not self.expansions or not all(d and min(d) >= 1 for d in self.depths):
            raise ValueError("MBSpace needs at least one kernel, one expansion and depths >= 1 per stage")

    def contains(self, arch: MBArch) -> bool:
        """Whether ``arch`` is a member: same fixed widths/strides/stem/head, every choice allowed."""
        if (arch.stem, arch.first, arch.head) != (self.stem, self.first, self.head):
            return False
        if len(arch.stages) != len(self.widths):
            return False
        return all(
            (s.width, s.stride) == (w, st) and s.depth in d
            and set(s.kernels) <= set(self.kernels) and set(s.expansions) <= set(self.expansions)
            for s, w, st, d in zip(arch.stages, self.widths, self.strides, self.depths, strict=True)
        )  # fmt: skip

    def size(self) -> int:
        """Number of distinct architectures in the space."""
        per_block = len(self.kernels) * len(self.expansions)
        return math.prod(sum(per_block**d for d in depths) for depths in self.depths)

    def largest(self) -> MBArch:
        """The member with the largest kernel, expansion and depth everywhere (a supernet's shape)."""
        return self._uniform(max)

    def smallest(self) -> MBArch:
        """The member with the smallest kernel, expansion and depth everywhere."""
        return self._uniform(min)

    def _uniform(self, pick) -> MBArch:
        stages = [
            MBStage.uniform(w, pick(d), s, pick(self.kernels), pick(self.expansions))
            for w, s, d in zip(self.widths, self.strides, self.depths, strict=True)
        ]
        return MBArch(tuple(stages), self.stem, self.first, self.head)


def mb_spec(arch: MBArch, act: str = "relu6") -> MobileSpec:
    """The :class:`~workbench.models.mobilenet.MobileSpec` that builds ``arch`` (one row per block)."""
    rows = [
        [R("ir", k, st.stride if j == 0 else 1, st.width, e=e) for j, (k, e) in enumerate(zip(st.kernels, st.expansions, strict=True))]
        for st in arch.stages
    ]
    return MobileSpec(
        stages=stage_table([R("ds", 3, 1, arch.first, skip=False)], *rows),
        stem_chs=arch.stem,
        head_chs=arch.head,
        head="conv",
        head_scaling="grow",  # MobileNetV2 Sec. 6.1; ProxylessNAS-mobile 1.4 has the same 1792 head
        act=act,
    )


def create_mbnet(arch: MBArch | str, **kwargs) -> MobileNet:
    """Build ``arch`` (an :class:`MBArch` or its :meth:`~MBArch.key`); ``kwargs`` as for ``MobileNet``."""
    if isinstance(arch, str):
        arch = MBArch.from_key(arch)
    if not isinstance(arch, MBArch):
        raise ValueError(f"arch must be an MBArch or its key string, got {type(arch).__name__}")
    return MobileNet(mb_spec(arch), **kwargs)


#: MobileNetV2 1.0 (Table 2) as a member of the space: every block k3 e6.
MOBILENETV2_ARCH = MBArch(
    (
        MBStage.uniform(24, 2, 2),
        MBStage.uniform(32, 3, 2),
        MBStage.uniform(64, 4, 2),
        MBStage.uniform(96, 3, 1),
        MBStage.uniform(160, 3, 2),
        MBStage.uniform(320, 1, 1),
    )
)

#: The search space of ProxylessNAS and OFA's ProxylessNAS-based supernet (Cai et al. 2019,
#: 2020): MobileNetV2's strides and depth choices, stage widths 24, 40, 80, 96, 192, 320 at 1.0.
#: OFA trains it at ``width_mult=1.3`` (``ofa_proxyless_d234_e346_k357_w1.3``).
PROXYLESS_SPACE = MBSpace(widths=(24, 40, 80, 96, 192, 320))

_PROXYLESS = "Cai et al., ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware, ICLR 2019"


@register_model(paper=_PROXYLESS, tags=("mobile_cnn", "nas"))
def mbv2_space(arch: MBArch | str | None = None, **kwargs) -> MobileNet:
    """Any network of the MobileNetV2-like search space; default MobileNetV2 1.0 (``MOBILENETV2_ARCH``).

    Args:
        arch: an :class:`MBArch` or its key string (bank entries); ``None`` = MobileNetV2 1.0.
        **kwargs: ``MobileNet`` options (``num_classes``, ``in_chans``, ``width_mult``,
            ``small_input``, ``act``, ``drop_rate``).
    """
    return create_mbnet(MOBILENETV2_ARCH if arch is None else arch, **kwargs)
