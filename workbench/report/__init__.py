"""The report pipeline: execute every technique notebook and publish ``reports/<profile>/``.

* :mod:`.techniques` -- the technique registry (``TECHNIQUES``, ``PROFILES``, ``Technique``);
* :mod:`.record` -- ``record(key, value)``, what notebooks call to hand results to the index;
* :mod:`.runner` -- ``run_reports(...)``: plan, bank, pool, publish, in that order;
* :mod:`.plan` -- per notebook: reuse, re-render or execute; longest-first order;
* :mod:`.pool` -- the worker processes (``worker.py``), timeouts, kill trees;
* :mod:`.publish` -- staging folder, lock, atomic swap, recovery after an interrupt;
* :mod:`.cache` -- the content hashes deciding what re-runs;
* :mod:`.notebook_html` -- executed notebook -> offline HTML (one shared plotly.js, MathML);
* :mod:`.assets` -- the one copy of plotly.js;
* :mod:`.index` -- ``index.html`` / ``index.md``: cards, leaderboard, Pareto plots, zoo, machine;
* :mod:`.coverage`, :mod:`.literature_page` -- literature coverage by the notebooks, its page.

Figures come from :mod:`workbench.plots`; the report only places them.

Notebooks call ``wb.record(key, value)`` (or ``from workbench.report.record import record``).
Nothing is imported here: ``workbench.report.record`` stays the module, not the function.
"""
