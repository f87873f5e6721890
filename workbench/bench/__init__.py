"""Benchmarks that print figures (never timed tests): latency stability, ours vs reference
implementations, training speed/accuracy, zoo counting and the report's time budget. The
command line is ``workbench bench``."""

# Each module's ``__all__`` is its public API; the package offers their union, listed once.
from . import count, latency, report, train, zoo
from .count import *  # noqa: F403
from .latency import *  # noqa: F403
from .report import *  # noqa: F403
from .train import *  # noqa: F403
from .zoo import *  # noqa: F403

__all__ = [*count.__all__, *latency.__all__, *report.__all__, *train.__all__, *zoo.__all__]
