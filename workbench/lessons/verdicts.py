"""The shape every notebook's conclusion takes: a :class:`Lesson`, and the helpers that build one.

A lesson is computed, never written by hand: ``conclude(...)`` functions in the per-notebook
modules turn the recorded tables into a verdict (one of :data:`VERDICTS`), the one-sentence
evidence, the takeaway sentences and the key numbers. The notebook displays it and records
``lesson.records()`` (the ``key_numbers`` and ``claim_result`` the report card reads).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
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
    """

    claim: str
    verdict: str
    evidence: str
    takeaways: tuple[str, ...]
    key_numbers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {', '.join(VERDICTS)}")

    def claim_result(self) -> dict[str, str]:
        """``{"verdict", "evidence"}`` as ``wb.record("claim_result", ...)`` expects."""
        return {"verdict": self.verdict, "evidence": self.evidence}

    def records(self) -> dict[str, Any]:
        """``{record key: value}`` for the report card: ``key_numbers`` and ``claim_result``."""
        return {"key_numbers": self.key_numbers, "claim_result": self.claim_result()}

    def takeaways_view(self) -> Text:
        """The takeaways as a bullet list (displays in JupyterLab and in the HTML report)."""
        return Text(self.takeaways)

    def verdict_view(self) -> Text:
        """Claim, verdict and evidence as three short paragraphs."""
        return Text(
            (self.claim, self.verdict.upper(), self.evidence),
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
