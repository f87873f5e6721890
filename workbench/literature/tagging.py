"""Rule-based tagging: technique families, primary task and relevance of a paper.

Everything here is a keyword rule over title and abstract (rules are the data tables
:data:`~workbench.literature.families.FAMILIES`, :data:`TASKS` and :data:`CORE_TITLE`); no
model is trained. Family patterns are weighed by where they occur (title, contribution sentence,
ordinary sentence; baselines, listed examples, negated phrases and prior-work sentences do not
count): :mod:`workbench.literature.context`. What the rules get wrong is corrected in ``datasets/literature/overrides.csv``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .context import FIRE_SCORE, method_names, rx, segments
from .families import EFFICIENCY, FAMILIES, Family

# Primary task: (slug, title regexes, abstract regexes). Score = 3 x title hits + abstract
# hits; the highest score wins, ties go to the earlier row; no hit at all -> "generic".
TASKS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("sr_restoration",
     (r"super[- ]?resolution", r"denois", r"inpainting", r"restoration", r"enhancement", r"deflicker",
      r"cloud removal", r"shadow removal", r"image compression", r"deblur", r"dehaz"),
     (r"super[- ]?resolution", r"denois", r"inpainting", r"\bpsnr\b", r"restoration", r"enhancement")),
    ("detection",
     (r"object detection", r"\bdetector\b", r"\byolo", r"face detection", r"keypoint detection",
      r"line segment detection", r"\bssd\b", r"face localisation", r"damage detection", r"single-shot"),
     (r"object detection", r"\bcoco\b", r"\bmap\b", r"\bdetectors?\b", r"\byolo")),
    ("segmentation",
     (r"segment", r"matting", r"panoptic"),
     (r"segmentation", r"\bmiou\b", r"cityscapes", r"ade20k")),
    ("image_classification",
     (r"image (classification|recognition)", r"imagenet", r"convnets?\b", r"\bcnns?\b", r"mobilenet",
      r"vision transformers?", r"\bvits?\b", r"backbones?", r"visual recognition", r"vision models?"),
     (r"imagenet", r"image classification", r"top-1", r"classification accuracy", r"cifar")),
    ("language_modelling",
     (r"language models?", r"\bllms?\b", r"\bbert\b", r"\bgpt", r"\btext\b", r"natural language",
      r"dialog", r"translation", r"decoding", r"retrieval-augmented", r"\bmoe\b|mixture[- ]of[- ]experts"),
     (r"language models?", r"\bllms?\b", r"\bnlp\b", r"\btokens?\b", r"\bbert\b", r"\bglue\b",
      r"perplexity")),
    ("speech_audio",
     (r"speech", r"audio", r"speaker", r"vocoder", r"voice", r"polyphonic", r"sound", r"music"),
     (r"speech", r"audio", r"speaker", r"acoustic")),
    ("video",
     (r"\bvideos?\b", r"tracking", r"action recognition", r"motion"),
     (r"\bvideos?\b", r"temporal", r"tracking", r"kinetics")),
    ("multimodal",
     (r"vision-language", r"multimodal", r"multi-modal", r"\bclip\b", r"text-to-image", r"image-text",
      r"visual question", r"text-driven", r"modalities"),
     (r"vision-language", r"multimodal", r"multi-modal", r"\bclip\b")),
    ("generation",
     (r"diffusion", r"\bgans?\b", r"generative", r"stylegan", r"image synthesis", r"generation"),
     (r"diffusion", r"generative adversarial", r"\bfid\b", r"image synthesis")),
    ("other_vision",
     (r"depth", r"stereo", r"pose", r"optical flow", r"nerf", r"radiance field", r"3d", r"point cloud",
      r"matching", r"gaze", r"image quality", r"saliency", r"crowd counting", r"re-identification",
      r"gaussian", r"neural fields?", r"mesh", r"license plate", r"hyperspectral", r"remote sensing",
      r"medical image", r"image retrieval", r"\bimages?\b", r"visual"),
     (r"depth estimation", r"pose estimation", r"\bnerf\b", r"point clouds?")),
    ("graph",
     (r"\bgraphs?\b", r"\bgnns?\b", r"node", r"link prediction", r"network embedding"),
     (r"graph neural", r"\bgnns?\b", r"message passing")),
)
TASK_SLUGS: tuple[str, ...] = tuple(t[0] for t in TASKS) + ("generic",)

# Relevance: a title with one of these words frames the paper as an efficiency contribution.
CORE_TITLE = (
    r"efficien|lightweight|light-weight|\blite\b|compact|tiny|mobile|real-time|\bfast(er)?\b|"
    r"\bcheap|quick|accelerat|speed|prun|quantiz|binary|\bint8|fp8|low[- ](bit|memory|latency|power|"
    r"overhead|complexity|rank)|distill|compress|sparse|sparsit|on-device|\bedge\b|embedded|"
    r"architecture search|\bnas\b|parameter[- ]efficient|\blora\b|sub-millisecond|millisecond|"
    r"early[- ]exit|speculative|mixture[- ]of[- ]experts|\bmoe|mamba|re-?parameteri|ghost|shuffle|"
    r"\d+\s*k parameters|\d+m vision|large kernel|design spaces?|model scaling|slimmable|"
    r"resource[- ]constrained|microcontroller|tinyml|fpga|\bcost\b|zero-cost|\d+ ?times faster"
)
RELEVANCE = ("core", "peripheral", "off_topic")


def _rx(pattern: str) -> re.Pattern[str]:
    return rx(pattern)


def _hits(patterns: tuple[str, ...], text: str) -> int:
    return sum(bool(_rx(p).search(text)) for p in patterns)


@dataclass(frozen=True)
class Evidence:
    """Why a family fires (or not) on a paper.

    Attributes:
        score: summed weight of the title / sentences where a title or strong pattern matched
            (see :mod:`workbench.literature.context`).
        weak: distinct weak patterns matched in counted sentences.
        first: index of the first matching segment (0 = title), for tie-breaks; large when none.
        efficient: whether the efficiency requirement (if any) is met.
        vetoed: whether an ``exclude`` pattern vetoed the family.
        matched: ``"title:<pattern>"`` / ``"s3:<pattern>"`` (sentence 3) / ``"weak:<pattern>"`` entries.
    """

    score: float
    weak: int
    first: int
    efficient: bool
    vetoed: bool
    matched: tuple[str, ...]


# A sentence that speaks of the paper's own model ("our approach ... a lightweight generator").
OWN_METHOD = r"\b(our|the proposed|this) (\w+[\s-]+){0,2}(approach|method|model|network|framework|architecture|design|system|generator|detector|segmenter)s?\b"


def _efficiency_ok(family: Family, title: str, segs: tuple[tuple[str, float], ...]) -> bool:
    """Efficiency is a subject of the paper's work on the family's area: an efficiency word in the title,
    or in abstract sentences weighing >= FIRE_SCORE that also name the area (one of the family's
    patterns: "segmentation", "language model", ...), the method's name from the title ("Flextron
    ... latency targets") or the paper's own model ("our approach ... a lightweight generator"). An efficiency word elsewhere ("an efficient
    training recipe") does not make a segmentation paper an efficient-segmentation paper."""
    pat = _rx(EFFICIENCY)
    if pat.search(segs[0][0]):
        return True
    area = family.title_patterns + family.strong + family.weak
    names = method_names(title)
    def about_the_work(text: str) -> bool:
        return bool(_hits(area, text) or any(n in text for n in names) or _rx(OWN_METHOD).search(text))
    return sum(w for text, w in segs[1:] if pat.search(text) and about_the_work(text)) >= FIRE_SCORE


