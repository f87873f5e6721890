"""Shared by the explorers: static or live, and the plotly figure type that goes with it.

An explorer is live (ipywidgets + plotly ``FigureWidget``, updated in place) when a front end can
show widgets: a Jupyter kernel (JupyterLab, Voila) outside a report run. Under papermill inside
``workbench report`` (the runner exports ``WORKBENCH_RECORD_DIR`` to the kernel) or in plain
Python there is no one to move a slider, so the same call returns a static ``go.Figure`` and the
executed notebook keeps a complete plot.
"""

from __future__ import annotations

import os

import plotly.graph_objects as go

# the report runner's kernel variable (workbench.report.record.ENV_DIR); not imported because
# the report layer sits above this one
_REPORT_ENV = "WORKBENCH_RECORD_DIR"


def is_static(static: bool | None = None) -> bool:
    """Whether an explorer should return a static figure instead of widgets.

    Args:
        static: ``True``/``False`` forces the choice; ``None`` detects it: static under a report
            run (``WORKBENCH_RECORD_DIR`` set) or outside a Jupyter kernel (plain Python, a
            terminal IPython). Any other headless runner (a bare ``papermill`` call) should
            pass ``static=True``.
    """
    if static is not None:
        return bool(static)
    if os.environ.get(_REPORT_ENV):
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return True
    shell = get_ipython()
    return shell is None or type(shell).__name__ != "ZMQInteractiveShell"


def new_figure(live: bool, **kwargs) -> go.Figure:
    """A ``FigureWidget`` when live (updated in place by the widgets), else a ``go.Figure``."""
    return go.FigureWidget(**kwargs) if live else go.Figure(**kwargs)


def static_copy(fig: go.Figure) -> go.Figure:
    """A plain ``go.Figure`` with the same data and layout (what a static call returns)."""
    return go.Figure(fig.to_dict())


def choices_error(what: str, value, valid) -> ValueError:
    """The house ValueError: the bad value and the valid choices, on one line."""
    return ValueError(f"unknown {what} {value!r}; valid: {', '.join(map(str, valid))}")


def show(parts, figure) -> None:
    """Display an explorer: its widget ``parts`` one output each, or ``figure`` when static.

    Each part is displayed on its own rather than inside one ``VBox``: plotly's anywidget
    ``FigureWidget`` (plotly 6/7) draws no traces when it is a child of an ipywidgets container
    (seen in Voila 0.5 and JupyterLab 4), while a top-level one draws and updates in place.
    """
    from IPython.display import display

    for part in parts if parts is not None else [figure]:
        display(part)
