"""Parse the paper-search result pages in ``datasets/literature/sources/`` into raw entries.

The pages come in two layouts (both checked by hand, see ``datasets/literature/README.md``):

* ``000_*``: one line per title, the next line its abstract, no blank lines, no metadata; the
  first title is glued to the page's "Subscribe" button text.
* ``001_*`` .. ``004_*``: blank-line-separated blocks, title block then abstract block; only
  ``001_*`` adds a metadata block after the abstract::

      \u2022 5 authors
      \u00b7
      Mar 29, 2025 3        <- date, then an optional upvote count; the year may be missing

Page chrome ("Get trending papers ...", "Subscribe", "Daily Papers", a bare date at the top)
is skipped. Parsing is strict: a block that is neither chrome, title, abstract nor metadata
raises ``ValueError`` naming the file and block, so a changed layout fails loudly.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# Page chrome, matched against a whole stripped line/block.
CHROME = (
    re.compile(r"new"),
    re.compile(r"Get trending papers in your email inbox( once a day)?!"),
    re.compile(r"Subscribe"),
    re.compile(r"Daily Papers"),
    re.compile(r"byAK and the research community"),
    re.compile(r"[A-Z][a-z]{2} \d{1,2}"),  # the page's own date ("Apr 17")
)
_META = re.compile(
    r"\u2022\s*(?P<authors>\d+) authors?"
    r"(?:\s*\u00b7\s*(?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2})(?:, (?P<year>\d{4}))?(?: (?P<up>\d+))?)?"
)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
# A title is one line of modest length that does not end like a sentence of prose.
_MAX_TITLE_CHARS = 300


@dataclass(frozen=True)
class RawEntry:
    """One paper as it appears on one page (before de-duplication).

    Attributes:
        source: file name of the page (``000_6fdbed114657ddf9.txt``).
        position: 0-based rank of the entry on its page.
        title: title as printed (whitespace collapsed).
        abstract: abstract as printed (whitespace collapsed).
        n_authors: author count ("5 authors"), ``None`` where the page gives none.
        date_text: the date exactly as printed ("Aug 19, 2025", "Feb 19"), else ``None``.
        date: ISO date (``YYYY-MM-DD``) when the printed date has a year, else ``None``.
        upvotes: the upvote count printed after the date, else ``None``.
    """

    source: str
    position: int
    title: str
    abstract: str
    n_authors: int | None = None
    date_text: str | None = None
    date: str | None = None
    upvotes: int | None = None


def normalize_title(title: str) -> str:
    """Title key used for de-duplication: NFKD, lower case, alphanumerics and single spaces."""
    t = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", t).split())


def paper_id(title: str) -> str:
    """Stable id: a readable slug of the normalized title plus 6 hex digits of its SHA-1.

    The hash keeps ids unique when two long titles share their first words; it depends only
    on :func:`normalize_title`, so ids survive re-ordering of the source pages.
    """
    norm = normalize_title(title)
    slug = "-".join(norm.split())[:48].rstrip("-")
    return f"{slug}-{hashlib.sha1(norm.encode()).hexdigest()[:6]}"


def _clean(text: str) -> str:
    return " ".join(text.split())


def _is_chrome(text: str) -> bool:
    return any(p.fullmatch(text) for p in CHROME)


def _check_title(title: str, where: str) -> None:
    if len(title) > _MAX_TITLE_CHARS or not title:
        raise ValueError(f"{where}: expected a title, got {title[:80]!r}...")


def _parse_meta(block: str) -> dict:
    m = _META.fullmatch(_clean(block))
    if not m:
        raise ValueError(f"not a metadata block: {block!r}")
    meta: dict = {"n_authors": int(m["authors"])}
    if m["mon"]:
        meta["date_text"] = f"{m['mon']} {m['day']}" + (f", {m['year']}" if m["year"] else "")
        if m["year"]:
            meta["date"] = date(int(m["year"]), _MONTHS[m["mon"]], int(m["day"])).isoformat()
        if m["up"]:
            meta["upvotes"] = int(m["up"])
    return meta


def parse_line_page(path: Path) -> list[RawEntry]:
    """Parse the ``000_*`` layout: alternating title / abstract lines, no blank lines."""
    lines = [_clean(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    # Leading chrome; the first title is glued to "Subscribe".
    while lines and _is_chrome(lines[0]):
        lines.pop(0)
    if lines and lines[0].startswith("Subscribe"):
        lines[0] = lines[0][len("Subscribe") :].strip()
    if len(lines) % 2:
        raise ValueError(f"{path.name}: odd number of title/abstract lines ({len(lines)})")
    entries = []
    for i in range(0, len(lines), 2):
        _check_title(lines[i], f"{path.name} line pair {i // 2}")
        entries.append(RawEntry(path.name, i // 2, lines[i], lines[i + 1]))
    return entries


def parse_block_page(path: Path) -> list[RawEntry]:
    """Parse the ``001_*``..``004_*`` layout: blank-line blocks, optional metadata block."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))]
    blocks = [b for b in blocks if b]
    while blocks and _is_chrome(_clean(blocks[0])):
        blocks.pop(0)
    entries: list[RawEntry] = []
    i = 0
    while i < len(blocks):
        if i + 1 >= len(blocks):
            raise ValueError(f"{path.name}: title without abstract at block {i}: {blocks[i][:80]!r}")
        title, abstract = _clean(blocks[i]), _clean(blocks[i + 1])
        _check_title(title, f"{path.name} block {i}")
        if abstract.startswith("\u2022"):
            raise ValueError(f"{path.name} block {i + 1}: metadata where an abstract belongs")
        i += 2
        meta = {}
        if i < len(blocks) and blocks[i].lstrip().startswith("\u2022"):
            meta = _parse_meta(blocks[i])
            i += 1
        entries.append(RawEntry(path.name, len(entries), title, abstract, **meta))
    return entries


def parse_page(path: str | Path) -> list[RawEntry]:
    """Parse one result page, picking the layout from its content (no blank lines = ``000``)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    return parse_block_page(path) if re.search(r"\n\s*\n", text) else parse_line_page(path)


def parse_sources(sources_dir: str | Path) -> list[RawEntry]:
    """Parse every ``*.txt`` page in ``sources_dir`` in file-name order.

    Raises:
        ValueError: if the directory holds no ``.txt`` page.
    """
    paths = sorted(Path(sources_dir).glob("*.txt"))
    if not paths:
        raise ValueError(f"no .txt result pages in {sources_dir}")
    return [e for p in paths for e in parse_page(p)]
