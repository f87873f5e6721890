"""Which technique notebooks cover which papers, derived from the technique registry.

A paper is *covered* by a technique when their family sets intersect, and *tested* by it when
the technique names the paper among its ``papers`` (the claim its notebook checks comes from
it; titles are matched ignoring case, spaces and punctuation). Coverage is computed on
demand (never stored in the committed catalogue) because :data:`workbench.report.techniques.TECHNIQUES`
grows as notebooks are added; the catalogue stays byte-for-byte stable regardless.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from ..literature.families import FAMILIES
from .techniques import TECHNIQUES, Technique


@dataclass(frozen=True)
class Coverage:
    """Coverage of the on-topic literature by technique notebooks.

    Attributes:
        covering: paper id -> slugs of the techniques covering it (on-topic papers only;
            an empty list means uncovered).
        relevance: paper id -> ``core`` / ``peripheral`` (on-topic papers only).
        techniques: slugs of the techniques considered.
    """

    covering: dict[str, list[str]]
    relevance: dict[str, str]
    techniques: tuple[str, ...] = field(default=())

    def _count(self, levels: tuple[str, ...]) -> tuple[int, int]:
        ids = [i for i, r in self.relevance.items() if r in levels]
        return sum(bool(self.covering[i]) for i in ids), len(ids)

    @property
    def core(self) -> tuple[int, int]:
        """(covered, total) core papers."""
        return self._count(("core",))

    @property
    def on_topic(self) -> tuple[int, int]:
        """(covered, total) core + peripheral papers."""
        return self._count(("core", "peripheral"))

    @staticmethod
    def _pct(pair: tuple[int, int]) -> float:
        return 100.0 * pair[0] / pair[1] if pair[1] else 0.0

    @property
    def core_pct(self) -> float:
        """Percent of core papers covered."""
        return self._pct(self.core)

    @property
    def on_topic_pct(self) -> float:
        """Percent of on-topic (core + peripheral) papers covered."""
        return self._pct(self.on_topic)

    @property
    def uncovered(self) -> list[str]:
        """Ids of on-topic papers no technique covers, sorted."""
        return sorted(i for i, t in self.covering.items() if not t)


def covering_techniques(families: Iterable[str], techniques: Iterable[Technique]) -> list[str]:
    """Slugs of the techniques whose families intersect ``families`` (sorted)."""
    fam = set(families)
    return sorted(t.slug for t in techniques if fam & set(t.families))


def compute_coverage(records: list[dict], techniques: Iterable[Technique] | None = None) -> Coverage:
    """Coverage of ``records`` (catalogue dicts) by ``techniques`` (default: the registry)."""
    techs = list(techniques) if techniques is not None else [TECHNIQUES.get(s) for s in TECHNIQUES]
    on_topic = [r for r in records if r["relevance"] != "off_topic"]
    return Coverage(
        covering={r["id"]: covering_techniques(r["families"], techs) for r in on_topic},
        relevance={r["id"]: r["relevance"] for r in on_topic},
        techniques=tuple(t.slug for t in techs),
    )


def coverage_by_family(records: list[dict], techniques: Iterable[Technique] | None = None) -> pd.DataFrame:
    """One row per family: on-topic paper count and the technique slugs covering the family.

    Columns: ``family``, ``papers``, ``core``, ``techniques`` (``;``-joined, empty if none).
    """
    techs = list(techniques) if techniques is not None else [TECHNIQUES.get(s) for s in TECHNIQUES]
    rows = []
    for f in FAMILIES:
        papers = [r for r in records if f.slug in r["families"]]
        rows.append({
            "family": f.slug,
            "papers": len(papers),
            "core": sum(r["relevance"] == "core" for r in papers),
            "techniques": ";".join(sorted(t.slug for t in techs if f.slug in t.families)),
        })
    return pd.DataFrame(rows)


def title_key(title: str) -> str:
    """A title reduced to lower-case letters and digits (``'DAMO-YOLO : A Report'`` -> ``'damoyoloareport'``)."""
    return re.sub(r"[^a-z0-9]+", "", title.lower())


def tested_by(records: list[dict], techniques: Iterable[Technique] | None = None) -> dict[str, list[str]]:
    """Paper id -> slugs of the techniques that name the paper in their ``papers`` (only papers named)."""
    techs = list(techniques) if techniques is not None else [TECHNIQUES.get(s) for s in TECHNIQUES]
    ids = {title_key(r["title"]): r["id"] for r in records}
    out: dict[str, list[str]] = {}
    for t in techs:
        for title in t.papers:
            pid = ids.get(title_key(title))
            if pid is not None and t.slug not in out.setdefault(pid, []):
                out[pid].append(t.slug)
    return {k: sorted(v) for k, v in out.items()}
