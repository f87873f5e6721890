"""The shape every notebook's conclusion takes: a :class:`Lesson`, and the helpers that build one.

A lesson is computed, never written by hand: ``conclude(...)`` functions in the per-notebook
modules turn the recorded tables into a verdict (one of :data:`VERDICTS`), the one-sentence
evidence, the takeaway sentences and the key numbers. The notebook displays it and records
``lesson.records()`` (the ``key_numbers`` and ``claim_result`` the report card reads).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field, replace
from typing import Any

#: Verdicts a claim can get (the same strings as ``workbench.report.record.VERDICTS``).
VERDICTS = ("supported", "partly supported", "not supported", "inconclusive")


@dataclass(frozen=True)
class Lesson:
    """What one run of a notebook concludes.

    Attributes:
        claim: the claim under test (one sentence).
        verdict: one of :data:`VERDICTS`.
        evidence: one sentence with the numbers that decided the verdict (its reason).
        takeaways: sentences built from this run's numbers.
        key_numbers: label -> number, string or ``{"value": x, "unit": str}`` for the card.
        reliability: ``""`` when nothing is known against the verdict, else why it is not to be
            trusted (e.g. :data:`UNRELIABLE`); the verdict itself is kept (see
            :func:`mark_contention`).
    """

    claim: str
    verdict: str
    evidence: str
    takeaways: tuple[str, ...]
    key_numbers: dict[str, Any] = field(default_factory=dict)
    reliability: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {', '.join(VERDICTS)}")

    def claim_result(self) -> dict[str, str]:
        """``{"verdict", "evidence"}`` as ``wb.record("claim_result", ...)`` expects, plus
        ``"reliability"`` when the verdict is marked unreliable."""
        out = {"verdict": self.verdict, "evidence": self.evidence}
        if self.reliability:
            out["reliability"] = self.reliability
        return out

    def records(self) -> dict[str, Any]:
        """``{record key: value}`` for the report card: ``key_numbers`` and ``claim_result``."""
        return {"key_numbers": self.key_numbers, "claim_result": self.claim_result()}

    def takeaways_view(self) -> Text:
        """The takeaways as a bullet list (displays in JupyterLab and in the HTML report)."""
        return Text(self.takeaways)

    def verdict_view(self) -> Text:
        """Claim, verdict and evidence as three short paragraphs."""
        verdict = self.verdict.upper() + (f" ({self.reliability})" if self.reliability else "")
        return Text(
            (self.claim, verdict, self.evidence),
            bullets=False,
            labels=("Claim", "Verdict", "Evidence"),
        )


@dataclass(frozen=True)
class Text:
    """Sentences that display as a list (or paragraphs) in Markdown, HTML and plain text."""

    lines: tuple[str, ...]
    bullets: bool = True
    labels: tuple[str, ...] = ()  # optional bold label per line ("Verdict")

    def _labelled(self, bold: tuple[str, str]) -> list[str]:
        labels = self.labels or ("",) * len(self.lines)
        return [
            f"{bold[0]}{lab}:{bold[1]} {s}" if lab else s
            for lab, s in zip(labels, self.lines, strict=True)
        ]

    def _repr_markdown_(self) -> str:
        lines = self._labelled(("**", "**"))
        return "\n".join(f"- {s}" for s in lines) if self.bullets else "\n\n".join(lines)

    def _repr_html_(self) -> str:
        escaped = Text(
            tuple(html.escape(s) for s in self.lines),
            self.bullets,
            tuple(html.escape(s) for s in self.labels),
        )
        lines = escaped._labelled(("<strong>", "</strong>"))
        if self.bullets:
            return "<ul>" + "".join(f"<li>{s}</li>" for s in lines) + "</ul>"
        return "".join(f"<p>{s}</p>" for s in lines)

    def __repr__(self) -> str:
        lines = self._labelled(("", ""))
        return "\n".join(f"- {s}" for s in lines) if self.bullets else "\n".join(lines)


def finite(x: Any) -> bool:
    """True for a real, finite number (NaN, inf and None are not)."""
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def seed_spread(std: float | None, seeds: int) -> str:
    """How much seed-to-seed spread backs an accuracy: never prints ``nan``.

    >>> seed_spread(float("nan"), 1)
    '1 seed, no spread'
    >>> seed_spread(0.31, 3)
    'seed spread 0.31 points (std over 3 seeds)'
    """
    if seeds < 2 or not finite(std):
        return f"{seeds} seed{'s' if seeds != 1 else ''}, no spread"
    return f"seed spread {std:.2f} points (std over {seeds} seeds)"


def times(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is zero or either is not finite."""
    return a / b if finite(a) and finite(b) and b != 0 else math.nan


