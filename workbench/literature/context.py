"""Split a paper's title and abstract into weighted text segments for the tagging rules.

A keyword that names the paper's contribution ("we propose a pruning method") should count more than
one that names a baseline ("surpassing MobileNetV4"), an example in a list ("e.g., ResNet, ConvNeXt"),
something the paper avoids ("without distillation") or prior work ("Recent efforts use NAS").
:func:`segments` returns ``(text, weight)`` pairs with those passages cut out and each sentence
weighted by its role:

* the title: :data:`TITLE_WEIGHT`;
* an abstract sentence that states the contribution ("we", "our", "this paper", "propose"..., or the
  method's name from the title): :data:`CONTRIBUTION_WEIGHT`;
* a sentence about prior work or a limitation of it ("However, existing methods ..."): 0;
* any other sentence: 1.

A family fires when its patterns reach :data:`FIRE_SCORE` (the title alone, one contribution sentence,
or two ordinary sentences): :func:`workbench.literature.tagging.family_score`.
"""

from __future__ import annotations

import re
from functools import cache

TITLE_WEIGHT = 3.0
CONTRIBUTION_WEIGHT = 2.0
FIRE_SCORE = 2.0

# A sentence that states what the paper does.
CONTRIBUTION = (
    r"\b(we|our|ours|this (paper|work|study|article|survey|review|dissertation|thesis)|in this (paper|work|study)|"
    r"(core |main |key )?contributions?|"
    r"(is|are) proposed|propos\w*|introduc\w*|present\w*|dubbed|termed|called|named)\b"
)
# A sentence about prior work or its limitations (ignored unless it also states the contribution).
REFERENCE = (
    r"^(however|but|unfortunately|nevertheless|yet|traditionally|previously|conventionally)\b|"
    r"\b(existing|previous|prior|conventional|traditional|recent|current|popular|mainstream|"
    r"state-of-the-art|sota)\s+(\w+[\s-]+){0,2}(methods?|works?|approach\w*|models?|networks?|designs?|efforts?|"
    r"stud(y|ies)|advances?|literature|architectures?|techniques?|solutions?|frameworks?|research\w*)\b|"
    r"\brecent(ly)?,? (years|progress|research|advances|work|efforts|studies)\b"
)
# Within a sentence: text after a comparison cue names a baseline; cut to the end of the clause.
COMPARISON = (
    r"\b(than|compared (to|with)|in comparison|outperform\w*|surpass\w*|relative to|versus|vs\.?|"
    r"as (\w+ )?(fast|small|accurate|efficient|good|well) as|over (the )?(state-of-the-art|sota|baselines?)|"
    r"on par with|comparable (to|with)|rivals?|beats?|as opposed to)\b"
)
# Examples in a list; cut to the end of the clause (or the closing parenthesis).
# ("i.e." introduces the same thing again, not an example, so it is not cut.)
LISTING = r"(\b(such as|e\.g\.|including|for example|for instance)|\bet al\.)"
# Something the paper avoids or goes beyond; cut the next few words.
NEGATION = (
    r"\b(without|instead of|rather than|beyond|free of|bypass\w*|no need (for|of)|avoid\w*|w/o|unlike|"
    r"not require\w*|eliminat\w*( the need for)?|replac\w*|(reduced|less|lower|minimal) (reliance|dependence) on)\s+((the|a|an|any|extra|additional|costly|expensive|"
    r"heavy)\s+)*(\S+\s*){1,3}"
)
# A sentence that opens with a contrast: the clause up to the first comma describes the other side.
CONTRAST_OPENING = r"^(while|although|though|whereas|unlike|in contrast to|compared (to|with)|instead of|despite)\b[^,]*,"
CLAUSE_END = r"[;:)]|,\s+(and|but|while|which|whereas)\b|$"


@cache
def rx(pattern: str) -> re.Pattern[str]:
    """Compiled case-insensitive regex (cached)."""
    return re.compile(pattern, re.IGNORECASE)


_ABBREV = rx(r"\b(e\.g|i\.e|et al|vs|etc|cf|fig|eq|approx|resp)\.$")


def sentences(text: str) -> list[str]:
    """Split an abstract into sentences (also where the source glued them: ``"assistant.Based"``)."""
    parts = re.split(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])", text.strip())
    out: list[str] = []
    for p in parts:
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {p}"
        elif p:
            out.append(p)
    return out


def _cut_after(pattern: str, text: str) -> str:
    """Remove each match of ``pattern`` and what follows it up to the end of its clause."""
    out, pos = [], 0
    for m in rx(pattern).finditer(text):
        if m.start() < pos:
            continue
        end = rx(CLAUSE_END).search(text, m.end())
        out.append(text[pos:m.start()])
        pos = end.start() if end else len(text)
    out.append(text[pos:])
    return " ".join(out)


def clean(text: str) -> str:
    """``text`` with contrast openings, baselines, listed examples and negated phrases cut out."""
    text = rx(CONTRAST_OPENING).sub(" ", text)
    text = rx(NEGATION).sub(" ", text)
    text = _cut_after(COMPARISON, text)
    return _cut_after(LISTING, text)


def method_names(title: str) -> tuple[str, ...]:
    """Names the paper gives its method: the title part before a colon when short ("MnasNet"), else
    title words with an inner capital ("Searching for MobileNetV3")."""
    head, colon, _ = title.partition(":")
    if colon and len(head.split()) <= 3:
        names = {head.strip()}
    else:
        names = {w.strip("(),.:") for w in title.split() if re.fullmatch(r"[A-Za-z]*[a-z][A-Z0-9]\w*", w.strip("(),.:"))}
    return tuple(sorted(n for n in names if len(n) >= 3))


def sentence_weight(sentence: str, names: tuple[str, ...] = ()) -> float:
    """Weight of an abstract sentence: contribution 2 (including one naming the paper's own method),
    prior work 0, otherwise 1."""
    if rx(CONTRIBUTION).search(sentence) or any(n in sentence for n in names):
        return CONTRIBUTION_WEIGHT
    if rx(REFERENCE).search(sentence):
        return 0.0
    return 1.0


@cache
def segments(title: str, abstract: str) -> tuple[tuple[str, float], ...]:
    """``(cleaned text, weight)`` for the title and each abstract sentence, in order."""
    out = [(clean(title), TITLE_WEIGHT)]
    names = method_names(title)
    out += [(clean(s), sentence_weight(s, names)) for s in sentences(abstract)]
    return tuple(out)
