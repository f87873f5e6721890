"""Extract quantitative claims (params, MACs/FLOPs, accuracy, latency, ...) from abstracts.

Each claim keeps the metric word the paper used ("FLOPs", "MAdds", "top-1", "mAP"), the value
and unit as printed, a normalized value (``norm``: params and compute in millions, latency in
ms, memory in MB, everything else as printed) and the sentence fragment it came from, so a
reader can check every number, plus the sentence index (claims are paired within one
sentence only) and a bound flag ("< 1 GFLOP", "up to", "~", range ends).

FLOPs are converted to multiply-adds (``macs``) only where the convention is known: the
metric itself says multiply-adds (MACs, MAdds, Mult-Adds), or the caller passes the paper's
recorded convention (``datasets/literature/flops_convention.csv``, read by the catalogue).
Half the literature writes "FLOPs" for multiply-adds, and only the paper's body says which.

Patterns are regexes in the :data:`PATTERNS` table; a number already used by an earlier
pattern is not claimed twice. Extraction is a pure function of the text (deterministic).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

NUM = r"(?P<val>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
SCALE = r"(?P<unit>[KkMBGT]|[Mm]illion|[Bb]illion)"
TIMES = r"(?:x|×|\\times|\$\\times\$|times)(?![a-z])(?!\s*\d)(?!\s*[-–]\s*\d)"  # not "3x3", "timestep", a range start
PCT = r"\s*(?P<unit>\\?%)"  # LaTeX abstracts write "80.0\%"
_ABS_ACC = r"\b(?P<metric>top-?1|top-?5|mAP|mIoU|box AP|mask AP|AP(?:50|75)?|accurac(?:y|ies)|mAcc)\b"
_COMPUTE = r"(?:G?FLOPs?|MACs|MAdds|Mult-Adds|multiply-adds|computation)"

# (kind, regex). Named groups: val (required), unit, metric (defaults given by _DEFAULTS).
PATTERNS: tuple[tuple[str, str], ...] = (
    ("params", rf"{NUM}\s*-?\s*{SCALE}\b[- ]?(?:(?:learnable|trainable|total|active|additional)\s+)?(?:parameters|params)\b"),
    ("params", rf"{NUM}\s+(?:(?:learnable|trainable|total)\s+)?(?:parameters|params)\b"),  # raw counts, >= 1000 kept
    ("params", rf"(?:parameters|params)\s*(?:\(|of|:|=|with|only|count)*\s*(?:only\s+)?{NUM}\s*{SCALE}\b"),
    ("compute", rf"{NUM}\s*{SCALE}?\s*(?P<metric>FLOPs?|MACs|MAdds|Mult-Adds|multiply-adds)\b(?!\s*\()"),
    ("compute", rf"{NUM}\s*(?P<metric>FLOPs?)\s*\((?P<unit>[KMGT])\)"),
    ("compute", rf"{NUM}\s*(?P<metric>(?P<unit>[KMGT])(?:FLOPs?|MACs))\b"),
    ("compute", rf"(?P<metric>FLOPs|MACs|MAdds)\s*(?:of|:|=)\s*{NUM}\s*{SCALE}\b"),
    ("accuracy", rf"{NUM}{PCT}\s*(?:[\w-]+\s){{0,2}}?(?P<metric>(?:top-?[15]\s+)?(?:test\s+|classification\s+)?error(?:\s+rate)?)\b"),
    ("accuracy", rf"{NUM}{PCT}\s*(?:[\w-]+\s){{0,2}}?{_ABS_ACC}"),
    ("accuracy", rf"{_ABS_ACC}(?:\s+(?:accuracy|accuracies|score))?\s*(?:of|:|=|is|reaches|achieves)?\s*(?:ranging\s+from\s+)?{NUM}{PCT}"),
    ("accuracy", rf"{NUM}\s*(?P<metric>mAP|mIoU|AP|box AP|mask AP|top-?1)\b"),
    ("accuracy", rf"{NUM}{PCT}\s+more\s+accurate\b"),  # always a gain
    ("accuracy", rf"(?P<metric>PSNR)\b[^.;]{{0,40}}?{NUM}\s*(?P<unit>dB)"),
    ("accuracy", rf"{NUM}\s*(?P<unit>dB)\b"),
    ("accuracy", rf"{NUM}\s*(?P<metric>PSNR)\b"),
    ("latency", rf"{NUM}\s*(?P<unit>ms|milliseconds?|µs|us)\b"),
    ("throughput", rf"{NUM}\+?\s*(?P<unit>FPS|fps|frames per second|frames/s|images/s|img/s|tokens?/s)"),
    ("speedup", rf"{NUM}\s*{TIMES}\s*(?:times\s+)?(?P<metric>faster|speed-?ups?|acceleration|fewer|smaller|less|lower|reduction|compression|higher throughput)"),
    ("speedup", rf"(?P<metric>speed-?ups?|acceleration|compression(?: ratio)?)\s*(?:of|by|up to)*\s*{NUM}\s*{TIMES}"),
    ("speedup", rf"(?P<metric>speed-?ups?)\s+of\s+(?:up\s+to\s+)?{NUM}(?![.\d])(?!\s*\\?%)(?!\s*[-–]\s*\d)"),  # "a speedup of 2.33": a ratio
    ("speedup", rf"{NUM}\s*{TIMES}\s*(?P<metric>)"),
    ("memory", rf"{NUM}\s*(?P<unit>[KMGkT]i?B)\b"),
    ("reduction", rf"(?P<metric>reduc\w*|cut\w*|sav\w*|lower\w*|decreas\w*)\s+(?:\w+\s+){{0,4}}?by\s+(?:up to\s+)?{NUM}{PCT}"),
    ("reduction", rf"(?P<metric>reduc\w*|sav\w*|cut\w*)\s+(?:of\s+)?(?:up\s+to\s+|approximately\s+|about\s+|around\s+)?{NUM}{PCT}\s*(?:\([^)]*\)\s*)?(?:of\s+)?(?:the\s+)?(?:parameters|params|{_COMPUTE}|memory|latency)"),
    ("reduction", rf"{NUM}{PCT}\s*(?P<metric>reduction|fewer|less|lower|saving|smaller|faster)"),
)
_DEFAULTS = {
    "params": ("params", ""), "compute": ("FLOPs", ""), "accuracy": ("accuracy", "%"),
    "latency": ("latency", "ms"), "throughput": ("throughput", ""), "speedup": ("ratio", "x"),
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


_MAC_WORDS = {"MACs", "MAdds", "Mult-Adds", "multiply-adds"}
FLOPS_CONVENTIONS = ("macs", "flops")
# Words just before a number that make it a bound or an approximation, not a measured value.
_BOUND_BEFORE = (
    ("<", re.compile(r"(?:<|≤|\\?\bleq?|\bless than|\bfewer than|\bunder|\bbelow|\bup to|\bat most|\bwithin)(?:\s+an?)?\s*\(?\s*$", re.I)),
    (">", re.compile(r"(?:>|≥|\\?\bgeq?|\bmore than|\bover|\babove|\bat least|\bexceeding|\bupward of)(?:\s+an?)?\s*\(?\s*$", re.I)),
    ("~", re.compile(r"(?:~|≈|\\sim|\\approx|\bapproximately|\babout|\baround|\bnearly|\broughly|\balmost)(?:\s+an?)?\s*\(?\s*$", re.I)),
)
# One earlier item of a list or range sharing the matched number's unit: "25.2, 31.3 and 41 mAP",
# "2.78/3.83/5.62 ms", "1.3-2.4x", "from 75.2% to 79%".
_ITEM = re.compile(r"(?<![\w.\-+])(?P<val>\d+(?:\.\d+)?)\s*(?P<suffix>\\?%|x|×|times)?\s*"
                   r"(?P<sep>,\s*and\s+|,\s*|\s*[/|]\s*|\s+and\s+|\s+to\s+|\s*[-–]\s*)$")
# "1.3-" before a number: the number ends a range (unlike "ResNet-" or "MobileNetV2-").
_RANGE_START = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*(?:x|×|times|\\?%)?-$")
_RANGE_NEXT = re.compile(r"\s*(?:\\?%|x|×|dB)?\s*(?:to|[-–~])\s*\d")
# Later items of a list of percentages after the matched one: "of 93.05%, 70.15% and 67.71%",
# "75.15%|82.03%"; each must print its own % sign.
_NEXT_PCT = re.compile(r"\s*(?:,\s*and\s+|,\s*|\s*/\s*|\s*\|\s*|\s+and\s+)(?P<val>\d+(?:\.\d+)?)\s*\\?%")


@dataclass(frozen=True)
class Claim:
    """One number stated in an abstract.

    Attributes:
        kind: params, compute, accuracy, latency, throughput, speedup, memory or reduction.
        metric: the paper's word ("FLOPs", "MAdds", "top-1", "mAP", "PSNR", "faster", ...);
            accuracy or error-rate deltas ("+2.1% top-1") get the suffix " (gain)".
        value: the number as printed.
        unit: unit as printed ("M", "G", "%", "dB", "ms", "FPS", "x", "MB", "" for raw counts).
        norm: value in the kind's canonical unit (params / compute: millions, latency: ms,
            memory: MB; other kinds: ``value``).
        text: the sentence fragment around the number.
        sentence: index of the sentence in the abstract (0-based), so claims of one sentence
            can be paired.
        bound: ``"<"`` (upper bound: "< 1 GFLOP", "up to"), ``">"`` (lower bound: "> 4 GFLOPs",
            "1000+"), ``"~"`` (approximate, or one end of a range "1.3-2.4x") or ``""`` (a value).
        macs: compute claims only: multiply-adds in millions where the convention is known
            (the metric says multiply-adds, or the paper's FLOPs convention is recorded),
            else ``None`` ("as stated").
    """

    kind: str
    metric: str
    value: float
    unit: str
    norm: float
    text: str
    sentence: int = 0
    bound: str = ""
    macs: float | None = None

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


def _macs(kind: str, metric: str, norm: float, convention: str | None) -> float | None:
    """Multiply-adds (millions) of a compute claim, or None where the convention is unknown."""
    if kind != "compute":
        return None
    if metric in _MAC_WORDS or convention == "macs":
        return norm
    if convention == "flops":  # two operations per multiply-add
        return round(norm / 2, 6)
    return None


def _bound(sentence: str, vs: int, ve: int) -> str:
    before = sentence[max(0, vs - 16) : vs]
    for sign, pattern in _BOUND_BEFORE:
        if pattern.search(before):
            return sign
    if _RANGE_NEXT.match(sentence, ve):
        return "~"  # "from 76.5% to 80.9%": the start of a range
    return ">" if sentence[ve : ve + 1] == "+" else ""


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


def _list_items(sentence: str, vs: int, unit: str) -> list[tuple[int, int, bool]]:
    """Spans of the earlier items of a list or range ending at ``vs``, with a range flag, nearest first."""
    items, end = [], vs
    while (m := _ITEM.search(sentence[:end])) is not None:
        suffix = (m["suffix"] or "").replace("\\", "")
        if suffix and suffix != unit and not (suffix in ("x", "×", "times") and unit == "x"):
            break
        if m["sep"].strip() == "and" and not suffix and not re.search(r"\d\s*,\s*$", sentence[: m.start()]):
            break  # "GTX 1080 and 1.3 ms": a bare "and" joins items that print their unit or end a comma list
        if re.search(r"[A-Z0-9][\w-]*\s+$", sentence[max(0, m.start() - 20) : m.start()]):
            break  # "iPhone 12, 1.6 ms": a number after a name or model is part of that name
        is_range = m["sep"].strip() in ("to", "-", "–")
        items.append((m.start("val"), m.end("val"), is_range))
        end = m.start()
        if is_range:
            break  # a range has two ends
    return items


def extract_claims(text: str, flops_convention: str | None = None) -> list[Claim]:
    """All quantitative claims in ``text``, in order of appearance.

    Items of a list or range sharing one unit ("25.2, 31.3 and 41 mAP", "1.3-2.4x") each
    become a claim; range ends are marked ``bound="~"``.

    Args:
        text: an abstract.
        flops_convention: what this paper's "FLOPs" count: ``"macs"`` (multiply-adds),
            ``"flops"`` (two operations per multiply-add) or None (unknown: ``macs`` stays None).

    Raises:
        ValueError: if ``flops_convention`` is not one of those.

    Example:
        >>> [(c.kind, c.metric, c.value, c.unit) for c in extract_claims(
        ...     "74.1% top-1 accuracy with 295M FLOPs and 23.1 ms latency")]
        [('accuracy', 'top-1', 74.1, '%'), ('compute', 'FLOPs', 295.0, 'M'), ('latency', 'latency', 23.1, 'ms')]
    """
    if flops_convention is not None and flops_convention not in FLOPS_CONVENTIONS:
        raise ValueError(f"unknown FLOPs convention {flops_convention!r}; valid: {', '.join(FLOPS_CONVENTIONS)} or None")
    claims: list[tuple[int, int, Claim]] = []
    for s_idx, sentence in enumerate(_sentences(text)):
        used: list[tuple[int, int]] = []
        for kind, pattern in PATTERNS:
            for m in re.finditer(pattern, sentence, flags=re.IGNORECASE):
                vs, ve = m.span("val")
                if any(vs < b and a < ve for a, b in used):
                    continue
                prev = sentence[max(0, vs - 1) : vs]
                if prev.isalpha() or prev == "." or (prev == "-" and not _RANGE_START.search(sentence[:vs])):
                    continue  # part of a name such as "YOLOv9", "x4" or "ResNet-50"; not a measured value
                gd = m.groupdict()
                metric = (gd.get("metric") or "").strip() or _DEFAULTS[kind][0]
                unit = (gd.get("unit") or _DEFAULTS[kind][1]).strip().replace("\\%", "%")
                if kind == "compute":
                    word = metric.lower()  # "GFLOPs" carries its scale in the unit group
                    metric = _COMPUTE_WORDS.get(word) or _COMPUTE_WORDS[word[1:]]
                if kind == "accuracy" and (unit == "dB" or metric == "PSNR"):
                    metric, unit = "PSNR", "dB"
                if kind == "accuracy" and metric.lower().startswith("top") and unit != "%":
                    unit = "%"  # "79.4 Top-1": a percentage printed without its sign
                if kind == "accuracy" and "error" in metric.lower():
                    metric = "error"
                value = float(m["val"].replace(",", ""))
                if kind == "accuracy" and unit == "%" and value > 100:
                    continue  # a year ("VOC 2007 mAP") or a count, not a percentage
                if kind == "params" and unit == "" and value < 1000:
                    continue  # "3 parameters" is a count of hyper-parameters, not a model size
                items = _list_items(sentence, vs, unit)
                first = min([vs, m.start()] + [a for a, _, _ in items])  # a list's context precedes its first item
                gain = kind == "accuracy" and unit in ("%", "dB") and bool(
                    _RELATIVE.search(sentence[:first]) or _GAIN_IN_MATCH.search(m.group(0) + sentence[m.end() : m.end() + 24])
                    or sentence[max(0, vs - 1) : vs] == "+"
                )
                if gain:
                    metric += " (gain)"
                if kind == "memory" and not _MEMORY_CONTEXT.search(sentence):
                    continue  # "MB" with no memory/size word nearby is usually a data size
                in_range = any(r for _, _, r in items)
                spans = [(a, b, "~" if r else "") for a, b, r in items if not any(a < d and c < b for c, d in used)]
                spans.append((vs, ve, "~" if in_range else _bound(sentence, vs, ve)))
                end = m.end()
                ends_with_pct = unit == "%" and sentence[ve:end].strip() in ("%", "\\%")
                while ends_with_pct and (n := _NEXT_PCT.match(sentence, end)):
                    spans.append((n.start("val"), n.end("val"), ""))
                    end = n.end()
                for a, b, bound in spans:
                    if bound == "" and (a, b) != (vs, ve):
                        bound = _bound(sentence, a, b)
                    used.append((a, b))
                    val = float(sentence[a:b].replace(",", ""))
                    norm = round(_norm(kind, val, unit), 6)
                    claim = Claim(kind, metric, val, unit, norm, _fragment(sentence, min(a, m.start()), m.end()),
                                  s_idx, bound, _macs(kind, metric, norm, flops_convention))
                    claims.append((s_idx, a, claim))
    return [c for _, _, c in sorted(claims, key=lambda t: (t[0], t[1]))]
