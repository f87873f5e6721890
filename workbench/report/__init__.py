"""The report pipeline: execute every technique notebook and publish ``reports/<profile>/``.

* :mod:`.record` -- ``record(key, value)``, what notebooks call to hand results to the index;
* :mod:`.runner` -- ``run_reports(...)``, papermill in parallel workers, cache, atomic publish;
* :mod:`.cache` -- the content hashes deciding what re-runs;
* :mod:`.notebook_html` -- executed notebook -> offline HTML with one shared plotly.js;
* :mod:`.index` -- ``index.html`` / ``index.md``: cards, leaderboard, Pareto plots, zoo, machine.

Notebooks call ``wb.record(key, value)`` (or ``from workbench.report.record import record``).
Nothing is imported here: ``workbench.report.record`` stays the module, not the function.
"""
