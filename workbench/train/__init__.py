"""Training: one loop skeleton (:mod:`.loop`), classification (:mod:`.classify`), super-resolution
(:mod:`.sr`) and the results cache (:mod:`.cache`).

Everything ``wb.train.X`` offered before the split is re-exported here.
"""

from .cache import FitResult, cached_fit, load_checkpoint, save_checkpoint
from .classify import EvalResult, History, evaluate, fit
from .loop import (
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    Callback,
    StepState,
    build_optimizer,
    build_schedule,
    param_groups,
    resolve_device,
)
from .sr import SR_LOSSES, SRHistory, evaluate_sr, fit_sr

__all__ = [
    "History", "EvalResult", "StepState", "FitResult", "SRHistory", "OPTIMIZERS", "SCHEDULES",
    "PRECISIONS", "SR_LOSSES", "Callback", "fit", "evaluate", "cached_fit", "save_checkpoint",
    "load_checkpoint", "fit_sr", "evaluate_sr", "build_optimizer", "build_schedule", "param_groups",
    "resolve_device",
]  # fmt: skip
