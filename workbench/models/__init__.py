"""The model zoo: architectures as data, built from :mod:`workbench.layers` blocks.

Every module in this package that does not start with ``_`` is imported here so its
``@register_model`` entry points are available through :func:`create_model`.
"""

import importlib
import pkgutil

from ._factory import (
    MODELS,
    ModelEntry,
    create_model,
    list_models,
    list_tags,
    model_entry,
    register_model,
)

for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["MODELS", "ModelEntry", "create_model", "list_models", "list_tags", "model_entry", "register_model"]

# --- zoo additions B (issue 12): the RegNet design-space generator (design_spaces notebook) ---
from .regnet import RegNetParams, regnet_block_widths, regnet_widths  # noqa: E402

__all__ += ["RegNetParams", "regnet_block_widths", "regnet_widths"]

# --- NAS zoo (issue 14): the MobileNetV2-like search space of the NAS / once-for-all notebooks ---
from .mb_space import MOBILENETV2_ARCH, PROXYLESS_SPACE, MBArch, MBSpace, MBStage  # noqa: E402

__all__ += ["MBArch", "MBSpace", "MBStage", "MOBILENETV2_ARCH", "PROXYLESS_SPACE"]
__all__ += ["MBArch", "MBSpace", "MBStage"]

# --- tiny_lm notebook (issue 15, item 4): the MobileLLM-style character-level decoder ---
from .tiny_lm import TinyLM, tiny_lm_params  # noqa: E402

__all__ += ["TinyLM", "tiny_lm_params"]
