"""Plotly figures for measurements, training and reports.

Functions return ``plotly.graph_objects.Figure`` and never call ``.show()``. Each module of
this package lists its public functions in ``__all__``; they are re-exported here, so notebooks
write ``wb.plots.<name>(...)``.
"""

import importlib
import pkgutil

__all__: list[str] = []
for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        _mod = importlib.import_module(f"{__name__}.{_m.name}")
        for _name in getattr(_mod, "__all__", []):
            globals()[_name] = getattr(_mod, _name)
            __all__.append(_name)
