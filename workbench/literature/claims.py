"""Extract quantitative claims (params, MACs/FLOPs, accuracy, latency, ...) from abstracts.

Each claim keeps the metric word the paper used ("FLOPs", "MAdds", "top-1", "mAP"), the value
and unit as printed, a normalized value (``norm``: params and compute in millions, latency in
ms, memory in MB, everything else as printed) and the sentence fragment it came from, so a
reader can check every number. FLOPs are **not** converted to MACs here: half the literature
writes "FLOPs" for multiply-adds, and only the paper's body says which.

Patterns are regexes in the :data:`PATTERNS` table; a number already used by an earlier
pattern is not claimed twice.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

NUM = r"(?P<val>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
SCALE = r"(?P<unit>[KkMBGT]|[Mm]illion|[Bb]illion)"
TIMES = r"(?:x|×|\\times|\$\\times\$|times)(?!\s*\d)"
_ABS_ACC = r"\b(?P<metric>top-?1|top-?5|mAP|mIoU|box AP|mask AP|AP(?:50|75)?|accuracy|mAcc)\b"

# (kind, regex). Named groups: val (required), unit, metric (defaults given by _DEFAULTS).
PATTERNS: tuple[tuple[str, str], ...] = (
    ("params", rf"{NUM}\s*-?\s*{SCALE}\b[- ]?(?:(?:learnable|trainable|total|active|additional)\s+)?(?:parameters|params)\b"),
    ("params", rf"(?:parameters|params)\s*(?:\(|of|:|=|with|only|count)*\s*(?:only\s+)?{NUM}\s*{SCALE}\b"),
    ("compute", rf"{NUM}\s*{SCALE}?\s*(?P<metric>FLOPs?|MACs|MAdds|Mult-Adds|multiply-adds)\b(?!\s*\()"),
    ("compute", rf"{NUM}\s*(?P<metric>FLOPs?)\s*\((?P<unit>[KMGT])\)"),
    ("compute", rf"{NUM}\s*(?P<metric>(?P<unit>[KMGT])(?:FLOPs?|MACs))\b"),
    ("compute", rf"(?P<metric>FLOPs|MACs|MAdds)\s*(?:of|:|=)\s*{NUM}\s*{SCALE}\b"),
    ("accuracy", rf"{NUM}\s*%\s*(?:\w+\s){{0,2}}?{_ABS_ACC}"),
    ("accuracy", rf"{_ABS_ACC}(?:\s+(?:accuracy|score))?\s*(?:of|:|=|is|reaches|achieves)?\s*{NUM}\s*(?P<unit>%)"),
    ("accuracy", rf"{NUM}\s*(?P<metric>mAP|mIoU|AP|box AP|mask AP)\b"),
    ("accuracy", rf"(?P<metric>PSNR)\b[^.;]{{0,40}}?{NUM}\s*(?P<unit>dB)"),
    ("accuracy", rf"{NUM}\s*(?P<unit>dB)\b"),
    ("accuracy", rf"{NUM}\s*(?P<metric>PSNR)\b"),
    ("latency", rf"{NUM}\s*(?P<unit>ms|milliseconds?|µs|us)\b"),
    ("throughput", rf"{NUM}\s*(?P<unit>FPS|fps|frames per second|frames/s|images/s|img/s|tokens/s)"),
    ("speedup", rf"{NUM}\s*{TIMES}\s*(?P<metric>faster|speed-?ups?|acceleration|fewer|smaller|less|lower|reduction|compression|higher throughput)"),
    ("speedup", rf"(?P<metric>speed-?ups?|acceleration|compression(?: ratio)?)\s*(?:of|by|up to)*\s*{NUM}\s*{TIMES}"),
    ("speedup", rf"{NUM}\s*{TIMES}\s*(?P<metric>)"),
    ("memory", rf"{NUM}\s*(?P<unit>[KMGkT]i?B)\b"),
    ("reduction", rf"(?P<metric>reduc\w*|cut\w*|sav\w*|lower\w*|decreas\w*)\s+(?:\w+\s+){{0,4}}?by\s+(?:up to\s+)?{NUM}\s*(?P<unit>%)"),
    ("reduction", rf"{NUM}\s*(?P<unit>%)\s*(?P<metric>reduction|fewer|less|lower|saving|smaller|faster)"),
)
_DEFAULTS = {
    "params": ("params", ""), "compute": ("FLOPs", ""), "accuracy": ("accuracy", "%"),
    "latency": ("latency", "ms"), "throughput": ("throughput", ""), "speedup": ("speed-up", "x"),
    "memory": ("memory", "MB"), "reduction": ("reduction", "%"),
}
_SCALE_TO_M = {"k": 1e-3, "m": 1.0, "million": 1.0, "b": 1e3, "billion": 1e3, "g": 1e3, "t": 1e6, "": 1e-6}
_TIME_TO_MS = {"ms": 1.0, "millisecond": 1.0, "milliseconds": 1.0, "µs": 1e-3, "us": 1e-3}
_BYTES_TO_MB = {"k": 1e-3, "m": 1.0, "g": 1e3, "t": 1e6}
_MEMORY_CONTEXT = re.compile(r"memory|footprint|size|storage|ram\b|sram|vram|flash|weights", re.I)
_COMPUTE_WORDS = {"flop": "FLOPs", "flops": "FLOPs", "macs": "MACs", "madds": "MAdds",
                  "mult-adds": "Mult-Adds", "multiply-adds": "multiply-adds"}
_GAIN_IN_MATCH = re.compile(r"improv|gain|higher|increase|boost|better|more", re.I)
_RELATIVE = re.compile(r"\b(improv\w*|gains?|boost\w*|increas\w*|higher|more accurate|better|outperform\w*|by|drop\w*|degrad\w*|loss)(\W+\w+){0,2}\W*$", re.I)


@dataclass(frozen=True)
class Claim:
    """One number stated in an abstract.

    Attributes:
        kind: params, compute, accuracy, latency, throughput, speedup, memory or reduction.
        metric: the paper's word ("FLOPs", "MAdds", "top-1", "mAP", "PSNR", "faster", ...);
            accuracy deltas ("+2.1% top-1") get the suffix " (gain)".
        value: the number as printed.
        unit: unit as printed ("M", "G", "%", "dB", "ms", "FPS", "x", "MB", "" for raw counts).
        norm: value in the kind's canonical unit (params / compute: millions, latency: ms,
            memory: MB; other kinds: ``value``).
        text: the sentence fragment around the number.
    """

    kind: str
    metric: str
    value: float
    unit: str
    norm: float
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


def _norm(kind: str, value: float, unit: str) -> float:
    u = unit.lower()
    if kind in ("params", "compute"):
        return value * _SCALE_TO_M.get(u, 1.0)
    if kind == "latency":
        return value * _TIME_TO_MS.get(u, 1.0)
    if kind == "memory":
        return value * _BYTES_TO_MB.get(u[:1], 1.0)
    return value


def _fragment(sentence: str, start: int, end: int, width: int = 70) -> str:
    lo, hi = max(0, start - width), min(len(sentence), end + width)
    # Widen to word boundaries so fragments do not start mid-word.
    while lo > 0 and sentence[lo - 1] != " ":
        lo -= 1
    while hi < len(sentence) and sentence[hi] != " ":
        hi += 1
    return ("..." if lo else "") + sentence[lo:hi].strip() + ("..." if hi < len(sentence) else "")


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z(])", text)


def extract_claims(text: str) -> list[Claim]:
    """All quantitative claims in ``text``, in order of appearance.

    Example:
        >>> [(c.kind, c.metric, c.value, c.unit) for c in extract_claims(
        ...     "74.1% top-1 accuracy with 295M FLOPs and 23.1 ms latency")]
        [('accuracy', 'top-1', 74.1, '%'), ('compute', 'FLOPs', 295.0, 'M'), ('latency', 'latency', 23.1, 'ms')]
    """
    claims: list[tuple[int, int, Claim]] = []
    for s_idx, sentence in enumerate(_sentences(text)):
        used: list[tuple[int, int]] = []
        for kind, pattern in PATTERNS:
            for m in re.finditer(pattern, sentence, flags=re.IGNORECASE):
                vs, ve = m.span("val")
                if any(vs < b and a < ve for a, b in used):
                    continue
                if sentence[max(0, vs - 1) : vs].isalpha() or sentence[max(0, vs - 1) : vs] in ".-":
                    continue  # part of a name such as "YOLOv9" or "x4"; not a measured value
                gd = m.groupdict()
                metric = (gd.get("metric") or "").strip() or _DEFAULTS[kind][0]
                unit = (gd.get("unit") or _DEFAULTS[kind][1]).strip()
                if kind == "compute":
                    word = metric.lower()  # "GFLOPs" carries its scale in the unit group
                    metric = _COMPUTE_WORDS.get(word) or _COMPUTE_WORDS[word[1:]]
                if kind == "accuracy" and (unit == "dB" or metric == "PSNR"):
                    metric, unit = "PSNR", "dB"
                value = float(m["val"].replace(",", ""))
                if kind == "accuracy" and unit == "%" and value > 100:
                    continue  # a year ("VOC 2007 mAP") or a count, not a percentage
                if kind == "accuracy" and unit == "%" and (
                    _RELATIVE.search(sentence[: m.start()]) or _GAIN_IN_MATCH.search(m.group(0) + sentence[m.end() : m.end() + 14])
                    or sentence[max(0, vs - 1) : vs] == "+"
                ):
                    metric += " (gain)"
                if kind == "memory" and not _MEMORY_CONTEXT.search(sentence):
                    continue  # "MB" with no memory/size word nearby is usually a data size
                used.append((vs, ve))
                claim = Claim(kind, metric, value, unit, round(_norm(kind, value, unit), 6),
                              _fragment(sentence, m.start(), m.end()))
                claims.append((s_idx, vs, claim))
    return [c for _, _, c in sorted(claims, key=lambda t: (t[0], t[1]))]
