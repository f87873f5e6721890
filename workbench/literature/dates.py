"""Publication year of a catalogue paper: from the page's date, else from an arXiv identifier.

Only the ``001_*`` page prints dates (46 of 497 papers with a year, 2 more without one); the pages
carry no DOIs and, as of the seed set, no arXiv identifiers, so most papers have no year and keep
``year = None`` (``year_source = None``) rather than a guess. When a page does print an arXiv id
(``arXiv:1905.02244``, ``arxiv.org/abs/2303.14189``, ``hep-th/9901001``) its ``YYMM`` prefix gives the
year of first submission.
"""

from __future__ import annotations

import re

# New-style ids (2007-04 on): YYMM.NNNN[N]; old style: archive[.XX]/YYMMNNN. Both need "arxiv" nearby.
_NEW = re.compile(r"arxiv(?:\.org/(?:abs|pdf))?[:/\s]*(\d{2})(\d{2})\.\d{4,5}(?:v\d+)?\b", re.IGNORECASE)
_OLD = re.compile(r"arxiv(?:\.org/(?:abs|pdf))?[:/\s]*[a-z-]+(?:\.[a-z]{2})?/(\d{2})(\d{2})\d{3}\b", re.IGNORECASE)


def year_from_identifiers(text: str) -> int | None:
    """Year of the first valid arXiv identifier in ``text``, else ``None``."""
    for pattern in (_NEW, _OLD):
        for m in pattern.finditer(text):
            yy, mm = int(m[1]), int(m[2])
            if not 1 <= mm <= 12:
                continue
            if pattern is _NEW:
                if (yy, mm) < (7, 4):  # new-style ids start in April 2007
                    continue
                return 2000 + yy
            return (1900 if yy >= 91 else 2000) + yy
    return None


def paper_year(date: str | None, text: str) -> tuple[int | None, str | None]:
    """``(year, source)``: from the page's ISO ``date`` (``"page"``), else an arXiv id in ``text``
    (``"arxiv id"``), else ``(None, None)``."""
    if date:
        return int(date[:4]), "page"
    year = year_from_identifiers(text)
    return (year, "arxiv id") if year else (None, None)
