"""Verdict and takeaways of the ``latency_prediction`` notebook.

A latency predictor for this machine: kernels (conv + BN + activation fused as the runtime fuses
them, depthwise, pointwise, SE, attention, ...) are timed once into a table; a model's latency is
predicted as the sum of its kernels' entries plus a fitted overhead (FBNet / ProxylessNAS lookup
tables; nn-Meter's kernel-level prediction), against a MACs-linear model.

Rule (:func:`conclude`), on the models the predictors never saw (the ``test`` split), two parts,
each *holds* or *fails*:

* *accurate*: at every thread count, the kernel-table predictor (``lut_measured``: kernels the
  table lacks are timed alone, the model never) is within +-10 % for at least
  :data:`MIN_WITHIN_10` of the test models;
* *beats MACs*: at every thread count it has a larger within-10 % share AND a higher rank
  correlation than the MACs-linear model.

Supported = both hold; not supported = neither; partly supported otherwise; inconclusive with
fewer than :data:`MIN_TEST_MODELS` test models.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .verdicts import Lesson, combine_parts, finite

CLAIM = (
    "A table of kernel latencies measured on this machine predicts the latency of models it never saw within "
    "+-10 % for at least 90 % of them, at 1 and 2 threads, and ranks them better than MACs do."
)
MIN_WITHIN_10 = 0.90  # share of unseen models within +-10 % (nn-Meter: 99 % on its mobile CPU)
MIN_TEST_MODELS = 5  # below this a share is too coarse to test a 90 % claim
KERNEL_PREDICTOR = "lut_measured"
LABELS = {
    "lut": "kernel table (training models' kernels; regressor for the rest)",
    "lut_measured": "kernel table (missing kernels timed alone)",
    "regressor": "per-kind regressor on kernel features",
    "macs": "MACs-linear",
}


def conclude(summary: pd.DataFrame, *, n_kernels: int, seconds: float) -> Lesson:
    """The latency-prediction verdict and takeaways.

    Args:
        summary: ``wb.search.evaluate_latency_predictors`` output: one row per
            ``threads, predictor, split`` with ``n, within_10, within_5, rmspe_pct, spearman``.
        n_kernels: distinct kernels in the tables (for the takeaways).
        seconds: wall time of the whole experiment (detection, tables, ground truth, fits).

    Raises:
        ValueError: the summary lacks the kernel-table or MACs predictor or the test split.
    """
    need = {KERNEL_PREDICTOR, "macs"}
    test = summary[summary.split == "test"]
    have = set(test.predictor)
    if not need <= have:
        raise ValueError(f"summary needs test rows for {sorted(need)}; has {sorted(have)}")
    threads = sorted(test.threads.unique())
    rows = test.set_index(["threads", "predictor"])
    n_test = int(rows.loc[(threads[0], KERNEL_PREDICTOR), "n"])
    accurate, beats = [], []
    for t in threads:
        k, m = rows.loc[(t, KERNEL_PREDICTOR)], rows.loc[(t, "macs")]
        accurate.append(k.within_10 >= MIN_WITHIN_10)
        beats.append(k.within_10 > m.within_10 and finite(k.spearman) and (not finite(m.spearman) or k.spearman > m.spearman))
    parts = {"accurate": "holds" if all(accurate) else "fails", "beats MACs": "holds" if all(beats) else "fails"}
    verdict = combine_parts(parts.values(), inconclusive=n_test < MIN_TEST_MODELS)
    per_t = "; ".join(
        f"{t} thread{'s' if t > 1 else ''}: {rows.loc[(t, KERNEL_PREDICTOR), 'within_10']:.0%} within +-10 % "
        f"(MACs {rows.loc[(t, 'macs'), 'within_10']:.0%}), Spearman {rows.loc[(t, KERNEL_PREDICTOR), 'spearman']:.2f} "
        f"(MACs {rows.loc[(t, 'macs'), 'spearman']:.2f})"
        for t in threads
    )
    evidence = f"accurate {parts['accurate']}, beats MACs {parts['beats MACs']} on {n_test} unseen models: {per_t}."
    if n_test < MIN_TEST_MODELS:
        evidence = f"only {n_test} unseen models (< {MIN_TEST_MODELS}): too few to test a 90 % share. " + evidence
    takeaways = [f"{n_kernels:,} distinct kernels in the table; the whole experiment (kernel detection, tables at {len(threads)} thread count(s), "
                 f"ground truth, fits) took {seconds:.0f} s."]
    for t in threads:
        for p in [p for p in LABELS if p in have]:
            r = rows.loc[(t, p)]
            takeaways.append(
                f"{t} thread{'s' if t > 1 else ''}, {LABELS[p]}: {r.within_10:.0%} of {int(r.n)} unseen models within +-10 %, "
                f"{r.within_5:.0%} within +-5 %, RMS error {r.rmspe_pct:.1f} %, Spearman {r.spearman:.2f}."
            )
    train = summary[(summary.split == "train") & (summary.predictor == KERNEL_PREDICTOR)]
    if len(train):
        gap = float(train.within_10.mean() - test[test.predictor == KERNEL_PREDICTOR].within_10.mean())
        takeaways.append(f"Kernel table on its training models vs unseen ones: {gap:+.0%} within +-10 % (a large gap means the overhead fit does not transfer).")
    key_numbers: dict[str, Any] = {
        f"within +-10 %, {t} thread(s)": {"value": round(100 * float(rows.loc[(t, KERNEL_PREDICTOR), "within_10"]), 1), "unit": "% of models"}
        for t in threads
    }
    key_numbers |= {f"MACs within +-10 %, {t} thread(s)": {"value": round(100 * float(rows.loc[(t, "macs"), "within_10"]), 1), "unit": "% of models"} for t in threads}
    key_numbers["unseen models"] = n_test
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)
