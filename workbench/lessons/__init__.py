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

from . import channel_attention, cost_model, mobile_convs
from .source import Source, show_source
from .verdicts import VERDICTS, Lesson

__all__ = [
    "VERDICTS",
    "Lesson",
    "Source",
    "channel_attention",
    "cost_model",
    "mobile_convs",
    "show_source",
]

# large_kernels and design_spaces notebooks
from . import design_spaces, large_kernels  # noqa: E402

__all__ += ["design_spaces", "large_kernels"]

# notebooks cheap_operators and reparameterization (issue 12)
from . import cheap_operators, reparameterization  # noqa: E402

__all__ += ["cheap_operators", "reparameterization"]

# --- quantization and deployment notebooks (issue 13) ---
from . import deployment, quantization  # noqa: E402

__all__ += ["deployment", "quantization"]

# token_mixers / attention_scaling notebooks
from . import attention_scaling, token_mixers  # noqa: E402

__all__ += ["attention_scaling", "token_mixers"]

# notebooks of issues 13-15, one module each (wb.lessons.<slug>)
from . import (  # noqa: E402
    architecture_search,
    conditional_computation,
    detection,
    distillation,
    efficient_sr,
    latency_prediction,
    low_rank_peft,
    once_for_all,
    pruning,
    segmentation,
    tiny_lm,
)

__all__ += [
    "architecture_search", "conditional_computation", "detection", "distillation", "efficient_sr", "latency_prediction",
    "low_rank_peft", "once_for_all", "pruning", "segmentation", "tiny_lm",
]  # fmt: skip
