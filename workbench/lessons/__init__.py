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

# pruning and low_rank_peft notebooks (issue 13)
# distillation notebook (issue 13)
# latency_prediction notebook (issue 14)
from . import (  # noqa: E402, F401  (wb.lessons.pruning, wb.lessons.low_rank_peft)
    distillation,  # noqa: E402, F401  (wb.lessons.distillation)
    latency_prediction,  # noqa: E402, F401  (wb.lessons.latency_prediction)
    low_rank_peft,
    pruning,
)

# tiny_lm notebook (issue 15, item 4)
from . import tiny_lm as tiny_lm  # noqa: E402  (wb.lessons.tiny_lm; "as" keeps it out of the block above)
