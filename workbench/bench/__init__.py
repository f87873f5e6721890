"""Benchmarks that print figures (never timed tests): latency stability, ours vs reference
implementations, and training speed/accuracy. The command line is ``workbench bench``."""

# Each module's ``__all__`` is its public API; the package offers their union, listed once.
from . import latency, train, zoo
from .latency import *  # noqa: F403
from .train import *  # noqa: F403
from .zoo import *  # noqa: F403

__all__ = [*latency.__all__, *train.__all__, *zoo.__all__]
