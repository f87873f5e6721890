"""Measurement core: params, MACs, latency, memory, machine peak, and one-row profiles.

Conventions (also in the README glossary): ``macs`` are multiply-accumulates of conv, linear
and matmul/attention with BatchNorm folded away; ``flops = 2 * macs``; latencies are medians in
milliseconds per batch with IQR and CV; compare latencies across models only as ratios measured
interleaved in one process (:func:`compare_latency`).
"""

from .conv_algorithm import ConvAlgorithm, Im2colConv, conv_algorithm
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
    "IGNORED_OPS", "MAC_OPS", "LatencyResult", "MachinePeak", "MacCount", "MemoryResult",
    "ParamCount", "ProfileRow", "compare_latency", "conv_efficiency", "shufflenet_guidelines", "count_macs", "count_params", "environment",
    "machine_peak", "measure_latency", "measure_memory", "multiplier_grid", "num_threads", "profile", "profile_many", "scaling_exponents",
    "ConvAlgorithm", "Im2colConv", "cache_bandwidth_gbs", "conv_algorithm", "deploy_latency", "memory_traffic", "mobile_blocks", "with_traffic",
]
