"""Measure family tags against a hand-labelled sample (``datasets/literature/labelled_sample.csv``).

A labelled paper has a ``primary`` family (or ``none``: off-topic) and ``secondary`` families; its gold
label set is primary + secondary. A prediction is a list of family slugs per paper id (the rules'
output, or the catalogue after overrides). Scores:

* **exact**: papers whose predicted set equals the gold set (all labels right; an off-topic paper is
  right when nothing is predicted);
* **lenient**: papers with no wrong label whose primary family is predicted (or, off-topic, nothing
  predicted): missing secondary families are forgiven;
* **primary**: papers whose predicted primary family (when the predictor gives one) is the gold primary;
* label-level **precision** (right predicted labels / predicted labels) and **recall** (right predicted
  labels / gold labels), overall and per family.

Print the table with ``python -m workbench.literature.precision [LABELS.csv [CATALOGUE.jsonl]]`` (rules as
they are now, the catalogue's rule output and its families -- the curated labels -- against the labelled sample;
defaults: ``labelled_sample.csv`` and the committed catalogue), or the agreement of two labellers with
``python -m workbench.literature.precision FIRST.csv SECOND.csv`` (:func:`agreement`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from .families import FAMILY_SLUGS
from .labels import DATA_DIR, Label, load_labels

LABELLED_SAMPLE_PATH = DATA_DIR / "labelled_sample.csv"

__all__ = ["LABELLED_SAMPLE_PATH", "Label", "Scores", "agreement", "errors", "load_labels", "score"]


@dataclass(frozen=True)
class Scores:
    """Agreement of predictions with a labelled sample (counts; percentages via properties)."""

    n_papers: int
    exact: int
    lenient: int
    primary_right: int
    primary_n: int
    tp: int
    n_predicted: int
    n_gold: int
    per_family: pd.DataFrame

    @staticmethod
    def _pct(a: int, b: int) -> float:
        return 100.0 * a / b if b else float("nan")

    @property
    def exact_pct(self) -> float:
        """Percent of papers with every label right."""
        return self._pct(self.exact, self.n_papers)

    @property
    def lenient_pct(self) -> float:
        """Percent of papers with no wrong label and the primary family found."""
        return self._pct(self.lenient, self.n_papers)

    @property
    def precision(self) -> float:
        """Label-level precision, percent."""
        return self._pct(self.tp, self.n_predicted)

    @property
    def recall(self) -> float:
        """Label-level recall, percent."""
        return self._pct(self.tp, self.n_gold)

    def summary(self) -> dict[str, str]:
        """One-line-per-metric view, ``"k/n (p %)"`` strings."""
        return {
            "papers, all labels right": f"{self.exact}/{self.n_papers} ({self.exact_pct:.1f} %)",
            "papers, no wrong label + primary found": f"{self.lenient}/{self.n_papers} ({self.lenient_pct:.1f} %)",
            "primary family right": (f"{self.primary_right}/{self.primary_n} "
                                     f"({self._pct(self.primary_right, self.primary_n):.1f} %)"),
            "label precision": f"{self.tp}/{self.n_predicted} ({self.precision:.1f} %)",
            "label recall": f"{self.tp}/{self.n_gold} ({self.recall:.1f} %)",
        }


def score(predicted: Mapping[str, Sequence[str]], labels: Mapping[str, Label],
          primary: Mapping[str, str | None] | None = None, min_n: int = 1) -> Scores:
    """Score ``predicted`` family lists against ``labels`` (only the labelled ids are scored).

    Args:
        predicted: paper id -> predicted family slugs (every labelled id must be present).
        labels: paper id -> :class:`Label`.
        primary: optional paper id -> predicted primary family (``None``: no family); when given, the
            primary-family agreement is scored over all labelled papers, else it is scored as
            "gold primary among the predictions" over on-topic papers.
        min_n: per-family rows are kept when the family has at least this many gold or predicted labels.

    Raises:
        KeyError: naming the first labelled id with no prediction.
    """
    missing = [i for i in labels if i not in predicted]
    if missing:
        raise KeyError(f"no prediction for labelled paper {missing[0]!r} ({len(missing)} missing)")
    exact = lenient = tp = n_pred = n_gold = prim_right = prim_n = 0
    fam_tp = dict.fromkeys(FAMILY_SLUGS, 0)
    fam_pred = dict.fromkeys(FAMILY_SLUGS, 0)
    fam_gold = dict.fromkeys(FAMILY_SLUGS, 0)
    for pid, lab in labels.items():
        pred, gold = set(predicted[pid]), lab.families
        exact += pred == gold
        lenient += (not gold and not pred) or (bool(gold) and pred <= gold and lab.primary in pred)
        tp += len(pred & gold)
        n_pred += len(pred)
        n_gold += len(gold)
        for f in pred:
            fam_pred[f] += 1
            fam_tp[f] += f in gold
        for f in gold:
            fam_gold[f] += 1
        if primary is not None:
            prim_n += 1
            prim_right += (primary.get(pid) or "none") == lab.primary
        elif gold:
            prim_n += 1
            prim_right += lab.primary in pred
    rows = [
        {"family": f, "gold": fam_gold[f], "predicted": fam_pred[f], "right": fam_tp[f],
         "precision %": round(100.0 * fam_tp[f] / fam_pred[f], 1) if fam_pred[f] else float("nan"),
         "recall %": round(100.0 * fam_tp[f] / fam_gold[f], 1) if fam_gold[f] else float("nan")}
        for f in FAMILY_SLUGS if max(fam_gold[f], fam_pred[f]) >= min_n
    ]
    return Scores(len(labels), exact, lenient, prim_right, prim_n, tp, n_pred, n_gold,
                  pd.DataFrame(rows, columns=["family", "gold", "predicted", "right", "precision %", "recall %"]))


def errors(predicted: Mapping[str, Sequence[str]], labels: Mapping[str, Label]) -> pd.DataFrame:
    """Papers whose predicted set differs from the gold set: id, spurious and missing families."""
    rows = []
    for pid, lab in labels.items():
        pred, gold = set(predicted[pid]), lab.families
        if pred != gold:
            rows.append({"id": pid, "primary": lab.primary,
                         "spurious": ";".join(sorted(pred - gold)), "missing": ";".join(sorted(gold - pred))})
    return pd.DataFrame(rows, columns=["id", "primary", "spurious", "missing"])


def agreement(first: Mapping[str, Label], second: Mapping[str, Label]) -> Scores:
    """Inter-labeller agreement: ``second``'s labels scored as predictions against ``first``'s.

    Exact agreement is symmetric; label precision and recall swap when the labellers swap.

    Raises:
        ValueError: when the two samples do not label the same papers.
    """
    if set(first) != set(second):
        raise ValueError(f"the samples label different papers ({len(set(first) ^ set(second))} ids differ)")
    return score({i: sorted(lab.families) for i, lab in second.items()}, first,
                 primary={i: (None if lab.primary == "none" else lab.primary) for i, lab in second.items()})


def _main(argv: list[str]) -> None:  # pragma: no cover - printing entry point
    from .catalogue import CATALOGUE_PATH, SOURCES_DIR, dedupe, load_catalogue
    from .parse import paper_id, parse_sources
    from .tagging import primary_family, tag_families

    labels = load_labels(argv[0] if argv else LABELLED_SAMPLE_PATH)
    if len(argv) > 1 and argv[1].endswith(".csv"):  # two labellers: their agreement
        s = agreement(labels, load_labels(argv[1]))
        print(f"== {argv[1]} against {argv[0]}")
        for k, v in s.summary().items():
            print(f"  {k}: {v}")
        return
    groups = [g[0] for g in dedupe(parse_sources(SOURCES_DIR)).values() if paper_id(g[0].title) in labels]
    live = {paper_id(e.title): tag_families(e.title, e.abstract) for e in groups}
    live_primary = {paper_id(e.title): primary_family(e.title, e.abstract) for e in groups}
    cat = {r["id"]: r for r in load_catalogue(argv[1] if len(argv) > 1 else CATALOGUE_PATH)}
    cat_primary = {i: r.get("primary_family") for i, r in cat.items()} if "primary_family" in next(iter(cat.values())) else None
    for name, pred, prim in (("rules (live)", live, live_primary),
                             ("catalogue rule_families", {i: r["rule_families"] for i, r in cat.items()}, None),
                             ("catalogue families (curated labels; rules + overrides without one)", {i: r["families"] for i, r in cat.items()},
                              cat_primary)):
        s = score(pred, labels, primary=prim)
        print(f"== {name}")
        for k, v in s.summary().items():
            print(f"  {k}: {v}")
        print(score(pred, labels, min_n=3).per_family.to_string(index=False))


if __name__ == "__main__":  # pragma: no cover
    import sys

    _main(sys.argv[1:])
