"""Train-and-measure comparisons: the accuracy half and the cost half of a trade-off, together.

:func:`train_compare` trains each variant (a registry name plus ``create_model`` overrides)
over one or more seeds -- through the model bank when given a ``recipe=``
(:func:`workbench.bank.trained`: shared with every notebook, trained once), else through the
results cache (:func:`workbench.train.cached_fit`) -- so the report pipeline never retrains an
unchanged model, then profiles the trained models at the data's input size with ONE interleaved
latency comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .bank import trained
from .measure import profile_many
from .train import History, cached_fit


@dataclass
class Comparison:
    """Result of :func:`train_compare`.

    Attributes:
        table: one row per variant: ``name, model, params, macs, latency_ms, latency_ratio,
            latency_ratio_q1, latency_ratio_q3, baseline, accuracy`` (mean over seeds, %),
            ``accuracy_std`` (sample std over seeds; NaN for one seed), ``seeds``,
            ``train_seconds`` (mean per seed, from the run that trained it), ``cached``,
            ``recipe`` (the bank recipe, or None for a ``cached_fit`` run).
        runs: one row per (variant, seed) with final test accuracy and training time.
        histories: variant -> :class:`History` of the first seed (for training curves).
        models: variant -> trained model of the first seed (eval mode).
        input_size: (C, H, W) the models were trained and profiled at.
    """

    table: pd.DataFrame
    runs: pd.DataFrame
    histories: dict[str, History]
    models: dict
    input_size: tuple[int, int, int] | None = None


def train_compare(
    variants: Mapping[str, tuple[str, dict]],
    data,
    *,
    seeds: Sequence[int] = (0,),
    latency: bool = True,
    rounds: int = 10,
    threads: int | None = None,
    recipe: str | None = None,
    **fit_kwargs,
) -> Comparison:
    """Train every variant for every seed (cached), then profile the trained models.

    Args:
        variants: ``{label: (registry_name, create_model_overrides)}``; the first variant is
            the latency baseline. Overrides usually include ``small_input=True``.
        data: a :class:`workbench.data.DataBundle`; its input size is used for profiling. With
            ``recipe`` it may be None: the recipe's own Fashion-MNIST data.
        seeds: training seeds (weights and data order); accuracy is averaged over them.
        latency: measure latency (interleaved) of the first-seed models.
        rounds: compare_latency rounds.
        threads: threads for training and latency.
        recipe: a bank recipe name (``wb.bank.RECIPES``): train through the model bank with it.
        **fit_kwargs: without ``recipe``, forwarded to :func:`workbench.train.fit` (``epochs``,
            ``lr``, ...). With ``recipe`` they may only be recipe fields (``epochs``, ``lr``,
            ``batch_size``, ...): values that differ from the recipe's make a derived recipe
            (``'fmnist_short+epochs=3'``, its own bank entries); ``progress`` is allowed.

    Raises:
        ValueError: no variants, or a non-recipe fit argument together with ``recipe``.
        KeyError: unknown recipe or model.
    """
    if not variants:
        raise ValueError("train_compare needs at least one variant")
    if recipe is not None:
        from .bank.recipes import get_recipe

        progress = fit_kwargs.pop("progress", False)
        recipe = get_recipe(recipe).with_changes(**fit_kwargs)
    if recipe is None and data is None:
        raise ValueError("train_compare needs data (or a recipe=, which brings its own)")
    runs, histories, models = [], {}, {}
    for label, (name, overrides) in variants.items():
        for seed in seeds:
            if recipe is not None:
                res = trained(name, recipe, seed=seed, data=data, threads=threads, progress=progress, **overrides)
            else:
                res = cached_fit(name, data, overrides=overrides, seed=seed, threads=threads, **fit_kwargs)
            runs.append(
                {
                    "name": label,
                    "model": name,
                    "seed": seed,
                    "accuracy": res.history.final_acc,
                    "train_seconds": res.history.total_seconds,
                    "cached": res.cache_hit,
                    "recipe": None if recipe is None else recipe.name,
                }
            )
            if label not in histories:
                histories[label], models[label] = res.history, res.model.eval()
    runs_df = pd.DataFrame(runs)
    if data is None:  # the recipe's own data
        from .bank.core import _data_for

        data = _data_for(recipe, None)
    input_size = data.input_size
    prof = profile_many(models, input_size, latency=latency, rounds=rounds, threads=threads)
    agg = runs_df.groupby("name", sort=False).agg(
        model=("model", "first"),
        accuracy=("accuracy", "mean"),
        accuracy_std=("accuracy", lambda a: a.std(ddof=1) if len(a) > 1 else np.nan),
        seeds=("seed", "count"),
        train_seconds=("train_seconds", "mean"),
        cached=("cached", "all"),
        recipe=("recipe", "first"),
    )
    cols = ["name", "params", "macs", "macs_all_ops", "latency_ms", "latency_ratio", "latency_ratio_q1", "latency_ratio_q3", "baseline", "peak_activation_bytes"]
    table = prof[cols].merge(agg.reset_index(), on="name")
    return Comparison(table, runs_df, histories, models, tuple(input_size))


# Zalando's benchmark: logistic regression reaches ~84 % on Fashion-MNIST; a CNN that does not beat
# it has not trained long enough for its ranking to mean anything.
LINEAR_BASELINE_ACC = 84.0


def training_too_short(table: pd.DataFrame) -> bool:
    """True when no model in ``table`` beats a linear classifier: accuracies say nothing yet."""
    return bool(table.accuracy.max() < LINEAR_BASELINE_ACC)


def training_note(table: pd.DataFrame, *, epochs: int, images: int) -> str:
    """One sentence on whether the training in ``table`` is long enough to compare models.

    Flags runs whose best accuracy is below a linear classifier (~84 % on Fashion-MNIST) and
    differences smaller than the seed-to-seed spread.
    """
    best, worst = table.accuracy.max(), table.accuracy.min()
    spread = table.accuracy_std.max() if "accuracy_std" in table else float("nan")
    if training_too_short(table):
        return (
            f"TOO SHORT TO MEAN ANYTHING: {epochs} epoch(s) on {images:,} images leave the best model at "
            f"{best:.1f}%, below a linear classifier (~{LINEAR_BASELINE_ACC:.0f}%); only the cost columns are meaningful."
        )
    note = f"{epochs} epoch(s) on {images:,} images: accuracies {worst:.1f}-{best:.1f}%."
    if spread == spread and best - worst < 2 * spread:
        note += f" The range is within twice the seed-to-seed spread ({spread:.2f} points): treat the ranking as noise."
    return note
