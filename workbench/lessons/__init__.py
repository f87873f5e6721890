"""Lessons: what a technique notebook concludes, computed from the numbers it recorded.

* :func:`show_source` -- the real source of a block, for a notebook's "Read the code" section;
* :class:`Lesson` (:mod:`.verdicts`) -- a verdict on the notebook's claim, with its reason and
  the takeaway sentences, built by a pure function from the run's tables, so the prose under a
  figure can never contradict it;
* one module per notebook (:mod:`.cost_model`, :mod:`.mobile_convs`,
  :mod:`.channel_attention`), each with ``conclude(...) -> Lesson`` and its verdict rule.

Layering: lessons read tables made by measure / experiment and return data; they never
measure, train or record (the notebook records ``lesson.records()``).
"""

import importlib

from .source import Source, show_source
from .verdicts import VERDICTS, Lesson

# One module per notebook (wb.lessons.<slug>), loaded on first use: a notebook run then depends on
# its own lesson only (workbench.deps), so editing one verdict rule re-runs one notebook.
LESSON_MODULES = (
    "architecture_search", "attention_scaling", "channel_attention", "cheap_operators", "conditional_computation",
    "cost_model", "deployment", "design_spaces", "detection", "distillation", "efficient_sr", "large_kernels",
    "latency_prediction", "low_rank_peft", "mobile_convs", "once_for_all", "pruning", "quantization",
    "reparameterization", "segmentation", "tiny_lm", "token_mixers",
)  # fmt: skip

__all__ = ["VERDICTS", "Lesson", "Source", "show_source", *LESSON_MODULES]


def __getattr__(name: str):
    if name in LESSON_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(LESSON_MODULES))
