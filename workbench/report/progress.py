"""Console progress for ``workbench report``: one live status line on a TTY, plain lines otherwise."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from ..plots import fmt


class ConsoleProgress:
    """``on_event`` callback for :func:`workbench.report.runner.run_reports` that prints.

    Args:
        stream: where to print (default stderr, so stdout keeps only the summary).
        live: redraw one status line in place; default: whether ``stream`` is a TTY.
    """

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._shown = False

    def __call__(self, event, progress, result) -> None:
        if event == "tick":
            if self.live:
                self._status(progress)
            return
        if event == "bank":
            line = f"[{fmt.seconds(progress.elapsed):>8}] bank    {progress.bank}"
        elif event == "start":
            line = f"[{fmt.seconds(progress.elapsed):>8}] start   {result.slug}" + (
                " (render only)" if result.cached else ""
            )
        else:
            state = result.status if not result.cached or result.status != "ok" else "rendered"
            line = f"[{fmt.seconds(progress.elapsed):>8}] {state:<7} {result.slug} in {fmt.seconds(result.seconds)}"
            if result.error:
                line += f": {result.error}"
        self._clear()
        print(line, file=self.stream, flush=True)
        if self.live:
            self._status(progress)

    def close(self) -> None:
        self._clear()

    def _status(self, p) -> None:
        now = time.monotonic()
        running = ", ".join(f"{s} {fmt.seconds(now - t0)}" for s, t0 in p.running.items())
        text = (
            f"{len(p.running)} running · {p.done} done · {p.failed} failed · {p.cached} cached · "
            f"{p.waiting} waiting · {fmt.seconds(p.elapsed)}"
            + (f"  [{running}]" if running else "")
        )
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r" + text[:width].ljust(width))
        self.stream.flush()
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + " " * width + "\r")
            self.stream.flush()
            self._shown = False
