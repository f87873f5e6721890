"""Interactive explorers for JupyterLab (and the ``workbench explore`` app).

Four explorers, each an ipywidgets front end over plotly ``FigureWidget`` s updated in place:

* :func:`cost` -- sliders for width, resolution, kernel and expansion of a model or block; live
  params, MACs, activation memory, predicted latency; latency measured on a button.
* :func:`zoo` -- the Pareto plot of the zoo (or of a report's leaderboard), filtered by family
  tag and task, with axis choices; click a point for its profile table.
* :func:`live` -- a training callback: ``wb.fit(..., callbacks=[wb.explore.live()])`` draws the
  loss and accuracy curves and a progress bar while it trains.
* :func:`literature` -- the seed papers, filtered by family, task, year and coverage, linked to
  the notebook that tests each.

Without a front end (a report run, plain Python, ``static=True``) every call returns a static
plotly figure instead, so an executed notebook stays complete (:func:`is_static`).
"""

from ._display import is_static
from .cost import BLOCKS, KNOBS, CostExplorer, Costs, cost
from .literature import LiteratureExplorer, literature, papers_table
from .monitor import LiveMonitor, live
from .zoo import AXES, ZooExplorer, zoo, zoo_table

__all__ = [
    "AXES", "BLOCKS", "KNOBS", "CostExplorer", "Costs", "LiteratureExplorer", "LiveMonitor", "ZooExplorer",
    "cost", "is_static", "literature", "live", "papers_table", "zoo", "zoo_table",
]
