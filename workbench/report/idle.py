"""Is the machine quiet enough to report on? The check ``workbench report`` runs at start.

Latency ratios, and the verdicts that rest on them, shift when other work shares the cores
(issue 19). The report probes the machine once at start (:func:`machine_state`), warns when it
is busy, shows that on the index page, and with ``--wait-idle`` polls until it is quiet or a
time limit is spent (:func:`wait_for_idle`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

#: Seconds between two probes while waiting for a quiet machine.
POLL_S = 5.0


def machine_state(threads: int | None = None) -> dict[str, Any]:
    """Probe now and judge against the cached idle peak: :meth:`Contention.to_dict`.

    Args:
        threads: intra-op threads to probe with (default: all of torch's, as a report uses).
    """
    from ..measure import contention, probe_environment

    return contention(probe_environment(threads=threads)).to_dict()


def wait_for_idle(
    max_s: float,
    *,
    poll_s: float = POLL_S,
    state: Callable[[], dict[str, Any]] = machine_state,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_wait: Callable[[dict[str, Any], float], None] | None = None,
) -> tuple[dict[str, Any], float]:
    """Poll the machine until it is not busy or ``max_s`` seconds have passed.

    Args:
        max_s: longest wait in seconds (finite, >= 0; 0 probes once).
        poll_s: seconds between probes (> 0).
        state: the probe (default :func:`machine_state`); tests pass a scripted one.
        sleep, clock: injectable for tests.
        on_wait: ``callback(state, waited_s)`` after each busy probe (progress messages).

    Returns:
        ``(last state, seconds waited)``; the state's ``busy`` is still true when the limit
        was reached.

    Raises:
        ValueError: ``max_s`` or ``poll_s`` out of range.
    """
    if not (isinstance(max_s, int | float) and math.isfinite(max_s) and max_s >= 0):
        raise ValueError(f"wait limit must be a finite number of seconds >= 0, got {max_s!r}")
    if not (isinstance(poll_s, int | float) and math.isfinite(poll_s) and poll_s > 0):
        raise ValueError(f"poll_s must be a finite number of seconds > 0, got {poll_s!r}")
    start = clock()
    while True:
        s = state()
        waited = clock() - start
        if not s["busy"] or waited >= max_s:
            return s, waited
        if on_wait:
            on_wait(s, waited)
        sleep(min(poll_s, max(0.0, max_s - waited)))
