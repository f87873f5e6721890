"""Rule-based tagging: technique families, primary task and relevance of a paper.

Everything here is a keyword rule over title and abstract (rules are the data tables
:data:`~workbench.literature.families.FAMILIES`, :data:`TASKS` and :data:`CORE_TITLE`); no
model is trained. What the rules get wrong is corrected in ``datasets/literature/overrides.csv``.
"""

from __future__ import annotations

import re
from functools import cache

from .families import FAMILIES, Family

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


@cache
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _hits(patterns: tuple[str, ...], text: str) -> int:
    return sum(bool(_rx(p).search(text)) for p in patterns)


def family_fires(family: Family, title: str, abstract: str) -> bool:
    """Whether ``family``'s rule tags a paper (see :mod:`workbench.literature.families`)."""
    both = f"{title}\n{abstract}"
    if _hits(family.exclude, both):
        return False
    if family.requires and not _rx(family.requires).search(both):
        return False
    return bool(
        _hits(family.title_patterns, title)
        or _hits(family.strong, both)
        or (family.weak and _hits(family.weak, abstract) >= family.min_weak)
    )


def tag_families(title: str, abstract: str) -> list[str]:
    """Family slugs whose rules fire, in :data:`FAMILIES` order."""
    return [f.slug for f in FAMILIES if family_fires(f, title, abstract)]


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
    """For each family that fires, the patterns that matched (``title:``/``strong:``/``weak:``).

    Meant for auditing a tag: ``explain_families(r["title"], r["abstract"])``.
    """
    out: dict[str, list[str]] = {}
    for f in FAMILIES:
        if family_fires(f, title, abstract):
            both = f"{title}\n{abstract}"
            out[f.slug] = (
                [f"title:{p}" for p in f.title_patterns if _rx(p).search(title)]
                + [f"strong:{p}" for p in f.strong if _rx(p).search(both)]
                + [f"weak:{p}" for p in f.weak if _rx(p).search(abstract)]
            )
    return out
