"""Plotly figures for measurements, training and reports.

Functions return ``plotly.graph_objects.Figure`` and never call ``.show()``. Each module of
this package lists its public functions in ``__all__``; they are re-exported here, so notebooks
write ``wb.plots.<name>(...)``.

A module is imported when one of its functions is first used (the names are read from each
module's ``__all__`` without importing it): a notebook run then depends only on the plot modules
it drew with (:mod:`workbench.deps`), so editing one figure re-runs only the notebooks that use it.
"""

import ast
import importlib
from pathlib import Path


def _public_names() -> dict[str, str]:
    """``{function name: module name}`` from the literal ``__all__`` of each module file."""
    out: dict[str, str] = {}
    for f in sorted(Path(__file__).parent.glob("*.py")):
        if f.name.startswith("_"):
            continue
        for node in ast.parse(f.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                for name in ast.literal_eval(node.value):
                    out[name] = f.stem
    return out


_NAMES = _public_names()
__all__: list[str] = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
