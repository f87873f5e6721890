"""Training monitor: ``wb.fit(model, data, callbacks=[wb.explore.live()])`` draws the run as it goes.

The callback (hooks of :mod:`workbench.train.loop`) keeps the loss of every step and the
per-epoch accuracies of the run's ``History``; live, it shows a progress bar and a two-panel
``FigureWidget`` (loss per step, accuracy per epoch) the moment training starts and redraws it
every ``every`` steps. Without a front end it only records, and :meth:`LiveMonitor.figure`
is the finished plot (displayed once at the end of the run, so an executed notebook keeps it).

Known limit: the redraws are plotly restyle messages, and a ``FigureWidget`` view the front end
creates after they were sent starts from the initial (empty) traces. Seen in Voila 0.5 on a
heavily loaded machine: the progress bar and its label were right (step 64/64), the curves empty.
"""

from __future__ import annotations

import math
import time

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ._display import is_static, show

ACC_SERIES = ("train_acc", "test_acc")  # History lists drawn in the accuracy panel


class LiveMonitor:
    """A ``fit`` callback drawing loss and accuracy (see the module docstring).

    Args:
        live: show widgets and redraw during the run; ``False`` records only.
        every: redraw every ``every`` steps (>= 1): drawing each step would slow training.
        show: display the monitor when training starts (live) or the figure when it ends (static).

    Raises:
        ValueError: ``every`` < 1.
    """

    def __init__(self, *, live: bool = False, every: int = 10, show: bool = True) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.live, self.every, self.show = live, every, show
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.epochs: list[int] = []
        self.acc: dict[str, list[float]] = {k: [] for k in ACC_SERIES}
        self.total_steps = 0
        self.started = self.finished = None
        base = make_subplots(rows=1, cols=2, subplot_titles=("training loss (per step)", "accuracy (% per epoch)"))
        self.figure = go.FigureWidget(base) if live else go.Figure(base)
        self.figure.add_scatter(x=[], y=[], mode="lines", name="train loss", row=1, col=1)
        for k in ACC_SERIES:
            self.figure.add_scatter(x=[], y=[], mode="lines+markers", name=k.replace("_", " "), row=1, col=2)
        self.figure.update_layout(height=340, margin={"l": 50, "r": 20, "t": 40, "b": 40})
        self.figure.update_xaxes(title_text="step", row=1, col=1)
        self.figure.update_xaxes(title_text="epoch", row=1, col=2)
        self.widget = self._widgets() if live else None

    def _widgets(self):
        import ipywidgets as w

        self._bar = w.IntProgress(value=0, min=0, max=1, description="training", layout=w.Layout(width="420px"))
        self._bar.add_class("wb-progress")
        self._label = w.HTML("")
        return [w.HBox([self._bar, self._label]), self.figure]

    # -- hooks (workbench.train.loop) ----------------------------------------------------------
    def on_fit_start(self, state) -> None:
        self.total_steps, self.started = int(state.total_steps), time.perf_counter()
        if self.widget is not None:
            self._bar.max = max(1, self.total_steps)
            if self.show:
                show(self.widget, self.figure)

    def on_step(self, state) -> None:
        self.steps.append(int(state.global_step) + 1)  # global_step counts the steps before this one
        self.losses.append(float(state.loss) if state.loss is not None else math.nan)
        if self.widget is not None and (len(self.steps) % self.every == 0 or self.steps[-1] == self.total_steps):
            self._redraw()

    def on_epoch_end(self, state, history) -> None:
        self.epochs = [e + 1 for e in range(state.epoch + 1)]
        for k in ACC_SERIES:
            values = list(getattr(history, k, []) or [])
            self.acc[k] = values[: len(self.epochs)]
        if self.widget is not None:
            self._redraw()

    def on_fit_end(self, state, history) -> None:
        self.finished = time.perf_counter()
        self._redraw()
        if self.widget is None and self.show:
            try:
                from IPython import get_ipython
                from IPython.display import display
            except ImportError:
                return
            if get_ipython() is not None:
                display(self.figure)

    def _redraw(self) -> None:
        """Copy the recorded series into the figure (and the progress bar)."""
        ctx = self.figure.batch_update() if self.widget is not None else _Nothing()
        with ctx:
            self.figure.data[0].x, self.figure.data[0].y = list(self.steps), list(self.losses)
            for trace, k in zip(self.figure.data[1:], ACC_SERIES, strict=True):
                n = len(self.acc[k])
                trace.x, trace.y = self.epochs[:n], list(self.acc[k])
        if self.widget is not None:
            done = self.steps[-1] if self.steps else 0
            self._bar.value = done
            secs = time.perf_counter() - (self.started or time.perf_counter())
            last = f", loss {self.losses[-1]:.3g}" if self.losses else ""
            self._label.value = f"step {done}/{self.total_steps} &middot; {secs:.0f} s{last}"


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def live(*, every: int = 10, static: bool | None = None, show: bool = True) -> LiveMonitor:
    """A training-monitor callback: ``wb.fit(model, data, callbacks=[wb.explore.live()])``.

    Args:
        every: redraw every ``every`` steps.
        static: ``None`` detects the front end (:func:`workbench.explore.is_static`).
        show: display the monitor itself (at the start live, at the end static).
    """
    return LiveMonitor(live=not is_static(static), every=every, show=show)