def evidence(family: Family, title: str, abstract: str) -> Evidence:
    """Weighted evidence for ``family`` on a paper (see :mod:`workbench.literature.families`)."""
    vetoed = bool(_hits(family.exclude, f"{title}\n{abstract}"))
    segs = segments(title, abstract)
    score, first, matched, weak_hit = 0.0, 10_000, [], set()
    for k, (text, w) in enumerate(segs):
        if w <= 0 or _hits(family.negative, text):
            continue
        pats = [p for p in (family.title_patterns if k == 0 else ()) + family.strong if _rx(p).search(text)]
        if pats:
            score += w
            first = min(first, k)
            matched += [f"{'title' if k == 0 else f's{k}'}:{p}" for p in pats]
        weak_hit |= {p for p in family.weak if _rx(p).search(text)}
    matched += [f"weak:{p}" for p in family.weak if p in weak_hit]
    efficient = family.requires is None or _efficiency_ok(family, title, segs)
    return Evidence(score, len(weak_hit), first, efficient, vetoed, tuple(matched))


def _fires(family: Family, ev: Evidence) -> bool:
    if ev.vetoed or not ev.efficient:
        return False
    return ev.score >= FIRE_SCORE or bool(family.weak and ev.weak >= family.min_weak)


def family_fires(family: Family, title: str, abstract: str) -> bool:
    """Whether ``family``'s rule tags a paper (see :mod:`workbench.literature.families`)."""
    return _fires(family, evidence(family, title, abstract))


def tag_families(title: str, abstract: str) -> list[str]:
    """Family slugs whose rules fire, in :data:`FAMILIES` order."""
    return [f.slug for f in FAMILIES if family_fires(f, title, abstract)]


def primary_family(title: str, abstract: str, families: list[str] | None = None) -> str | None:
    """The paper's main family: the fired family (or one of ``families``) with the most evidence.

    Ties go to the family mentioned first (title before abstract), then to :data:`FAMILIES` order.
    ``None`` when no family applies.
    """
    fams = [f for f in FAMILIES if (f.slug in families if families is not None else family_fires(f, title, abstract))]
    if not fams:
        return None
    def key(f: Family) -> tuple[float, int, int]:
        ev = evidence(f, title, abstract)
        return (-(ev.score + 0.5 * min(ev.weak, f.min_weak)), ev.first, FAMILIES.index(f))
    return min(fams, key=key).slug


def classify_task(title: str, abstract: str) -> str:
    """Primary task slug (one of :data:`TASK_SLUGS`) by weighted keyword hits."""
    best, best_score = "generic", 0
    for slug, title_pats, abstract_pats in TASKS:
        score = 3 * _hits(title_pats, title) + _hits(abstract_pats, abstract)
        if score > best_score:
            best, best_score = slug, score
    return best


def classify_relevance(title: str, families: list[str]) -> str:
    """``core`` / ``peripheral`` / ``off_topic`` from the title framing and the families.

    * ``off_topic``: no family fired;
    * ``core``: a family fired and the title frames the paper as an efficiency contribution;
    * ``peripheral``: a family fired but efficiency is not the title's subject.
    """
    if not families:
        return "off_topic"
    return "core" if _rx(CORE_TITLE).search(title) else "peripheral"


def explain_families(title: str, abstract: str) -> dict[str, list[str]]:
    """For each family that fires, where its patterns matched (``title:``, ``s<k>:`` sentence k, ``weak:``).

    Meant for auditing a tag: ``explain_families(r["title"], r["abstract"])``.
    """
    out: dict[str, list[str]] = {}
    for f in FAMILIES:
        ev = evidence(f, title, abstract)
        if _fires(f, ev):
            out[f.slug] = list(ev.matched)
    return out
