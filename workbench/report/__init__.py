"""The report pipeline: execute every technique notebook and publish ``reports/<profile>/``.

* :mod:`.record` -- ``record(key, value)``, what notebooks call to hand results to the index;
* :mod:`.runner` -- ``run_reports(...)``, papermill in parallel workers, cache, atomic publish;
* :mod:`.cache` -- the content hashes deciding what re-runs;
* :mod:`.notebook_html` -- executed notebook -> offline HTML with one shared plotly.js;
* :mod:`.index` -- ``index.html`` / ``index.md``: cards, leaderboard, Pareto plots, zoo, machine.

Only :mod:`.record` is imported here, so ``wb.record`` costs nothing at notebook start.
"""

from .record import MODEL_COLUMNS, VERDICTS, load_records, record, record_dir

__all__ = ["MODEL_COLUMNS", "VERDICTS", "load_records", "record", "record_dir"]
