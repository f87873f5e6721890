"""Latency predictors for this machine, behind one interface, and how to score them.

Three methods (:data:`METHODS`):

* ``"lut"`` -- the sum of the lookup-table entries of the kernels the model runs (FBNet and
  ProxylessNAS sum per-block tables; nn-Meter per-kernel ones, fusion-aware). A kernel the table
  lacks is measured on the spot (``measure_missing=True``) or predicted by the regressor.
* ``"macs"`` -- ``latency = a * MACs + b``, least squares on the training models: the baseline
  that the cost-model notebook shows mispredicting CPU latency.
* ``"regressor"`` -- the sum of per-kernel predictions of a
  :class:`~workbench.search.regressor.KernelRegressor` fitted on the table's kernels: no
  measurement at all for an unseen model.

Kernel sums miss what happens between kernels (Python dispatch of the model's own modules,
cache misses when one kernel's output streams into the next, where timing a kernel alone keeps
its input hot), so ``overhead`` maps the sum ``S`` to the model's latency with terms fitted on
the training models: ``"none"`` (``S``), ``"constant"`` (``S + b``, ``b`` the median residual),
``"linear"`` (``a * S + b``, least squares; the default) or ``"per_kernel"`` (``a * S + c * n + b``
with ``n`` the number of kernels: a per-call cost, as timing a kernel alone adds one module call
that a functional op inside a model does not pay). The fitted terms are in
:attr:`LatencyPredictor.overhead_terms`.

Scores (:func:`predictor_report`): share of models within +-10 % and +-5 %, RMSE and Spearman
rank correlation, as nn-Meter reports them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..layers import reparameterize_model
from ..measure._inputs import make_input
from ..measure.latency import compare_latency, num_threads
from ..measure.macs import count_macs
from ..models import create_model
from .kernels import Kernel, detect_kernels
from .regressor import KernelRegressor
from .table import LatencyTable, Timer

METHODS = ("lut", "macs", "regressor")
OVERHEADS = ("none", "constant", "linear", "per_kernel")


@dataclass(frozen=True)
class ModelInfo:
    """What the predictors need from one model: its kernels (deploy form) and MACs.

    Attributes:
        kernels: :func:`~workbench.search.kernels.detect_kernels` of the deploy form.
        macs: multiply-accumulates of the deploy form (:func:`workbench.count_macs`; a
            re-parameterized MobileOne runs far fewer than its train form), or ``None``.
    """

    kernels: tuple[Kernel, ...]
    macs: int | None = None


def model_info(model: nn.Module | str, input_size=None, *, batch_size: int = 1, macs: bool = True,
               deploy: bool = True) -> ModelInfo:  # fmt: skip
    """Kernels (and MACs) of ``model``, in deploy form, at ``input_size``.

    Args:
        model: a module or a registry name (``"mobilenetv2_100"``, ``"timm:spnasnet_100"``).
        input_size: ``(C, H, W)``; default ``model.default_input_size``.
        batch_size: batch of the kernels (must match the table's).
        macs: also count MACs (fvcore tracing, up to seconds for a large model).
        deploy: fold BN and re-parameterize (:func:`workbench.reparameterize_model`) first, as
            the latency to predict is that of the deployed model.
    """
    m = create_model(model) if isinstance(model, str) else model
    if not isinstance(m, nn.Module):
        raise ValueError(f"model must be an nn.Module or a registry name, got {type(model).__name__}")
    x = make_input(m, input_size, batch_size)
    folded = reparameterize_model(m) if deploy else m
    kernels = tuple(detect_kernels(folded, x))
    return ModelInfo(kernels, int(count_macs(folded, x).macs) if macs else None)  # MACs deployed


def _as_info(obj, input_size, batch_size: int, need_macs: bool) -> ModelInfo:
    if isinstance(obj, ModelInfo):
        if need_macs and obj.macs is None:
            return ModelInfo(obj.kernels, sum(k.macs for k in obj.kernels))
        return obj
    if isinstance(obj, (list, tuple)) and all(isinstance(k, Kernel) for k in obj):
        return ModelInfo(tuple(obj), sum(k.macs for k in obj))  # kernel lists: MACs of their convs/linears
    return model_info(obj, input_size, batch_size=batch_size, macs=need_macs)


def _named(models) -> dict[str, object]:
    if isinstance(models, Mapping):
        return dict(models)
    out = {}
    for i, m in enumerate(models):
        name = m if isinstance(m, str) else getattr(m, "registry_name", None) or f"model{i}"
        out[name] = m
    return out


class LatencyPredictor:
    """Predicts a model's latency (ms per batch) on this machine; see the module docstring.

    Args:
        method: one of :data:`METHODS`.
        table: the :class:`LatencyTable` (required for ``"lut"`` and ``"regressor"``).
        overhead: one of :data:`OVERHEADS` (ignored by ``"macs"``, which has its own intercept).
        measure_missing: ``"lut"`` only: time kernels the table lacks (with ``timer``) and add
            them to the table, instead of predicting them with the regressor.
        timer: ``timer(module, x) -> ms`` for ``measure_missing``; default the real timer.
        batch_size: batch of the predicted latency (must equal the table's).

    Raises:
        ValueError: unknown ``method``/``overhead``, or no table where one is needed.
    """

    def __init__(self, method: str = "lut", table: LatencyTable | None = None, *, overhead: str = "linear",
                 measure_missing: bool = False, timer: Timer | None = None, batch_size: int = 1) -> None:  # fmt: skip
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
        if overhead not in OVERHEADS:
            raise ValueError(f"unknown overhead {overhead!r}; valid: {', '.join(OVERHEADS)}")
        if method != "macs" and table is None:
            raise ValueError(f"method {method!r} needs a LatencyTable (LatencyTable.build(...))")
        if table is not None and table.batch != batch_size:
            raise ValueError(f"batch_size {batch_size} differs from the table's batch {table.batch}")
        self.method, self.table, self.overhead = method, table, overhead
        self.measure_missing, self.timer, self.batch_size = measure_missing, timer, batch_size
        self.regressor: KernelRegressor | None = None
        self.overhead_terms: dict[str, float] = {"scale": 1.0, "per_kernel_ms": 0.0, "intercept_ms": 0.0}
        self.macs_fit: dict[str, float] | None = None
        self.fitted = False
        if method == "regressor":  # trained now, on the table as it is: later additions stay unseen
            self._regressor()

    # -- kernel level -----------------------------------------------------------------------
    def _regressor(self) -> KernelRegressor:
        if self.regressor is None:
            ks = [k for key, k in self.table.kernels.items() if key in self.table.entries]
            self.regressor = KernelRegressor().fit(ks, [self.table.entries[k.key()] for k in ks])
        return self.regressor

    def kernel_ms(self, kernels: Sequence[Kernel]) -> pd.DataFrame:
        """Per-kernel milliseconds and where each came from (``table``/``measured``/``regressor``)."""
        kernels = list(kernels)
        if self.method == "regressor":
            ms, src = list(self._regressor().predict(kernels)), ["regressor"] * len(kernels)
        elif self.method == "lut":
            missing = self.table.missing(kernels)
            measured = set()
            if missing and self.measure_missing:
                self.table.measure(missing, timer=self.timer)
                if self.table.path is not None:
                    self.table.save()
                measured = {k.key() for k in missing}
                missing = []
            guess = dict(zip((k.key() for k in missing), self._regressor().predict(missing), strict=True)) \
                if missing else {}  # fmt: skip
            ms, src = [], []
            for k in kernels:
                key = k.key()
                if key in guess:
                    ms.append(float(guess[key]))
                    src.append("regressor")
                else:
                    ms.append(self.table[key])
                    src.append("measured" if key in measured else "table")
        else:
            raise ValueError("kernel_ms is defined for the 'lut' and 'regressor' methods only")
        return pd.DataFrame({"key": [k.key() for k in kernels], "kind": [k.kind for k in kernels],
                             "op": [k.op for k in kernels], "ms": ms, "source": src})  # fmt: skip

    def _raw(self, info: ModelInfo) -> float:
        """The uncorrected estimate: MACs for ``"macs"``, the kernel sum otherwise."""
        if self.method == "macs":
            return float(info.macs)
        return math.fsum(self.kernel_ms(info.kernels)["ms"])

    # -- model level --------------------------------------------------------------------------
    def fit(self, models, measured, input_size=None) -> LatencyPredictor:
        """Fit the overhead terms (or the MACs line) on models with measured latencies.

        Args:
            models: ``{name: model}`` or a sequence; a model is an ``nn.Module``, a registry
                name, a :class:`ModelInfo` or a list of kernels.
            measured: ``{name: ms}`` with the same names, or a sequence aligned with ``models``.
            input_size: ``(C, H, W)`` for modules and names; default their ``default_input_size``.

        Raises:
            ValueError: names or lengths do not match, a latency is not positive, or too few
                models for the fit (``"macs"`` and ``"linear"`` need 2).
        """
        named = _named(models)
        if isinstance(measured, Mapping):
            extra = set(named) ^ set(measured)
            if extra:
                raise ValueError(f"models and measured differ in names: {sorted(extra)}")
            y = np.array([float(measured[n]) for n in named])
        else:
            y = np.asarray(list(measured), dtype=float)
            if len(y) != len(named):
                raise ValueError(f"{len(named)} models but {len(y)} measured latencies")
        if not np.all(np.isfinite(y) & (y > 0)):
            raise ValueError("measured latencies must be finite and > 0 ms")
        mode = "linear" if self.method == "macs" else self.overhead
        need = {"none": 1, "constant": 1, "linear": 2, "per_kernel": 3}[mode]
        if len(y) < need:
            raise ValueError(f"method {self.method!r} with overhead {mode!r} needs >= {need} models, got {len(y)}")
        infos = [_as_info(m, input_size, self.batch_size, self.method == "macs") for m in named.values()]
        raw = np.array([self._raw(i) for i in infos])
        n = np.array([len(i.kernels) for i in infos], dtype=float)
        terms = {"scale": 1.0, "per_kernel_ms": 0.0, "intercept_ms": 0.0}
        # least squares on RELATIVE residuals (each row divided by its latency): the predictors are
        # judged by relative error, and absolute residuals let the largest models set an intercept
        # that swamps the smallest ones (a 3 ms intercept on a 0.4 ms model)
        if mode == "linear":
            a, b = np.polyfit(raw, y, 1, w=1.0 / y)
            terms.update(scale=float(a), intercept_ms=float(b))
        elif mode == "per_kernel":
            (a, c, b), *_ = np.linalg.lstsq(np.column_stack([raw, n, np.ones_like(raw)]) / y[:, None], np.ones_like(y), rcond=None)
            terms.update(scale=float(a), per_kernel_ms=float(c), intercept_ms=float(b))
        elif mode == "constant":
            terms["intercept_ms"] = float(statistics.median(y - raw))
        if self.method == "macs":
            self.macs_fit = {"ms_per_gmac": terms["scale"] * 1e9, "intercept_ms": terms["intercept_ms"]}
        self.overhead_terms = terms
        self.fitted = True
        return self

    def predict(self, model, input_size=None) -> float:
        """Predicted latency of ``model`` (ms per batch of :attr:`batch_size`).

        Args:
            model: ``nn.Module``, registry name, :class:`ModelInfo` or list of kernels.
            input_size: ``(C, H, W)``; default the model's ``default_input_size``.

        Raises:
            ValueError: ``"macs"`` before :meth:`fit` (the other methods predict the plain
                kernel sum until fitted).
        """
        if self.method == "macs" and not self.fitted:
            raise ValueError("the 'macs' predictor must be fitted first: fit(models, measured)")
        info = _as_info(model, input_size, self.batch_size, self.method == "macs")
        t = self.overhead_terms
        return t["scale"] * self._raw(info) + t["per_kernel_ms"] * len(info.kernels) + t["intercept_ms"]

    def predict_many(self, models, input_size=None) -> pd.Series:
        """:meth:`predict` for ``{name: model}`` or a sequence; a Series indexed by name."""
        named = _named(models)
        return pd.Series({n: self.predict(m, input_size) for n, m in named.items()}, name=f"{self.method}_ms")


def measure_models(models, input_size=None, *, threads: int = 1, batch_size: int = 1, timer: Timer | None = None,
                   rounds: int = 10, deploy: bool = True) -> dict[str, float]:  # fmt: skip
    """Measured latency (ms per batch) of whole models: the ground truth the predictors are scored on.

    With the real timer this is :func:`workbench.compare_latency` (interleaved rounds in one
    process, medians); with ``timer`` every round calls ``timer(model, x)`` once per model.

    Args:
        models: ``{name: model}`` or a sequence of modules / registry names.
        input_size: ``(C, H, W)``; default each model's ``default_input_size``.
        threads: intra-op threads; batch_size: images per forward.
        timer: ``timer(module, x) -> ms``; ``None`` = interleaved real measurement.
        rounds: interleaved rounds (>= 1).
        deploy: measure the deploy form (BN folded, re-parameterized), as the predictors assume.
    """
    named = {n: (create_model(m) if isinstance(m, str) else m) for n, m in _named(models).items()}
    if deploy:
        named = {n: reparameterize_model(m) for n, m in named.items()}
    if timer is None:
        df = compare_latency(named, input_size, rounds=rounds, threads=threads, batch_size=batch_size)
        return dict(zip(df.name, df.median_ms, strict=True))
    inputs = {n: make_input(m, input_size, batch_size) for n, m in named.items()}
    for m in named.values():
        m.eval()
    times: dict[str, list[float]] = {n: [] for n in named}
    with num_threads(threads), torch.inference_mode():
        for _ in range(rounds):
            for n, m in named.items():
                times[n].append(float(timer(m, inputs[n])))
    return {n: statistics.median(ts) for n, ts in times.items()}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2:
        return float("nan")
    ra, rb = pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def predictor_report(predicted: Mapping[str, float] | pd.Series, measured: Mapping[str, float] | pd.Series) -> pd.DataFrame:
    """Per-model errors of a predictor, with the summary in ``df.attrs["summary"]``.

    Args:
        predicted: name -> predicted ms; measured: name -> measured ms (same names).

    Returns:
        DataFrame ``name, predicted_ms, measured_ms, error_pct`` (signed, % of measured),
        ``within_5, within_10`` (bools); ``attrs["summary"]`` is :func:`summarize_report`.

    Raises:
        ValueError: the names differ, there are none, or a measured latency is not positive.
    """
    p, m = dict(predicted), dict(measured)
    if set(p) != set(m):
        raise ValueError(f"predicted and measured differ in names: {sorted(set(p) ^ set(m))}")
    if not p:
        raise ValueError("predictor_report needs at least one model")
    bad = [n for n, v in m.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        raise ValueError(f"measured latency must be finite and > 0 ms, got {bad[0]!r}: {m[bad[0]]}")
    names = list(m)
    df = pd.DataFrame({"name": names, "predicted_ms": [float(p[n]) for n in names],
                       "measured_ms": [float(m[n]) for n in names]})  # fmt: skip
    df["error_pct"] = 100 * (df.predicted_ms - df.measured_ms) / df.measured_ms
    df["within_5"] = df.error_pct.abs() <= 5
    df["within_10"] = df.error_pct.abs() <= 10
    df.attrs["summary"] = summarize_report(df)
    return df


def summarize_report(report: pd.DataFrame) -> dict[str, float]:
    """``n``, ``within_10`` and ``within_5`` (shares in [0, 1]), ``rmse_ms``, ``rmspe_pct`` (RMS of
    the relative errors, %), ``mean_abs_error_pct`` and ``spearman`` (rank correlation of predicted
    and measured) of a :func:`predictor_report` table."""
    err = report.predicted_ms - report.measured_ms
    return {
        "n": int(len(report)),
        "within_10": float(report.within_10.mean()),
        "within_5": float(report.within_5.mean()),
        "rmse_ms": float(np.sqrt(np.mean(err**2))),
        "rmspe_pct": float(np.sqrt(np.mean(report.error_pct**2))),
        "mean_abs_error_pct": float(report.error_pct.abs().mean()),
        "spearman": _spearman(report.predicted_ms.to_numpy(), report.measured_ms.to_numpy()),
    }


def evaluate_predictors(predictors: Mapping[str, LatencyPredictor], models, measured, input_size=None) -> pd.DataFrame:
    """One summary row per predictor on the same models: the comparison table of the notebook.

    Args:
        predictors: label -> fitted predictor.
        models: ``{name: model}`` (modules, names, :class:`ModelInfo` -- pass infos to detect once).
        measured: name -> measured ms.
        input_size: as :meth:`LatencyPredictor.predict`.

    Returns:
        DataFrame indexed by predictor label with the :func:`summarize_report` columns;
        ``attrs["reports"]`` holds each predictor's per-model report.
    """
    rows, reports = {}, {}
    for label, pred in predictors.items():
        rep = predictor_report(pred.predict_many(models, input_size), measured)
        rows[label], reports[label] = rep.attrs["summary"], rep
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.attrs["reports"] = reports
    return out
