"""Published claims for the zoo (``datasets/claims/*.csv``): loading and the agreement rule.

Measuring the models against these claims is :mod:`workbench.measure.claims` (models never
import measurement).

The CSVs keep numbers *as printed* (strings), because the printed precision is part of the
claim: "1.3M" parameters means anything in [1.25M, 1.35M). A measured value agrees with a
claim when it is within the relative tolerance (params 1 %, MACs 3 %) **or** within half a
unit of the claim's last printed digit -- a coarser rounding in the source can't be held to a
tighter tolerance. Rows marked ``tolerance=skip`` document a known discrepancy (explained in
their ``note``) and are shown but not asserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..paths import DATASETS_DIR

CLAIMS_DIR = DATASETS_DIR / "claims"
PARAMS_RTOL = 0.01
MACS_RTOL = 0.03
COLUMNS = ["model", "form", "input_size", "params_m", "macs_m", "source_metric", "top1", "psnr", "psnr_set", "source", "tolerance", "note"]


def load_claims(claims_dir: Path | str = CLAIMS_DIR) -> pd.DataFrame:
    """All claim rows as strings (empty cells are ``''``), with a ``file`` column."""
    frames = []
    for path in sorted(Path(claims_dir).glob("*.csv")):
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = set(COLUMNS) - set(df.columns)
        if missing:
            raise ValueError(f"{path.name}: missing columns {sorted(missing)}")
        frames.append(df.assign(file=path.name))
    if not frames:
        raise FileNotFoundError(f"no claims CSV in {claims_dir}")
    return pd.concat(frames, ignore_index=True)


def half_unit(printed: str) -> float:
    """Half a unit of the last printed digit: ``'1.3'`` -> 0.05, ``'300'`` -> 0.5, ``'1.95'`` -> 0.005."""
    s = printed.strip()
    decimals = len(s.split(".")[1]) if "." in s else 0
    return 0.5 * 10.0**-decimals


@dataclass(frozen=True)
class Agreement:
    """How a measured value compares with a printed claim."""

    claim: float
    measured: float
    delta_pct: float
    ok: bool


def agree(printed: str, measured_m: float, rtol: float) -> Agreement | None:
    """Compare ``measured_m`` (millions) with a printed claim (millions); ``None`` if no claim."""
    if not printed.strip():
        return None
    claim = float(printed)
    delta = measured_m - claim
    ok = abs(delta) <= max(rtol * claim, half_unit(printed))
    return Agreement(claim, measured_m, 100 * delta / claim, ok)


def parse_input_size(s: str) -> tuple[int, ...]:
    """``'3x224x224'`` -> (3, 224, 224)."""
    return tuple(int(v) for v in s.lower().split("x"))
