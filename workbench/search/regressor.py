"""Per-kernel-kind latency regressor, for kernels the lookup table never measured.

nn-Meter fits a random forest per kernel type on kernel features. A forest alone cannot
extrapolate (a conv larger than any it saw is predicted as the largest it saw), so each group
here is a log-log linear model (latency as a power law of MACs, tensor sizes, channels, kernel
size, ...) with a random forest fitted to its residuals: the power law extrapolates, the forest
corrects its curvature inside the measured range. Groups are the kernel kind (functional kernels
by operator: ``functional:add`` and ``functional:cat`` cost differently); a group with too few
samples falls back to one global model with the kind as a one-hot feature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge

from .kernels import KINDS, Kernel

#: Fewer samples than this in a group: use the global model for it.
MIN_GROUP = 6
_FEATURES = ("macs", "in_numel", "out_numel", "k", "stride", "cin", "cout", "groups", "h_in", "h_out", "params",
             "has_act")  # fmt: skip


def _group(k: Kernel) -> str:
    return f"functional:{k.op}" if k.kind == "functional" else k.kind


def _x(kernels: Sequence[Kernel], with_kind: bool = False) -> np.ndarray:
    rows = []
    for k in kernels:
        f = k.features()
        row = [np.log1p(f[n]) for n in _FEATURES]
        if with_kind:
            row += [float(k.kind == kind) for kind in KINDS]
        rows.append(row)
    return np.asarray(rows, dtype=float).reshape(len(rows), -1)


class _PowerLawForest:
    """log(ms) = ridge(log features) + forest residual."""

    def __init__(self, seed: int) -> None:
        self.linear = Ridge(alpha=1e-3)
        self.forest = RandomForestRegressor(n_estimators=60, min_samples_leaf=2, random_state=seed)

    def fit(self, x: np.ndarray, y: np.ndarray) -> _PowerLawForest:
        self.linear.fit(x, y)
        self.forest.fit(x, y - self.linear.predict(x))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.linear.predict(x) + self.forest.predict(x)


class KernelRegressor:
    """Predicts a kernel's latency (ms) from its features; fitted on measured kernels.

    Args:
        min_group: fewest samples a group needs for a model of its own.
        seed: random-forest seed (the fit is deterministic for a given seed).
    """

    def __init__(self, min_group: int = MIN_GROUP, seed: int = 0) -> None:
        self.min_group = min_group
        self.seed = seed
        self.models: dict[str, _PowerLawForest] = {}
        self.global_model: _PowerLawForest | None = None

    def fit(self, kernels: Sequence[Kernel], ms: Sequence[float]) -> KernelRegressor:
        """Fit on measured kernels.

        Raises:
            ValueError: lengths differ, fewer than 2 kernels, or a latency is not positive.
        """
        kernels, y = list(kernels), np.asarray(ms, dtype=float)
        if len(kernels) != len(y):
            raise ValueError(f"{len(kernels)} kernels but {len(y)} latencies")
        if len(kernels) < 2:
            raise ValueError(f"the regressor needs at least 2 measured kernels, got {len(kernels)}")
        if not np.all(np.isfinite(y) & (y > 0)):
            raise ValueError("kernel latencies must be finite and > 0 ms")
        logy = np.log(y)
        self.global_model = _PowerLawForest(self.seed).fit(_x(kernels, with_kind=True), logy)
        groups: dict[str, list[int]] = {}
        for i, k in enumerate(kernels):
            groups.setdefault(_group(k), []).append(i)
        self.models = {
            g: _PowerLawForest(self.seed).fit(_x([kernels[i] for i in idx]), logy[idx])
            for g, idx in groups.items() if len(idx) >= self.min_group
        }  # fmt: skip
        return self

    def predict(self, kernels: Sequence[Kernel]) -> np.ndarray:
        """Predicted ms per kernel.

        Raises:
            ValueError: the regressor is not fitted.
        """
        if self.global_model is None:
            raise ValueError("KernelRegressor is not fitted; call fit(kernels, ms) first")
        kernels = list(kernels)
        out = np.empty(len(kernels))
        if not kernels:
            return out
        by_group: dict[str, list[int]] = {}
        for i, k in enumerate(kernels):
            by_group.setdefault(_group(k) if _group(k) in self.models else "", []).append(i)
        for g, idx in by_group.items():
            sub = [kernels[i] for i in idx]
            pred = self.models[g].predict(_x(sub)) if g else self.global_model.predict(_x(sub, with_kind=True))
            out[idx] = np.exp(pred)
        return out
