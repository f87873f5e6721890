"""``workbench bench count``: how long params + MACs of the whole zoo take, cold and warm.

Cold counts every registered model into an empty counting cache (fvcore traces each one); warm
repeats the call, which must be served from the cache (keyed by the model's code fingerprint).
Targets from the economy issue: cold <= 60 s, warm <= 3 s on 2 cores.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..measure import time_count_zoo
from ..models import list_models

COLD_TARGET_S = 60.0
WARM_TARGET_S = 3.0


def count_benchmark(names: Sequence[str] | None = None) -> dict:
    """``{"models", "cold_s", "warm_s", "cold_target_s", "warm_target_s"}`` for ``names`` (default: all)."""
    names = list(names) if names is not None else list_models()
    cold, warm = time_count_zoo(names)
    return {"models": len(names), "cold_s": cold, "warm_s": warm,
            "cold_target_s": COLD_TARGET_S, "warm_target_s": WARM_TARGET_S}  # fmt: skip


__all__ = ["COLD_TARGET_S", "WARM_TARGET_S", "count_benchmark"]
