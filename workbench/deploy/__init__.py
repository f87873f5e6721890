"""Deployment runtimes: export a model and run it where it will run (ONNX Runtime, OpenVINO, ...).

Every runtime is wrapped as a plain callable ``tensor -> tensor`` so the interleaved latency
helpers of :mod:`workbench.measure` time it exactly like a PyTorch model, and numerical agreement
with the eager model is checked, not assumed.

Layering: beside ``compress`` (above ``train`` and ``measure``, below ``bank``).
"""
