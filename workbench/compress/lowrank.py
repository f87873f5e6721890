"""Low-rank factorization: replace a dense layer by two thin ones through a truncated SVD.

A linear layer $W \\in \\mathbb{R}^{m \\times n}$ (or a 1x1 conv, the same matrix applied at every
pixel) is replaced by $W \\approx U_r (\\Sigma_r V_r^T)$: two layers with $r(m + n)$ weights
instead of $mn$, a saving only when $r < mn / (m + n)$. The best rank-$r$ approximation in the
Frobenius norm is the truncated SVD (Eckart-Young), with error $\\sqrt{\\sum_{i > r} \\sigma_i^2}$.

Ranks are chosen either **uniformly** (the same fraction of every layer's full rank) or **per
layer** from the singular-value *energy*: the smallest $r$ with
$\\sum_{i \\le r} \\sigma_i^2 \\ge e \\sum_i \\sigma_i^2$ (layers with a fast-decaying spectrum get
small ranks, as WeLore observes in LLMs). Layers where the chosen rank would not save weights
are left dense.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    import pandas as pd

RANK_RULES = ("uniform", "energy")


@dataclass(frozen=True)
class Factorized:
    """What :func:`factorize` did to one layer.

    Attributes:
        name: module name.
        shape: ``(out, in)`` of the weight matrix.
        full_rank: ``min(out, in)``.
        rank: kept rank (``full_rank`` when left dense).
        energy: fraction of the squared singular values kept.
        factorized: True when the layer was replaced.
    """

    name: str
    shape: tuple[int, int]
    full_rank: int
    rank: int
    energy: float
    factorized: bool


def _is_target(m: nn.Module) -> bool:
    if isinstance(m, nn.Linear):
        return True
    return isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.groups == 1 and m.stride == (1, 1) and m.padding == (0, 0)


def _matrix(m: nn.Module) -> torch.Tensor:
    return m.weight.detach().reshape(m.weight.shape[0], -1).float()


def _choose_rank(s: torch.Tensor, rule: str, value: float) -> int:
    if rule == "uniform":
        return max(1, round(value * len(s)))
    energy = (s**2).cumsum(0) / (s**2).sum()
    return int((energy < value).sum()) + 1 if value < 1 else len(s)


def _split(m: nn.Module, u: torch.Tensor, v: torch.Tensor) -> nn.Sequential:
    r = u.shape[1]
    bias = m.bias is not None
    if isinstance(m, nn.Linear):
        a, b = nn.Linear(m.in_features, r, bias=False), nn.Linear(r, m.out_features, bias=bias)
        a.weight.data, b.weight.data = v.clone(), u.clone()
    else:
        a, b = nn.Conv2d(m.in_channels, r, 1, bias=False), nn.Conv2d(r, m.out_channels, 1, bias=bias)
        a.weight.data, b.weight.data = v[:, :, None, None].clone(), u[:, :, None, None].clone()
    if bias:
        b.bias.data = m.bias.detach().clone()
    return nn.Sequential(a, b)


def factorize(
    model: nn.Module,
    rule: str = "energy",
    value: float = 0.9,
    *,
    skip: Sequence[str] = (),
    min_size: int = 0,
    inplace: bool = False,
) -> tuple[nn.Module, list[Factorized]]:
    """Replace linear and 1x1-conv layers by rank-``r`` pairs from a truncated SVD.

    Args:
        model: any model (read only unless ``inplace``).
        rule: ``"uniform"`` (``value`` = kept fraction of each layer's full rank) or
            ``"energy"`` (``value`` = kept fraction of the squared singular values, per layer).
        value: in (0, 1].
        skip: module names left dense.
        min_size: leave layers with fewer weights than this dense (tiny layers gain nothing).
        inplace: modify ``model`` itself.

    Returns:
        ``(new model, one Factorized per candidate layer)``. A factorized layer becomes an
        ``nn.Sequential(A, B)`` of two layers of the same kind (``A``: in -> r, no bias; ``B``:
        r -> out with the original bias).

    Raises:
        ValueError: an unknown rule or ``value`` outside (0, 1], or no linear / 1x1 conv layer.
    """
    if rule not in RANK_RULES:
        raise ValueError(f"unknown rank rule {rule!r}; valid: {', '.join(RANK_RULES)}")
    if not 0 < value <= 1:
        raise ValueError(f"value must be in (0, 1], got {value!r}")
    m = model if inplace else copy.deepcopy(model)
    targets = [(n, x) for n, x in m.named_modules() if _is_target(x) and n not in skip and x.weight.numel() >= min_size]
    if not targets:
        raise ValueError("no layer to factorize; supported: nn.Linear and 1x1 nn.Conv2d (groups=1, stride 1, no padding)")
    report = []
    for name, layer in targets:
        w = _matrix(layer)
        u, s, vh = torch.linalg.svd(w, full_matrices=False)
        r = min(_choose_rank(s, rule, value), len(s))
        out_f, in_f = w.shape
        saves = r * (out_f + in_f) < out_f * in_f
        kept = float((s[:r] ** 2).sum() / (s**2).sum()) if saves else 1.0
        report.append(Factorized(name, (out_f, in_f), len(s), r if saves else len(s), kept, saves))
        if not saves:
            continue
        root = s[:r].sqrt()  # split sigma evenly: both factors get similar scales for fine-tuning
        new = _split(layer, u[:, :r] * root, root[:, None] * vh[:r]).to(layer.weight.dtype)
        parent_name, _, child = name.rpartition(".")
        setattr(m.get_submodule(parent_name) if parent_name else m, child, new)
    return m, report


def _weights_at(spectra, rule: str, value: float) -> int:
    total = 0
    for (out_f, in_f), s in spectra:
        r = min(_choose_rank(s, rule, value), len(s))
        total += min(r * (out_f + in_f), out_f * in_f)
    return total


def rank_for_params(model: nn.Module, target_ratio: float, *, skip: Sequence[str] = (), min_size: int = 0) -> float:
    """The energy threshold whose per-layer ranks give about the same weights as a uniform rank
    ratio of ``target_ratio``, so the two rules are compared at equal parameters.

    Returns:
        the energy value in (0, 1] (bisection, 30 steps, over the candidate layers' spectra).
    """
    spectra = []
    for n, x in model.named_modules():
        if _is_target(x) and n not in skip and x.weight.numel() >= min_size:
            w = _matrix(x)
            spectra.append((tuple(w.shape), torch.linalg.svdvals(w)))
    if not spectra:
        raise ValueError("no layer to factorize; supported: nn.Linear and 1x1 nn.Conv2d (groups=1, stride 1, no padding)")
    want = _weights_at(spectra, "uniform", target_ratio)
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _weights_at(spectra, "energy", mid) < want else (lo, mid)
    return hi


def rank_table(**reports: list[Factorized]) -> pd.DataFrame:
    """Per-layer ranks side by side: ``rank_table(uniform=rep_u, energy=rep_e)`` gives one row per
    candidate layer with ``name, out, in, full_rank`` and ``<rule>_rank``, ``<rule>_energy`` columns
    (a layer left dense shows its full rank and energy 1)."""
    import pandas as pd

    if not reports:
        raise ValueError("rank_table needs at least one report, e.g. rank_table(uniform=report)")
    first = next(iter(reports.values()))
    t = pd.DataFrame({"name": [f.name for f in first], "out": [f.shape[0] for f in first],
                      "in": [f.shape[1] for f in first], "full_rank": [f.full_rank for f in first]})  # fmt: skip
    for rule, rep in reports.items():
        t[f"{rule}_rank"] = [f.rank for f in rep]
        t[f"{rule}_energy"] = [round(f.energy, 4) for f in rep]
    return t
