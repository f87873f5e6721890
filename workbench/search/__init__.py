"""Hardware-aware search (issue 14): a latency predictor for this machine, NAS under a latency
budget, once-for-all supernets.

Layering: ``search`` sits beside ``compress`` (above ``train``, ``deploy`` and ``measure``, below
``bank``): it measures kernels and trains supernets, and notebooks take its results to the report.
"""

# latency_prediction (issue 14, item 1): kernel detection, lookup tables, predictors
from .kernels import (  # noqa: E402
    ATTENTION_PATTERN,
    KINDS,
    SE_PATTERN,
    Kernel,
    TensorSpec,
    detect_kernels,
    kernel_frame,
)
from .predictor import (  # noqa: E402
    METHODS,
    OVERHEADS,
    LatencyPredictor,
    ModelInfo,
    evaluate_predictors,
    measure_models,
    model_info,
    predictor_report,
    summarize_report,
)
from .regressor import KernelRegressor  # noqa: E402
from .table import LatencyTable, RealTimer, Timer, real_timer, table_path  # noqa: E402

__all__ = [
    "ATTENTION_PATTERN", "KINDS", "Kernel", "KernelRegressor", "LatencyPredictor", "LatencyTable", "METHODS",
    "ModelInfo", "OVERHEADS", "RealTimer", "SE_PATTERN", "TensorSpec", "Timer", "detect_kernels", "evaluate_predictors",
    "kernel_frame", "measure_models", "model_info", "predictor_report", "real_timer", "summarize_report", "table_path",
]

from .evaluate import PREDICTORS, evaluate_latency_predictors, stacked_reports  # noqa: E402

__all__ += ["PREDICTORS", "evaluate_latency_predictors", "stacked_reports"]

# architecture_search (issue 14, item 2): block latency table for the MBArch space, random vs evolutionary search
from .nas import (  # noqa: E402
    ArchLatency,
    SearchResult,
    evolutionary_search,
    random_search,
    rank_agreement,
    search_table,
)

__all__ += ["ArchLatency", "SearchResult", "evolutionary_search", "random_search", "rank_agreement", "search_table"]
# --- conditional_computation notebook (issue 14, item 4): exits, oracle, cascades ---
from . import conditional  # noqa: E402, F401

# once_for_all (issue 14, item 3): the weight-sharing supernet, progressive shrinking
from .supernet import (  # noqa: E402
    PHASES,
    ElasticInvertedResidual,
    Supernet,
    SupernetRecipe,
    budget_search,
    recalibrate_bn,
    subnet_accuracy,
    train_supernet,
)

__all__ += ["ElasticInvertedResidual", "PHASES", "Supernet", "SupernetRecipe", "budget_search", "recalibrate_bn", "subnet_accuracy",
            "train_supernet"]  # fmt: skip
