"""Build, write and load the committed literature catalogue.

``build_catalogue`` turns the result pages into one record per unique paper (parse ->
de-duplicate -> curated labels, else rules + overrides -> claims); ``write_catalogue`` writes it as JSON Lines,
one paper per line, sorted by id, keys sorted, so ``workbench literature build`` is
byte-for-byte reproducible. Coverage by technique notebooks is *not* stored: it depends on the
technique registry, which grows, so :mod:`workbench.report.coverage` derives it on demand.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .claims import FLOPS_CONVENTIONS, extract_claims
from .dates import paper_year
from .families import FAMILY_SLUGS
from .labels import DATA_DIR, LABELS_PATH, Label, load_curated
from .parse import RawEntry, normalize_title, paper_id, parse_sources
from .tagging import (
    RELEVANCE,
    TASK_SLUGS,
    classify_relevance,
    classify_task,
    primary_family,
    tag_families,
)

SOURCES_DIR = DATA_DIR / "sources"
OVERRIDES_PATH = DATA_DIR / "overrides.csv"
CATALOGUE_PATH = DATA_DIR / "catalogue.jsonl"
FLOPS_CONVENTION_PATH = DATA_DIR / "flops_convention.csv"


@dataclass(frozen=True)
class Override:
    """A hand correction of the rules for one paper (a row of ``overrides.csv``).

    ``families`` is either a full replacement (``"nas;mobile_cnn"``, first = primary family; ``"none"``)
    or edits of the rule output (``"+distillation;-efficient_llm"``); empty keeps the rules.
    Empty ``task`` / ``relevance`` keep the rules too.
    """

    id: str
    families: str
    task: str
    relevance: str
    reason: str

    @property
    def primary(self) -> str | None:
        """The first slug of a replacement list (the override's primary family), else ``None``."""
        first = self.families.split(";")[0].strip()
        return first if first and first != "none" and first[0] not in "+-" else None

    def apply_families(self, rule: list[str]) -> list[str]:
        tokens = [t.strip() for t in self.families.split(";") if t.strip()]
        if not tokens:
            return rule
        if tokens == ["none"]:
            return []
        edits = [t[0] in "+-" for t in tokens]
        if any(edits) and not all(edits):
            raise ValueError(f"override {self.id}: mix of edits and slugs in {self.families!r}")
        slugs = [t.lstrip("+-") for t in tokens]
        for s in slugs:
            if s not in FAMILY_SLUGS:
                raise ValueError(f"override {self.id}: unknown family {s!r}; valid: {', '.join(FAMILY_SLUGS)}")
        if not all(edits):
            out = set(slugs)
        else:
            out = set(rule) | {t[1:] for t in tokens if t[0] == "+"}
            out -= {t[1:] for t in tokens if t[0] == "-"}
        return [f for f in FAMILY_SLUGS if f in out]


def load_overrides(path: str | Path = OVERRIDES_PATH) -> dict[str, Override]:
    """Read ``overrides.csv`` (columns ``id,families,task,relevance,reason``).

    Raises:
        ValueError: on a duplicate id, a missing reason, or an unknown task / relevance.
    """
    path = Path(path)
    if not path.exists():
        return {}
    out: dict[str, Override] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            o = Override(**{k: (row.get(k) or "").strip() for k in Override.__dataclass_fields__})
            if o.id in out:
                raise ValueError(f"duplicate override for {o.id!r} in {path}")
            if not o.reason:
                raise ValueError(f"override {o.id}: a reason is required")
            if o.task and o.task not in TASK_SLUGS:
                raise ValueError(f"override {o.id}: unknown task {o.task!r}; valid: {', '.join(TASK_SLUGS)}")
            if o.relevance and o.relevance not in RELEVANCE:
                raise ValueError(f"override {o.id}: unknown relevance {o.relevance!r}; valid: {', '.join(RELEVANCE)}")
            out[o.id] = o
    return out


def load_flops_conventions(path: str | Path = FLOPS_CONVENTION_PATH) -> dict[str, str]:
    """Paper id -> what its "FLOPs" count (``macs`` or ``flops``), from ``flops_convention.csv``.

    Columns ``id,title,convention,evidence``; only papers whose convention is justified by their
    own words or reference table are listed, the rest stay unknown.

    Raises:
        ValueError: if a row's convention is not ``macs`` / ``flops`` or its evidence is empty.
    """
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["convention"] not in FLOPS_CONVENTIONS:
                raise ValueError(f"flops_convention {row['id']}: convention {row['convention']!r}; "
                                 f"valid: {', '.join(FLOPS_CONVENTIONS)}")
            if not row["evidence"].strip():
                raise ValueError(f"flops_convention {row['id']}: empty evidence")
            out[row["id"]] = row["convention"]
    return out


def dedupe(entries: list[RawEntry]) -> dict[str, list[RawEntry]]:
    """Group raw entries by normalized title, keeping page order within each group."""
    groups: dict[str, list[RawEntry]] = defaultdict(list)
    for e in entries:
        groups[normalize_title(e.title)].append(e)
    return dict(groups)


def _record(group: list[RawEntry], override: Override | None, flops: str | None = None,
            label: Label | None = None) -> dict:
    first = group[0]
    # Metadata only exists on the 001 page; take the first entry that has it.
    meta = next((e for e in group if e.n_authors is not None), first)
    rule_families = tag_families(first.title, first.abstract)
    rule_task = classify_task(first.title, first.abstract)
    if label is not None:
        # Curated: the families two readers agreed on (or the adjudicator decided).
        families = [f for f in FAMILY_SLUGS if f in label.families]
        primary = None if label.primary == "none" else label.primary
        relevance = "off_topic" if not families else (
            override.relevance if override and override.relevance not in ("", "off_topic")
            else classify_relevance(first.title, families))
    else:
        families = override.apply_families(rule_families) if override else rule_families
        rule_relevance = classify_relevance(first.title, families)
        relevance = (override.relevance if override and override.relevance else rule_relevance)
        if relevance == "off_topic":
            families = []
        elif not families:
            raise ValueError(f"{paper_id(first.title)}: relevance {relevance!r} needs at least one family")
        if not families:
            primary = None
        elif override and override.primary:
            primary = override.primary
        else:
            primary = primary_family(first.title, first.abstract, families)
    year, year_source = paper_year(meta.date, " ".join(f"{e.title} {e.abstract}" for e in group))
    return {
        "id": paper_id(first.title),
        "title": first.title,
        "abstract": first.abstract,
        "sources": sorted({e.source for e in group}),
        "n_authors": meta.n_authors,
        "date": meta.date,
        "date_text": meta.date_text,
        "year": year,
        "year_source": year_source,
        "upvotes": meta.upvotes,
        "families": families,
        "primary_family": primary,
        "rule_families": rule_families,
        "label_source": "curated" if label is not None else "rules",
        "task": override.task if override and override.task else rule_task,
        "relevance": relevance,
        "override": override.reason if override else None,
        "claims": [c.to_dict() for c in extract_claims(first.abstract, flops)],
        "flops_convention": flops,
    }


def build_catalogue(sources_dir: str | Path = SOURCES_DIR,
                    overrides_path: str | Path = OVERRIDES_PATH,
                    flops_path: str | Path = FLOPS_CONVENTION_PATH,
                    labels_path: str | Path = LABELS_PATH) -> list[dict]:
    """Parse, de-duplicate, tag and extract claims; one dict per unique paper, sorted by id.

    A paper's ``families`` / ``primary_family`` are its curated label (``labels.csv``) when it has one,
    else the rules' output after ``overrides.csv``; ``rule_families`` is always the rules' output and
    ``label_source`` says which (``"curated"`` / ``"rules"``).

    Raises:
        ValueError: if an override, a curated label or a FLOPs-convention row names a paper id that is
            not in the sources.
    """
    groups = dedupe(parse_sources(sources_dir))
    overrides = load_overrides(overrides_path)
    ids = {paper_id(g[0].title) for g in groups.values()}
    unknown = sorted(set(overrides) - ids)
    if unknown:
        raise ValueError(f"overrides name unknown paper ids: {', '.join(unknown)}")
    flops = load_flops_conventions(flops_path)
    unknown = sorted(set(flops) - ids)
    if unknown:
        raise ValueError(f"flops_convention names unknown paper ids: {', '.join(unknown)}")
    labels = load_curated(labels_path)
    unknown = sorted(set(labels) - ids)
    if unknown:
        raise ValueError(f"labels.csv names unknown paper ids: {', '.join(unknown)}")
    records = []
    for g in groups.values():
        pid = paper_id(g[0].title)
        records.append(_record(g, overrides.get(pid), flops.get(pid), labels.get(pid)))
    return sorted(records, key=lambda r: r["id"])


def dumps_catalogue(records: list[dict]) -> str:
    """JSON Lines text of ``records``: sorted keys, UTF-8, one paper per line."""
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)


def write_catalogue(records: list[dict], path: str | Path = CATALOGUE_PATH) -> Path:
    """Write ``records`` to ``path`` as JSON Lines (see :func:`dumps_catalogue`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_catalogue(records), encoding="utf-8")
    return path


def load_catalogue(path: str | Path = CATALOGUE_PATH) -> list[dict]:
    """Read the committed catalogue (one dict per paper)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
