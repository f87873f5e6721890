"""Measurement core: params, MACs, latency, memory, machine peak, and one-row profiles.

Conventions (also in the README glossary): ``macs`` are multiply-accumulates of conv, linear
and matmul/attention with BatchNorm folded away; ``flops = 2 * macs``; latencies are medians in
milliseconds per batch with IQR and CV; compare latencies across models only as ratios measured
interleaved in one process (:func:`compare_latency`).
"""

from .claims import claims_vs_measured, measure_claim_row
from .conv_algorithm import ConvAlgorithm, Im2colConv, conv_algorithm
from .counting import Count, count_model, count_zoo, time_count_zoo
from .deploy import deploy_latency
from .env import environment
from .guidelines import conv_efficiency, mobile_blocks, shufflenet_guidelines
from .latency import LatencyResult, compare_latency, measure_latency, num_threads
from .macs import IGNORED_OPS, MAC_OPS, MacCount, count_macs
from .memory import MemoryResult, measure_memory
from .params import ParamCount, count_params
from .peak import MachinePeak, machine_peak
from .profile import ProfileRow, multiplier_grid, profile, profile_many, scaling_exponents
from .traffic import cache_bandwidth_gbs, memory_traffic, with_traffic

__all__ = [
    "cache_bandwidth_gbs", "claims_vs_measured", "compare_latency", "conv_algorithm", "conv_efficiency", "ConvAlgorithm",
    "Count", "count_macs", "count_model", "count_params", "count_zoo", "deploy_latency",
    "environment", "IGNORED_OPS", "Im2colConv", "LatencyResult", "MAC_OPS", "MacCount",
    "machine_peak", "MachinePeak", "measure_claim_row", "measure_latency", "measure_memory", "memory_traffic",
    "MemoryResult", "mobile_blocks", "multiplier_grid", "num_threads", "ParamCount", "profile",
    "profile_many", "ProfileRow", "scaling_exponents", "shufflenet_guidelines", "time_count_zoo", "with_traffic",
]

# large_kernels / design_spaces notebooks: ERF from input gradients, Dollar et al.'s activations
from .erf import conv_activations, effective_receptive_field, erf_area  # noqa: E402

__all__ += ["conv_activations", "effective_receptive_field", "erf_area"]

# token_mixers / attention_scaling notebooks: scaling with sequence length and resolution
from .sequence import decode_scaling, fit_exponent, resolution_scaling, sequence_scaling  # noqa: E402

__all__ += ["decode_scaling", "fit_exponent", "resolution_scaling", "sequence_scaling"]

# detection and segmentation notebooks: COCO mAP (torchmetrics), mIoU, NMS timed on its own
from .dense import detection_map, evaluate_detector, evaluate_segmenter, mean_iou, pipeline_latency  # noqa: E402

__all__ += ["detection_map", "evaluate_detector", "evaluate_segmenter", "mean_iou", "pipeline_latency"]
# contention (issue 19): probe the machine around latency experiments, flag a busy one
from .probe import BUSY_FRACTION, Contention, Probe, contention, idle_gflops, probe_environment  # noqa: E402

__all__ += ["BUSY_FRACTION", "Contention", "Probe", "contention", "idle_gflops", "probe_environment"]
from .stats import bootstrap_ci, exponent_ci, spearman_ci  # noqa: E402

__all__ += ["bootstrap_ci", "exponent_ci", "spearman_ci"]
# tiny_lm notebook (issue 15, item 4): decoding, KV cache, speculative decoding
from . import decoding  # noqa: E402
from .decoding import decode_latency, generate, kv_cache_bytes, speculative_generate  # noqa: E402

__all__ += ["decode_latency", "decoding", "generate", "kv_cache_bytes", "speculative_generate"]
