"""Compression that is measured, not assumed: pruning, quantization, distillation, low rank.

One module per technique, each usable on any zoo model (not just one), each returning a model
whose size, MACs and latency are measured like any other. The original model is never modified
in place unless asked.

Layering: ``compress`` sits above ``train`` (fine-tuning, QAT) and ``measure``, below ``bank``;
notebooks take trained models from the bank and hand them to these functions.
"""

# --- quantization notebook (issue 13, item 2): wb.compress.quantize(...) is the function; the
# module's other names are re-exported here because the function shadows the submodule name ---
from . import quantize as quantize_module  # noqa: E402  (before the function takes the name)
from .quantize import (  # noqa: E402
    BACKENDS,
    METHODS,
    BackendUnavailable,
    QuantConfig,
    accuracy,
    as_tensors,
    backend_status,
    fake_quantize,
    int8_runtimes,
    layer_kind,
    layer_sensitivity,
    qat,
    quantizable_layers,
    quantize,
    sweep,
)

__all__ = [*globals().get("__all__", []), "BACKENDS", "METHODS", "BackendUnavailable", "QuantConfig", "accuracy", "as_tensors",
           "backend_status", "fake_quantize", "int8_runtimes", "layer_kind", "layer_sensitivity", "qat",
           "quantizable_layers", "quantize", "quantize_module", "sweep"]  # fmt: skip

# pruning and low-rank / PEFT notebooks (issue 13, items 1 and 4)
from . import prune as prune_module  # the module; `prune` below is the function
from .lora import (
    add_lora,
    bias_only,
    digits_task,
    full_finetune,
    linear_probe,
    merge_lora,
    output_difference,
    peft_table,
    trainable_params,
    training_memory,
    with_new_head,
)
from .lowrank import factorize, rank_for_params, rank_table
from .prune import KeepSparsity, finetune, prune, pruning_table, pruning_variants, sparsity

__all__ = [*globals().get("__all__", ()),  # other compress modules append theirs too
    "KeepSparsity", "add_lora", "bias_only", "factorize", "full_finetune", "linear_probe", "merge_lora",
    "finetune", "prune", "pruning_table", "pruning_variants", "rank_for_params", "sparsity", "trainable_params",
    "training_memory", "digits_task", "prune_module", "peft_table", "with_new_head", "rank_table", "output_difference",
]  # fmt: skip

# distillation notebook (issue 13, item 3); `distill` is the function, the module `distill_module`
from . import distill as distill_module  # noqa: E402  (before the function takes the name)
from .distill import (  # noqa: E402
    DistillResult,
    TeacherTargets,
    distill,
    distill_table,
    embedding_layer,
    kd_loss,
    teacher_targets,
    unlabeled,
)

__all__ = [*globals().get("__all__", ()),
    "DistillResult", "TeacherTargets", "distill", "distill_module", "distill_table", "embedding_layer", "kd_loss", "teacher_targets", "unlabeled",
]  # fmt: skip

# tiny_lm notebook (issue 15, item 4): weight-only int8/int4 group quantization of LMs
from . import weight_only  # noqa: E402
from .weight_only import WeightOnlyLinear, weight_only_quantize  # noqa: E402

__all__ += ["WeightOnlyLinear", "weight_only", "weight_only_quantize"]
