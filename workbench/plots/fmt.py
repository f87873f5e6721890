"""Number formatting shared by figures and report pages: counts in K/M/G, units, separators.

It lives in ``plots`` (not ``report``) because figure tick labels and hover texts use it and
``plots`` may not import the report. It exports nothing into ``wb.plots`` (no ``__all__``):
use it as ``from workbench.plots import fmt``.
"""

from __future__ import annotations

import math
from typing import Any

_COUNT_UNITS = {"params", "macs", "flops"}


def is_missing(x: Any) -> bool:
    return (
        x is None
        or (isinstance(x, float) and math.isnan(x))
        or (isinstance(x, str) and not x.strip())
    )


def count(x: Any) -> str:
    """``3_504_872`` -> ``"3.50 M"``; ``1.2e9`` -> ``"1.20 G"``; ``850`` -> ``"850"``."""
    if is_missing(x):
        return "–"
    x = float(x)
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            v = x / scale
            return (
                f"{v:.2f} {suffix}"
                if v < 10
                else f"{v:.1f} {suffix}"
                if v < 100
                else f"{v:,.0f} {suffix}"
            )
    return f"{x:,.0f}"


def number(x: Any, digits: int = 3, strip: bool = True) -> str:
    """A number with thousands separators and ``digits`` significant digits (``strip``: drop
    trailing zeros, ``0.500`` -> ``0.5``)."""
    if is_missing(x):
        return "–"
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, int) or float(x).is_integer() and abs(x) >= 1000:
        return f"{int(x):,}"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e9):
        return f"{x:.{digits}g}"
    mag = int(math.floor(math.log10(abs(x)))) if x else 0
    decimals = max(0, digits - 1 - mag)
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if strip and "." in text else text


def with_unit(x: Any, unit: str | None) -> str:
    """Format a key number: count units as K/M/G, other units appended."""
    if unit and unit.lower() in _COUNT_UNITS:
        return f"{count(x)} {unit}" if not is_missing(x) else "–"
    s = number(x)
    if not unit or s == "–":
        return s
    return f"{s}{unit}" if unit in ("%", "×", "x") else f"{s} {unit}"


def ms(x: Any) -> str:
    return "–" if is_missing(x) else f"{number(float(x), strip=False)} ms"


def ratio(x: Any) -> str:
    return "–" if is_missing(x) else f"{float(x):.2f}×"


def pct(x: Any, signed: bool = False) -> str:
    if is_missing(x):
        return "–"
    return f"{float(x):+.1f} %" if signed else f"{float(x):.1f} %"


def seconds(x: Any) -> str:
    if is_missing(x):
        return "–"
    x = float(x)
    if x < 60:
        return f"{x:.1f} s"
    m, s = divmod(int(round(x)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"
