"""``workbench bench report``: the time budget of ``workbench report``, measured.

Runs a profile into a temporary reports folder, in up to three passes:

* ``cold``  -- empty caches (model bank, counting cache, machine peak: a temporary
  ``$WORKBENCH_CACHE``), every notebook executed: what a fresh clone pays;
* ``warm``  -- the same caches again, every notebook executed (``force``): what a re-run after a
  package edit that touches no model costs (training comes from the bank);
* ``noop``  -- nothing changed: every notebook served from the report cache;
* ``edit``  -- one package file edited (``edit``, default a plot module; the edit is a comment appended
  to a copy of the package, so the working tree is untouched and the notebooks run the same code):
  only the notebooks whose last run loaded that module execute (:mod:`workbench.deps`), which needs
  a pass before it that executed them with dependency records (``warm``, or ``cold``).

Budgets (economy issue): smoke <= 60 s per notebook; default <= 8 min per notebook on average
(bank included) and all notebooks cold <= 90 min; a re-run after a plot-only edit <= 10 min; no-op <= 15 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

PASSES = ("cold", "warm", "noop", "edit")
#: the file the ``edit`` pass touches by default (relative to the package)
EDIT = "plots/search.py"
BUDGETS = {  # seconds: (per notebook, whole run cold, re-run after a plot-only edit, no-op)
    "smoke": {"per_notebook": 60.0, "cold_total": 600.0},
    "default": {"per_notebook": 480.0, "cold_total": 5400.0, "edit_total": 600.0, "noop_total": 15.0},
    "full": {},
}


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def report_benchmark(
    profile: str = "smoke", *, passes: Sequence[str] = PASSES, jobs: int | None = None,
    only: Sequence[str] | None = None, progress: bool = False, edit: str = EDIT,
) -> pd.DataFrame:  # fmt: skip
    """Time ``workbench report --profile PROFILE`` pass by pass (see the module docstring).

    Returns:
        One row per (pass, step): ``pass``, ``step`` (``bank``, ``extras``, a notebook slug,
        ``after last notebook``, ``total``), ``seconds``, ``status``; ``attrs`` holds the budgets.

    Raises:
        ValueError: an unknown pass (naming the valid ones) or profile; ``edit`` naming no file
            of the package.
    """
    from ..paths import PACKAGE_DIR
    from ..report.runner import run_reports
    from ..report.techniques import PROFILES

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    bad = [p for p in passes if p not in PASSES]
    if bad:
        raise ValueError(f"unknown pass {bad[0]!r}; valid: {', '.join(PASSES)}")
    if "edit" in passes and not (PACKAGE_DIR / edit).is_file():
        raise ValueError(f"edit={edit!r} is not a file of the package ({PACKAGE_DIR})")
    on_event = None
    if progress:
        from ..report.progress import ConsoleProgress

        on_event = ConsoleProgress()
    rows = []
    with tempfile.TemporaryDirectory(prefix="wb-bench-report-") as tmp, _env(WORKBENCH_CACHE=str(Path(tmp) / "cache")):
        for name in passes:
            package_dir = None
            if name == "edit":  # the package as it would be after the edit, in a copy
                package_dir = Path(tmp) / "edited" / PACKAGE_DIR.name
                shutil.rmtree(package_dir.parent, ignore_errors=True)
                shutil.copytree(PACKAGE_DIR, package_dir, ignore=shutil.ignore_patterns("__pycache__"))
                with open(package_dir / edit, "a", encoding="utf-8") as fh:
                    fh.write("\n# edited by workbench bench report\n")
            t0 = time.monotonic()
            s = run_reports(profile=profile, reports_dir=Path(tmp) / "reports", jobs=jobs, only=only,
                            force=name in ("cold", "warm"), on_event=on_event, package_dir=package_dir)  # fmt: skip
            total = time.monotonic() - t0
            rows += [{"pass": name, "step": "bank", "seconds": s.bank_s, "status": ""},
                     {"pass": name, "step": "extras", "seconds": s.extras_s, "status": ""}]  # fmt: skip
            rows += [{"pass": name, "step": r.slug, "seconds": r.seconds,
                      "status": r.status + (" (cached)" if r.cached else "")} for r in s.results]  # fmt: skip
            rows += [{"pass": name, "step": "after last notebook", "seconds": s.after_last_notebook_s, "status": ""},
                     {"pass": name, "step": "total", "seconds": total, "status": "ok" if s.ok else "FAILED"}]  # fmt: skip
    df = pd.DataFrame(rows)
    df.attrs.update(profile=profile, budgets=BUDGETS.get(profile, {}))
    return df


__all__ = ["BUDGETS", "PASSES", "report_benchmark"]
