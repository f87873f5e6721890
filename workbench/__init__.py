"""Lightweight-Network Workbench: build, measure, train and compare efficient networks.

One import for the reader::

    import workbench as wb
    model = wb.create_model("mobilenetv2_100")
    row = wb.profile(model)                        # params, MACs, memory, latency
    wb.compare_latency(["mobilenetv2_100", "mobilenetv3_large_100"])   # interleaved ratios

Layers -> models -> measure / train / compress -> plots -> report; never backwards.
Submodules ``data``, ``train``, ``plots``, ``report``, ``literature`` load on first use.
"""

from __future__ import annotations

import importlib
import warnings

from . import deps as _deps

_deps.start_from_env()  # under `workbench report`: record the modules and data this notebook uses

with warnings.catch_warnings():  # fvcore uses torch.jit.script at import, which torch deprecates
    warnings.simplefilter("ignore")
    from .measure import (
        compare_latency,
        count_macs,
        count_params,
        environment,
        machine_peak,
        measure_latency,
        measure_memory,
        profile,
        profile_many,
    )
from .layers import reparameterize_model  # noqa: E402 (after the recorder has started)
from .models import create_model, list_models, model_entry  # noqa: E402
from .registry import Registry  # noqa: E402
from .runtime import setup  # noqa: E402

__version__ = "0.1.0"

_LAZY_MODULES = {"data", "train", "plots", "report", "literature", "layers", "models", "measure", "experiment", "bank", "bench", "lessons", "compress", "deploy"}
_MOVED_MODULES = {"techniques": "workbench.report.techniques"}  # wb.techniques keeps working
_LAZY_ATTRS = {
    "record": ("workbench.report.record", "record"),
    "fit": ("workbench.train", "fit"),
    "evaluate": ("workbench.train", "evaluate"),
    "list_techniques": ("workbench.report.techniques", "list_techniques"),
    "show_source": ("workbench.lessons.source", "show_source"),
}


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _MOVED_MODULES:
        return importlib.import_module(_MOVED_MODULES[name])
    if name in _LAZY_ATTRS:
        mod, attr = _LAZY_ATTRS[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


__all__ = [
    "Registry", "compare_latency", "count_macs", "count_params", "create_model", "environment",
    "list_models", "machine_peak", "measure_latency", "measure_memory", "model_entry", "profile",
    "profile_many", "record", "show_source", "fit", "evaluate", "reparameterize_model", "setup",
]

# latency_prediction (issue 14): wb.search loads on first use like the other submodules
_LAZY_MODULES.add("search")

# explorers (issue 16): wb.explore loads on first use like the other submodules
_LAZY_MODULES.add("explore")
