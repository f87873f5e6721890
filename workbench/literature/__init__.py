"""The seed literature: parse result pages, tag papers by technique family, extract claims.

Pipeline (``workbench literature build``): :func:`parse_sources` -> :func:`dedupe` -> families from
the curated labels (:mod:`.labels`: two labellers + an adjudicator, ``labels.csv``), or for a paper
without one the rules (:mod:`.families`, :mod:`.tagging`) -> ``overrides.csv`` -> :func:`extract_claims`
-> ``datasets/literature/catalogue.jsonl``. Coverage by the technique notebooks and the HTML page
are report concerns: :mod:`workbench.report.coverage`, :mod:`workbench.report.literature_page`.
"""

from .catalogue import (
    CATALOGUE_PATH,
    DATA_DIR,
    OVERRIDES_PATH,
    SOURCES_DIR,
    build_catalogue,
    dedupe,
    dumps_catalogue,
    load_catalogue,
    load_overrides,
    write_catalogue,
)
from .claims import Claim, extract_claims
from .families import FAMILIES, FAMILY_SLUGS, Family, get_family
from .parse import RawEntry, normalize_title, paper_id, parse_page, parse_sources
from .tagging import (
    TASK_SLUGS,
    classify_relevance,
    classify_task,
    explain_families,
    primary_family,
    tag_families,
)

__all__ = [
    "CATALOGUE_PATH", "DATA_DIR", "OVERRIDES_PATH", "SOURCES_DIR", "FAMILIES", "FAMILY_SLUGS", "TASK_SLUGS",
    "Claim", "Family", "RawEntry",
    "build_catalogue", "classify_relevance", "classify_task", "dedupe", "dumps_catalogue",
    "explain_families", "extract_claims", "get_family", "load_catalogue", "load_overrides",
    "normalize_title", "paper_id", "parse_page", "parse_sources", "primary_family", "tag_families", "write_catalogue",
]
