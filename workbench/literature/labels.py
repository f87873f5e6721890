"""Curated family labels: every seed paper read by two labellers, disagreements adjudicated.

The keyword rules (:mod:`.tagging`) reach ~69 % exact / ~89 % label precision on papers they were not
tuned on, while two careful readers agree on ~90 % / ~95 % (``datasets/literature/README.md``). The seed
literature is a fixed set, so the catalogue's families come from reading every paper:

* a **first** and a **second** labeller label each paper independently from title + abstract (primary
  family or ``none``, secondary families, a reason, who decided);
* where their label *sets* or their primary families differ, an **adjudicator** who sees both labels
  decides (``labels/adjudicated.csv``);
* :func:`merge_labels` turns the three into one curated label per paper, written to
  ``datasets/literature/labels.csv`` with ``decided_by`` saying which path each label took.

Papers without a curated label (added to the seed pages later) fall back to the rules + overrides.
``workbench literature build --check`` verifies that ``labels.csv`` is the merge of the raw files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .families import FAMILY_SLUGS

DATA_DIR = Path(__file__).resolve().parents[2] / "datasets" / "literature"
LABELS_PATH = DATA_DIR / "labels.csv"
#: First labeller: the issue-18 samples (labelled first, one reader each) and the rest of the papers.
FIRST_FILES = tuple(DATA_DIR / n for n in (
    "labelled_sample.csv", "labelled_sample_fresh.csv", "labelled_sample_blind.csv", "labels/first.csv"))
#: Second labeller, independent of the first.
SECOND_FILES = tuple(DATA_DIR / n for n in ("labelled_sample_blind_second.csv", "labels/second.csv"))
#: The adjudicator's decisions where the two labellers disagree.
ADJUDICATED_PATH = DATA_DIR / "labels" / "adjudicated.csv"

AGREED = "two labellers agree"
ADJUDICATED = "adjudicated (labellers disagreed)"
LABEL_COLUMNS = ("id", "title", "primary", "secondary", "decided_by", "reason")


@dataclass(frozen=True)
class Label:
    """Hand label of one paper: ``primary`` is a family slug or ``"none"`` (off-topic)."""

    id: str
    primary: str
    secondary: tuple[str, ...] = ()

    @property
    def families(self) -> frozenset[str]:
        """Gold label set (empty for an off-topic paper)."""
        return frozenset(() if self.primary == "none" else (self.primary, *self.secondary))

    @property
    def ordered(self) -> list[str]:
        """Primary first, then the secondary families in the order given (empty when off-topic)."""
        return [] if self.primary == "none" else [self.primary, *(s for s in self.secondary if s != self.primary)]


def _label(row: Mapping[str, str], where: str) -> Label:
    primary = (row.get("primary") or "").strip()
    secondary = tuple(s.strip() for s in (row.get("secondary") or "").split(";") if s.strip())
    if not primary:
        raise ValueError(f"{where}: {row['id']}: empty primary (use 'none' for an off-topic paper)")
    for slug in (primary, *secondary):
        if slug != "none" and slug not in FAMILY_SLUGS:
            raise ValueError(f"{where}: {row['id']}: unknown family {slug!r}; valid: none, {', '.join(FAMILY_SLUGS)}")
    if primary == "none" and secondary:
        raise ValueError(f"{where}: {row['id']}: primary 'none' cannot have secondary families {secondary}")
    return Label(row["id"], primary, secondary)


def read_rows(paths: Iterable[str | Path]) -> dict[str, dict]:
    """Rows of one labeller's CSV files (``id,title,primary,secondary,reason[,labeller]``), by id.

    Raises:
        ValueError: a duplicate id across the files, an unknown slug, an empty primary, or secondary
            families on a ``none`` paper (each naming the file and the paper).
    """
    out: dict[str, dict] = {}
    for path in paths:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["id"] in out:
                    raise ValueError(f"{path}: duplicate id {row['id']!r}")
                row["label"] = _label(row, str(path))
                out[row["id"]] = row
    return out


def load_labels(path: str | Path) -> dict[str, Label]:
    """A labelled sample or the curated labels as ``id -> Label`` (see :func:`read_rows`)."""
    return {i: r["label"] for i, r in read_rows([path]).items()}


def merge_labels(first: Mapping[str, dict], second: Mapping[str, dict], adjudicated: Mapping[str, dict]) -> list[dict]:
    """One curated label per paper (rows sorted by id, columns :data:`LABEL_COLUMNS`).

    A paper both labellers label alike (same family set, same primary) keeps the first labeller's row;
    a paper they label differently takes the adjudicator's row.

    Raises:
        ValueError: papers labelled by one labeller only, disagreements without an adjudication, or
            adjudications of papers the labellers agreed on (each listing up to five ids).
    """
    def _ids(ids: Iterable[str]) -> str:
        ids = sorted(ids)
        return ", ".join(ids[:5]) + (f" (+{len(ids) - 5} more)" if len(ids) > 5 else "")

    if set(first) != set(second):
        raise ValueError(f"papers labelled by one labeller only: {_ids(set(first) ^ set(second))}")
    disagree = {i for i in first
                if first[i]["label"].families != second[i]["label"].families
                or first[i]["label"].primary != second[i]["label"].primary}
    if missing := disagree - set(adjudicated):
        raise ValueError(f"{len(missing)} disagreements without an adjudication: {_ids(missing)}")
    if extra := set(adjudicated) - disagree:
        raise ValueError(f"adjudications of papers the labellers agree on (or never labelled): {_ids(extra)}")
    rows = []
    for pid in sorted(first):
        row, how = (adjudicated[pid], ADJUDICATED) if pid in disagree else (first[pid], AGREED)
        lab: Label = row["label"]
        rows.append({"id": pid, "title": first[pid]["title"], "primary": lab.primary,
                     "secondary": ";".join(lab.ordered[1:]), "decided_by": how, "reason": row["reason"]})
    return rows


def build_labels(first_files: Iterable[str | Path] = FIRST_FILES, second_files: Iterable[str | Path] = SECOND_FILES,
                 adjudicated_path: str | Path = ADJUDICATED_PATH) -> list[dict]:
    """:func:`merge_labels` of the committed labelling files."""
    return merge_labels(read_rows(first_files), read_rows(second_files), read_rows([adjudicated_path]))


def dumps_labels(rows: list[dict]) -> str:
    """CSV text of curated label rows (the content of ``labels.csv``)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def load_curated(path: str | Path = LABELS_PATH) -> dict[str, Label]:
    """The committed curated labels (``labels.csv``); an empty dict when the file does not exist."""
    return load_labels(path) if Path(path).exists() else {}