def combine_parts(parts, *, inconclusive: bool = False) -> str:
    """The verdict of a claim tested in parts, each ``"holds"``, ``"fails"`` or ``"untestable"``.

    *inconclusive* when asked (``inconclusive=True``, e.g. training too short) or when no part is
    testable; *supported* when every part holds; *not supported* when no testable part holds;
    *partly supported* otherwise.
    """
    states = list(parts)
    testable = [s for s in states if s != "untestable"]
    if inconclusive or not testable:
        return "inconclusive"
    if all(s == "holds" for s in states):
        return "supported"
    if not any(s == "holds" for s in testable):
        return "not supported"
    return "partly supported"


# --- contention (issue 19): a verdict measured on a busy machine is marked, never flipped -----

#: The mark a latency-dependent verdict gets when the machine was busy while it was measured.
UNRELIABLE = "unreliable: machine under contention"
#: The card's key-number label of the machine's state during the latency runs.
MACHINE_LABEL = "machine during latency runs"


def _contention_dict(contention: Any) -> dict[str, Any] | None:
    if contention is None:
        return None
    d = contention.to_dict() if hasattr(contention, "to_dict") else dict(contention)
    missing = {"busy", "fraction", "sentence"} - set(d)
    if missing:
        raise KeyError(f"contention lacks {', '.join(sorted(missing))}; valid: workbench.measure.contention(...) or its to_dict()")
    return d


def mark_contention(lesson: Lesson, contention: Any, *, latency_dependent: bool = True) -> Lesson:
    """``lesson`` with the machine's state on its card; marked :data:`UNRELIABLE` when busy.

    The verdict is never changed: on a busy machine memory-bound operators slow down more
    than GEMM-bound ones, so latency rankings shift and a verdict could flip with background
    load. The reader gets the verdict the evidence gives, the mark, and the machine's state
    (from :func:`workbench.measure.contention`) to judge it.

    Args:
        lesson: the verdict computed from the measurements.
        contention: a :class:`workbench.measure.Contention`, its ``to_dict()``, or ``None``
            (no probe: ``lesson`` is returned unchanged).
        latency_dependent: whether the verdict rests on latency measurements (a verdict on
            accuracy or parameter counts is not marked, but still shows the machine's state).

    Returns:
        A new :class:`Lesson`: key number :data:`MACHINE_LABEL` added; when busy and
        ``latency_dependent``, ``reliability`` set and the evidence prefixed with the mark.

    Raises:
        KeyError: ``contention`` without ``busy``, ``fraction`` and ``sentence``.
    """
    d = _contention_dict(contention)
    if d is None:
        return lesson
    state = f"{100 * float(d['fraction']):.0f} % of idle GEMM throughput" + (" (busy)" if d["busy"] else "")
    numbers = {**lesson.key_numbers, MACHINE_LABEL: state}
    if not (d["busy"] and latency_dependent):
        return replace(lesson, key_numbers=numbers)
    evidence = (
        f"{UNRELIABLE[0].upper()}{UNRELIABLE[1:]} (machine at {100 * float(d['fraction']):.0f} % of its idle GEMM throughput); "
        f"the measurements as taken give '{lesson.verdict}': {lesson.evidence}"
    )
    takeaways = (f"The machine was busy during the latency runs, {d['sentence']}. Re-run on a quiet machine (workbench report --wait-idle) before trusting the verdict.", *lesson.takeaways)
    return replace(lesson, evidence=evidence, takeaways=takeaways, key_numbers=numbers, reliability=UNRELIABLE)


def interval_part(lo: float, hi: float, threshold: float, *, below: bool = True) -> str:
    """A part of a claim decided by an interval: ``"holds"`` when the whole interval is on the
    claimed side of ``threshold`` (below it when ``below``), ``"fails"`` when it is wholly on the
    other side, ``"untestable"`` when it straddles the threshold or is not finite.

    >>> interval_part(0.2, 0.7, 0.8), interval_part(0.85, 0.99, 0.8), interval_part(0.5, 0.9, 0.8)
    ('holds', 'fails', 'untestable')
    """
    if not (finite(lo) and finite(hi)):
        return "untestable"
    if below:
        return "holds" if hi < threshold else "fails" if lo >= threshold else "untestable"
    return "holds" if lo > threshold else "fails" if hi <= threshold else "untestable"
