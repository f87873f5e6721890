"""Hardware-aware search (issue 14): a latency predictor for this machine, NAS under a latency
budget, once-for-all supernets.

Layering: ``search`` sits beside ``compress`` (above ``train``, ``deploy`` and ``measure``, below
``bank``): it measures kernels and trains supernets, and notebooks take its results to the report.
"""
