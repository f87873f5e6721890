"""Record a notebook's results for the report index: ``wb.record(key, value)``.

A notebook calls :func:`record` for the few numbers, tables and figures the report index
(``reports/<profile>/index.html``) should show. Each call writes a sidecar file into the
*record directory*:

* run by ``workbench report``: ``$WORKBENCH_RECORD_DIR``, set per notebook by the runner
  (``reports/<profile>/records/<slug>/``);
* run interactively (JupyterLab, plain Python): ``reports/interactive/<notebook stem>/`` in the
  repository (the stem comes from JupyterLab's ``JPY_SESSION_NAME``), or a temporary directory
  when the repository is not writable. Interactive recording never raises for I/O problems.

Values and their sidecars (``<key>`` is ``[A-Za-z0-9_.-]+``):

======================  =======================================================
value                   files
======================  =======================================================
scalar, str, dict, list ``<key>.json`` (numpy scalars/arrays converted; NaN and
                        +-inf become ``null``)
pandas DataFrame        ``<key>.csv`` and ``<key>.json`` (list of row objects)
plotly Figure           ``<key>.plotly.json`` (the figure's plotly JSON)
======================  =======================================================

Well-known keys, validated at record time (``ValueError`` names the problem):

``claim_result``
    dict ``{"verdict": one of VERDICTS, "evidence": "one sentence with the numbers"}``:
    the card's answer to the technique's claim.
    An optional ``"reliability"`` string (e.g. ``"unreliable: machine under contention"``)
    is shown as a warning badge next to the verdict.
``environment``
    dict with at least ``{"sentence": str, "busy": bool}``: the machine's state during the
    notebook's latency runs (``workbench.measure.contention(...).to_dict()``), one line on the
    card.
``key_numbers``
    dict ``label -> value`` shown on the card, in insertion order. A value is a number, a
    string, or ``{"value": number, "unit": str}``; units ``"params"``, ``"macs"``, ``"flops"``
    are shown as K/M/G, others are appended (``{"value": 3.2, "unit": "ms"}`` -> ``3.2 ms``).
``models``
    DataFrame, one row per measured model, for the cross-notebook leaderboard and Pareto
    plots. Columns (only ``name`` is required; missing ones are NaN; extra ones are kept in
    the CSV but not shown): see :data:`MODEL_COLUMNS`.
``card_*``
    a plotly Figure shown on the technique's card (in record order), e.g. ``card_pareto``.

Any other key is stored and listed in the records folder but not interpreted.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ..paths import REPO_ROOT, REPORTS_DIR, atomic_write

ENV_DIR = "WORKBENCH_RECORD_DIR"
MANIFEST = "_records.json"

VERDICTS = ("supported", "partly supported", "not supported", "inconclusive")

#: ``models`` columns: name -> meaning (units). Only ``name`` is required.
MODEL_COLUMNS: dict[str, str] = {
    "name": "model name as the notebook calls it (registry name or variant label)",
    "params": "parameters (count, not millions)",
    "macs": "multiply-accumulates per image at the notebook's input size (count)",
    "latency_ms": "median CPU latency per batch (ms), from wb.measure",
    "latency_ratio": "latency_ms / latency of `baseline` in the same compare_latency run",
    "baseline": "name of the latency baseline model (empty if none)",
    "accuracy": "test top-1 accuracy (%), NaN if not trained",
    "dataset": "dataset the accuracy is on (empty if not trained)",
    "notes": "free text (input size, form, caveats)",
}
_NUMERIC_MODEL_COLUMNS = ("params", "macs", "latency_ms", "latency_ratio", "accuracy")
_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def record(key: str, value: Any) -> None:
    """Record ``value`` under ``key`` for the report index (see the module docstring).

    Recording the same key twice overwrites it (re-running a cell is harmless).

    Args:
        key: sidecar name, ``[A-Za-z0-9_.-]+``; well-known keys (``claim_result``,
            ``key_numbers``, ``models``, ``card_*``) are validated against their schema.
        value: JSON-able data (numpy types and NaN allowed), a pandas DataFrame or a plotly
            Figure.

    Raises:
        ValueError: bad key, a value of an unsupported type, or a well-known key whose value
            does not match its schema.
    """
    kind, payload = _encode(key, value)
    env_dir = os.environ.get(ENV_DIR)
    if env_dir:  # under the runner: failures must be loud
        _write(Path(env_dir), key, kind, payload)
        return
    try:
        _write(_interactive_dir(), key, kind, payload)
    except OSError as e:  # interactive use must never break a notebook
        try:
            _write(
                Path(tempfile.gettempdir()) / "workbench-records" / _session_stem(),
                key,
                kind,
                payload,
            )
        except OSError:
            warnings.warn(f"wb.record({key!r}) could not write its sidecar: {e}", stacklevel=2)


def record_dir() -> Path:
    """The directory :func:`record` writes to right now (created on first write)."""
    env_dir = os.environ.get(ENV_DIR)
    return Path(env_dir) if env_dir else _interactive_dir()


def load_records(directory: str | os.PathLike) -> dict[str, Any]:
    """Read back everything recorded into ``directory``, in record order.

    Returns:
        ``{key: value}`` where JSON values come back as Python data, tables as pandas
        DataFrames, and figures as plotly JSON dicts (``{"data": ..., "layout": ...}``).
        An empty dict when nothing was recorded.
    """
    directory = Path(directory)
    manifest = _read_manifest(directory)
    out: dict[str, Any] = {}
    for key, meta in sorted(manifest.items(), key=lambda kv: kv[1].get("order", 0)):
        kind = meta.get("kind")
        if kind == "table":
            import pandas as pd

            out[key] = pd.read_csv(directory / f"{key}.csv")
        elif kind == "figure":
            out[key] = json.loads((directory / f"{key}.plotly.json").read_text())
        else:
            out[key] = json.loads((directory / f"{key}.json").read_text())
    return out


# ---------------------------------------------------------------------------------------------
# encoding and validation
# ---------------------------------------------------------------------------------------------
def _encode(key: str, value: Any) -> tuple[str, Any]:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ValueError(f"record key {key!r} must match [A-Za-z0-9_.-]+ (it names a file)")
    if _is_figure(value):
        return "figure", value
    if key.startswith("card_"):
        raise ValueError(
            f"record key {key!r}: card_* keys take a plotly Figure, got {type(value).__name__}"
        )
    if _is_dataframe(value):
        if key == "models":
            value = _check_models(value)
        return "table", value
    data = to_jsonable(value)
    if key == "key_numbers":
        _check_key_numbers(data)
    elif key == "claim_result":
        _check_claim_result(data)
    elif key == "environment":
        _check_environment(data)
    elif key == "models":
        raise ValueError(
            "record key 'models' takes a pandas DataFrame (columns: "
            + ", ".join(MODEL_COLUMNS)
            + ")"
        )
    return "json", data


def _is_figure(value: Any) -> bool:
    go = sys.modules.get("plotly.graph_objs") or sys.modules.get("plotly.graph_objects")
    return go is not None and isinstance(value, go.Figure)


def _is_dataframe(value: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.DataFrame)


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy/pandas scalars and arrays made plain Python, NaN/inf -> ``None``.

    Raises:
        ValueError: for objects with no JSON form (models, tensors, arbitrary classes).
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and type(value).__module__.split(".")[0] in ("numpy", "pandas"):
        return to_jsonable(value.tolist())  # numpy scalar/array, pandas Index/Series values
    if hasattr(value, "to_dict") and type(value).__module__.split(".")[0] == "pandas":
        return to_jsonable(value.to_dict())  # pandas Series
    if hasattr(value, "item") and type(value).__module__.split(".")[0] == "torch":
        return to_jsonable(value.tolist())  # torch scalar/tensor: small values only
    raise ValueError(
        f"cannot record a {type(value).__module__}.{type(value).__name__}; "
        "valid: number, str, bool, None, dict, list, numpy values, pandas DataFrame, plotly Figure"
    )


def _check_key_numbers(data: Any) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"key_numbers must be a dict label -> value, got {type(data).__name__}")
    for label, v in data.items():
        if isinstance(v, dict):
            if "value" not in v or set(v) - {"value", "unit"}:
                raise ValueError(
                    f"key_numbers[{label!r}] = {v!r}: a dict value must be {{'value': x, 'unit': str}}"
                )
        elif isinstance(v, list):
            raise ValueError(
                f"key_numbers[{label!r}]: a list is not a key number; record it under its own key"
            )


def _check_claim_result(data: Any) -> None:
    if (
        not isinstance(data, dict)
        or data.get("verdict") not in VERDICTS
        or not isinstance(data.get("evidence"), str)
    ):
        raise ValueError(
            f"claim_result must be {{'verdict': one of {', '.join(VERDICTS)}, 'evidence': str}}, got {data!r}"
        )
    if not isinstance(data.get("reliability", ""), str):
        raise ValueError(f"claim_result['reliability'] must be a string, got {data['reliability']!r}")


def _check_environment(data: Any) -> None:
    if not (isinstance(data, dict) and isinstance(data.get("sentence"), str) and isinstance(data.get("busy"), bool)):
        raise ValueError(
            f"environment must be a dict with 'sentence' (str) and 'busy' (bool), e.g. workbench.measure.contention(...).to_dict(); got {data!r}"
        )


def _check_models(df: Any) -> Any:
    if "name" not in df.columns:
        raise ValueError(f"models table needs a 'name' column; got columns {list(df.columns)}")
    df = df.copy()
    for col in _NUMERIC_MODEL_COLUMNS:
        if col in df.columns:
            import pandas as pd

            converted = pd.to_numeric(df[col], errors="coerce")
            bad = df[col][converted.isna() & df[col].notna()]
            if len(bad):
                raise ValueError(
                    f"models column {col!r} must be numeric; bad values: {list(bad)[:3]}"
                )
            df[col] = converted
    return df


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def _write(directory: Path, key: str, kind: str, payload: Any) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "figure":
        _atomic_write(directory / f"{key}.plotly.json", payload.to_json())
    elif kind == "table":
        _atomic_write(directory / f"{key}.csv", payload.to_csv(index=False))
        rows = to_jsonable(payload.to_dict(orient="records"))
        _atomic_write(directory / f"{key}.json", json.dumps(rows, indent=1, allow_nan=False))
    else:
        _atomic_write(directory / f"{key}.json", json.dumps(payload, indent=1, allow_nan=False))
    manifest = _read_manifest(directory)
    order = manifest.get(key, {}).get("order", len(manifest))
    manifest[key] = {"kind": kind, "order": order}
    _atomic_write(directory / MANIFEST, json.dumps(manifest, indent=1))


def _atomic_write(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _read_manifest(directory: Path) -> dict[str, dict[str, Any]]:
    try:
        return json.loads((directory / MANIFEST).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _session_stem() -> str:
    name = os.environ.get("JPY_SESSION_NAME", "")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).stem) or "session"


def _interactive_dir() -> Path:
    if (REPO_ROOT / "pyproject.toml").exists():  # a source checkout, not an installed package
        return REPORTS_DIR / "interactive" / _session_stem()
    return Path(tempfile.gettempdir()) / "workbench-records" / _session_stem()
