"""Published claims for the zoo (``datasets/claims/*.csv``) and claimed-vs-measured tables.

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

CLAIMS_DIR = Path(__file__).resolve().parents[2] / "datasets" / "claims"
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


def measure_claim_row(row, cache: dict | None = None) -> dict:
    """Params and MACs (millions) of the model a claim row refers to, in the row's form."""
    from ..layers.reparam import reparameterize_model
    from ..measure import count_macs, count_params
    from . import create_model

    key = (row["model"], row["form"], row["input_size"])
    if cache is not None and key in cache:
        return cache[key]
    size = parse_input_size(row["input_size"])
    model = create_model(row["model"], in_chans=size[0]).eval()
    if row["form"] == "deploy":
        model = reparameterize_model(model)
    macs = count_macs(model, size)
    out = {
        "params_measured_m": count_params(model).total / 1e6,
        "macs_measured_m": macs.macs / 1e6,
        "unsupported_ops": dict(macs.unsupported),
    }
    if cache is not None:
        cache[key] = out
    return out


def claims_vs_measured(claims: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim: claimed and measured params/MACs, deltas in %, verdict, source, note.

    Slow-ish (builds and traces every claimed model, ~1-2 min on 2 cores): callers cache it.
    """
    claims = load_claims() if claims is None else claims
    cache: dict = {}
    rows = []
    for _, r in claims.iterrows():
        m = measure_claim_row(r, cache)
        p = agree(r["params_m"], m["params_measured_m"], PARAMS_RTOL)
        c = agree(r["macs_m"], m["macs_measured_m"], MACS_RTOL)
        checked = [a for a in (p, c) if a is not None]
        verdict = "documented discrepancy" if r["tolerance"] == "skip" else ("agrees" if all(a.ok for a in checked) else "MISMATCH")
        rows.append(
            {
                "model": r["model"],
                "form": r["form"] or "",
                "input_size": r["input_size"],
                "params_claim_m": p.claim if p else None,
                "params_measured_m": m["params_measured_m"],
                "params_delta_pct": p.delta_pct if p else None,
                "macs_claim_m": c.claim if c else None,
                "macs_measured_m": m["macs_measured_m"],
                "macs_delta_pct": c.delta_pct if c else None,
                "source_metric": r["source_metric"],
                "top1": float(r["top1"]) if r["top1"] else None,
                "psnr": float(r["psnr"]) if r["psnr"] else None,
                "verdict": verdict,
                "source": r["source"],
                "note": r["note"],
            }
        )
    return pd.DataFrame(rows)
