"""The seed literature: parse result pages, tag papers by technique family, extract claims,
and measure how much of it the technique notebooks cover.

Pipeline (``workbench literature build``): :func:`parse_sources` -> :func:`dedupe` ->
rules (:mod:`.families`, :mod:`.tagging`) -> ``overrides.csv`` -> :func:`extract_claims` ->
``datasets/literature/catalogue.jsonl``. Coverage (:func:`compute_coverage`) and the HTML page
(:func:`build_literature_page`) are derived from the catalogue and the technique registry.
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
from .coverage import Coverage, compute_coverage, coverage_by_family, covering_techniques
from .families import FAMILIES, FAMILY_SLUGS, Family, get_family
from .page import build_literature_page, copy_plotly_js, render_literature_page
from .parse import RawEntry, normalize_title, paper_id, parse_page, parse_sources
from .tagging import TASK_SLUGS, classify_relevance, classify_task, explain_families, tag_families

__all__ = [
    "CATALOGUE_PATH", "DATA_DIR", "OVERRIDES_PATH", "SOURCES_DIR", "FAMILIES", "FAMILY_SLUGS", "TASK_SLUGS",
    "Claim", "Coverage", "Family", "RawEntry",
    "build_catalogue", "build_literature_page", "classify_relevance", "classify_task", "compute_coverage",
    "copy_plotly_js", "coverage_by_family", "covering_techniques", "dedupe", "dumps_catalogue",
    "explain_families", "extract_claims", "get_family", "load_catalogue", "load_overrides",
    "normalize_title", "paper_id", "parse_page", "parse_sources", "render_literature_page",
    "tag_families", "write_catalogue",
]
