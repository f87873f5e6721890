"""Claimed vs measured: the zoo's params/MACs against the papers (``datasets/claims``).

The claims and the agreement rule (relative tolerance or half a unit of the last printed digit)
live in :mod:`workbench.models.claims`; this module builds and measures the models.
"""

from __future__ import annotations

import pandas as pd

from ..layers.reparameterization import reparameterize_model
from ..models import create_model
from ..models.claims import MACS_RTOL, PARAMS_RTOL, agree, load_claims, parse_input_size
from .counting import count_model
from .macs import count_macs
from .params import count_params


def measure_claim_row(row, cache: dict | None = None) -> dict:
    """Params and MACs (millions) of the model a claim row refers to, in the row's form."""
    key = (row["model"], row["form"], row["input_size"])
    if cache is not None and key in cache:
        return cache[key]
    size = parse_input_size(row["input_size"])
    if row["form"] == "deploy":
        # The re-parameterized model is not a registry build: counted every time.
        model = reparameterize_model(create_model(row["model"], in_chans=size[0]).eval())
        macs = count_macs(model, size)
        params, n_macs, unsupported = count_params(model).total, macs.macs, dict(macs.unsupported)
    else:
        c = count_model(row["model"], size, in_chans=size[0])
        params, n_macs, unsupported = c.params, c.macs, c.unsupported_ops
    out = {
        "params_measured_m": params / 1e6,
        "macs_measured_m": n_macs / 1e6,
        "unsupported_ops": unsupported,
    }
    if cache is not None:
        cache[key] = out
    return out


def claims_vs_measured(claims: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim: claimed and measured params/MACs, deltas in %, verdict, source, note.

    The first call builds and traces every claimed model (~1-2 min on 2 cores); later calls take
    train-form counts from the counting cache (:mod:`workbench.measure.counting`).
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
