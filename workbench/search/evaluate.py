"""Score the latency predictors on this machine: train on some models, predict unseen ones.

:func:`evaluate_latency_predictors` is the whole experiment of the ``latency_prediction``
notebook in one call: detect kernels, build (or load) the per-machine tables for each thread
count, measure the models, fit the four predictors on the training models and score them on
both splits (nn-Meter's table: share within +-10 % / +-5 %, RMSE, rank correlation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from ..models import create_model
from .predictor import LatencyPredictor, ModelInfo, measure_models, model_info, predictor_report
from .table import LatencyTable, Timer

#: Predictor labels of :func:`evaluate_latency_predictors`.
PREDICTORS = ("lut", "lut_measured", "regressor", "macs")


def evaluate_latency_predictors(
    train: Sequence[str],
    test: Sequence[str],
    *,
    threads: Sequence[int] = (1, 2),
    input_size: tuple[int, int, int] | None = None,
    overhead: str = "linear",
    timer: Timer | None = None,
    model_timer: Timer | None = None,
    rounds: int = 3,
    model_rounds: int = 10,
    group: int = 16,
    count_macs: bool = True,
    base=None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Fit the predictors on ``train`` models and score them on ``train`` and ``test``.

    Predictors (:data:`PREDICTORS`): ``lut`` (table of the training models' kernels; kernels
    it lacks come from the regressor), ``lut_measured`` (kernels it lacks are timed alone and
    cached; the model itself is never timed), ``regressor`` (per-kind regressor on the
    training kernels only) and ``macs`` (``a * MACs + b``).

    Args:
        train, test: registry names (``"timm:..."`` allowed); the test models are never used
            for fitting.
        threads: thread counts, one table per count.
        input_size: ``(C, H, W)``; ``None`` = each model's ``default_input_size``.
        overhead: overhead mode of the kernel-sum predictors (see ``predictor.OVERHEADS``).
        timer: kernel timer (default the real one); model_timer: whole-model timer (default
            interleaved :func:`workbench.compare_latency` rounds).
        rounds: table rounds; model_rounds: interleaved rounds of the model measurement.
        group: models measured interleaved together (memory bound; the ground truth of
            different groups is measured minutes apart, so keep the machine quiet).
        count_macs: count MACs with fvcore (:func:`workbench.count_macs`, up to seconds per
            model); ``False`` sums the MACs of the detected conv/linear/matmul kernels instead
            (attention blocks then count 0).
        base: cache root for the tables.
        progress: called with a short status line at each step.

    Returns:
        one row per (threads, predictor, split) with the :func:`summarize_report` columns;
        ``attrs["reports"][(threads, predictor)]`` is the per-model report (``split`` column),
        ``attrs["measured"][threads]`` the measured ms and ``attrs["terms"]`` the fitted terms.

    Raises:
        ValueError: a model is in both splits, or a split is empty.
    """
    both = set(train) & set(test)
    if both:
        raise ValueError(f"models in both train and test: {sorted(both)}")
    if not train or not test:
        raise ValueError("train and test must each name at least one model")
    say = progress or (lambda msg: None)
    names = [*train, *test]
    infos: dict[str, ModelInfo] = {}
    for n in names:
        say(f"kernels of {n}")
        info = model_info(create_model(n), input_size, macs=count_macs)
        infos[n] = info if count_macs else ModelInfo(info.kernels, sum(k.macs for k in info.kernels))
    train_kernels = [k for n in train for k in infos[n].kernels]
    rows, reports, measured_all, terms = [], {}, {}, {}
    for t in threads:
        say(f"table, {t} thread(s)")
        full = LatencyTable.build(train_kernels, timer=timer, threads=t, rounds=rounds, base=base)
        seen = full.subset(train_kernels)
        measured: dict[str, float] = {}
        for i in range(0, len(names), group):
            part = names[i : i + group]
            say(f"measuring {len(part)} models, {t} thread(s)")
            measured.update(measure_models({n: create_model(n) for n in part}, input_size, threads=t,
                                           timer=model_timer, rounds=model_rounds))  # fmt: skip
        measured_all[t] = measured
        predictors = {
            "lut": LatencyPredictor("lut", seen, overhead=overhead),
            "lut_measured": LatencyPredictor("lut", full.copy(), overhead=overhead, measure_missing=True, timer=timer),
            "regressor": LatencyPredictor("regressor", seen, overhead=overhead),
            "macs": LatencyPredictor("macs"),
        }
        for label, pred in predictors.items():
            say(f"{label}, {t} thread(s)")
            pred.fit({n: infos[n] for n in train}, {n: measured[n] for n in train})
            terms[(t, label)] = dict(pred.overhead_terms)
            parts = []
            for split, split_names in (("train", train), ("test", test)):
                rep = predictor_report(pred.predict_many({n: infos[n] for n in split_names}),
                                       {n: measured[n] for n in split_names})  # fmt: skip
                rows.append({"threads": t, "predictor": label, "split": split, **rep.attrs["summary"]})
                parts.append(rep.assign(split=split))
            reports[(t, label)] = pd.concat(parts, ignore_index=True)
    out = pd.DataFrame(rows)
    out.attrs.update(reports=reports, measured=measured_all, terms=terms)
    return out


def stacked_reports(summary: pd.DataFrame) -> pd.DataFrame:
    """The per-model reports of :func:`evaluate_latency_predictors` in one table.

    Columns: ``threads, predictor, split, name, predicted_ms, measured_ms, error_pct, within_5,
    within_10``.

    Raises:
        ValueError: ``summary`` carries no per-model reports (not an evaluation result).
    """
    reports = summary.attrs.get("reports")
    if not reports:
        raise ValueError("summary has no attrs['reports']: pass the result of evaluate_latency_predictors")
    parts = [rep.assign(threads=t, predictor=p) for (t, p), rep in reports.items()]
    out = pd.concat(parts, ignore_index=True)
    return out[["threads", "predictor", "split", *[c for c in out.columns if c not in ("threads", "predictor", "split")]]]
