"""One notebook job in its own process: ``python .../workbench/report/worker.py JOB.json``.

The runner starts one worker per notebook so that notebooks run in parallel, a hung one can be
killed with everything it started, and the runner's own process stays free of papermill,
nbconvert and torch. The job file (written by :mod:`workbench.report.runner`) says what to do:

``{"input", "output", "html", "result", "parameters", "kernel", "cwd", "cell_timeout",
"plotly_js_src", "execute"}``

The worker executes ``input`` into ``output`` with papermill (unless ``execute`` is false: a
cached notebook whose HTML is merely out of date), converts ``output`` to ``html`` -- also when
the notebook failed, so papermill's error banner is visible in the report -- and writes
``{"status": "ok" | "failed" | "timeout", "error": str | None}`` to ``result``. Kernel environment (record
directory, thread limits, plotly renderer) is inherited from the runner.

It runs as a plain script, not ``-m workbench.report.worker``: importing the ``workbench``
package loads torch (seconds per notebook) and the worker needs none of it -- only its sibling
:mod:`notebook_html`, which imports nothing from the package either.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

if __package__:
    from .notebook_html import notebook_to_html
else:  # run as a script with ``python -P`` (no script folder on sys.path to shadow modules)
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "_wb_notebook_html", Path(__file__).with_name("notebook_html.py")
    )
    _mod = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_mod)
    notebook_to_html = _mod.notebook_to_html


def _die_with_parent(parent: int) -> None:
    """Exit, taking the kernel along, if the runner disappears (``kill -9`` of the runner)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            try:
                import psutil

                for child in psutil.Process().children(recursive=True):
                    child.kill()
            finally:
                os._exit(3)


def add_error_banner(ipynb: str | Path, message: str) -> None:
    """Put a red banner cell at the top of ``ipynb``, as papermill does for cell errors.

    Papermill adds its banner only for exceptions raised *in* a cell; a cell timeout, a dead
    kernel or the runner's overall timeout leave none, and the report must still say why.
    """
    import html

    import nbformat

    nb = nbformat.read(str(ipynb), as_version=4)
    if any("papermill-error-cell-tag" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        return
    banner = nbformat.v4.new_markdown_cell(
        '<span style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; '
        f'font-size:2em;">Execution stopped: {html.escape(message)}</span>'
    )
    banner.metadata["tags"] = ["papermill-error-cell-tag"]
    nb.cells.insert(0, banner)
    nbformat.write(nb, str(ipynb))


def run_job(job: dict) -> dict:
    """Execute and/or render one notebook as described by ``job``; returns the result dict."""
    status, error = "ok", None
    if job.get("execute", True):
        import papermill as pm
        from papermill.exceptions import PapermillExecutionError

        try:
            pm.execute_notebook(
                job["input"],
                job["output"],
                parameters=job["parameters"],
                kernel_name=job["kernel"],
                cwd=job["cwd"],
                execution_timeout=job.get("cell_timeout"),
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=True,
            )
        except PapermillExecutionError as e:
            status, error = "failed", f"cell {e.exec_count}: {e.ename}: {e.evalue}"
        except TimeoutError:  # nbclient's CellTimeoutError: one cell ran past the limit
            status, error = "timeout", f"timed out after {job.get('cell_timeout'):g} s"
            if Path(job["output"]).exists():
                add_error_banner(job["output"], error)
        except Exception as e:  # kernel died, cell timeout, bad notebook: still a report
            status, error = "failed", f"{type(e).__name__}: {e}".strip()
            if Path(job["output"]).exists():
                add_error_banner(job["output"], error)
    if Path(job["output"]).exists():
        try:
            notebook_to_html(job["output"], job["html"], plotly_js_src=job["plotly_js_src"])
        except Exception as e:
            status = "failed"
            error = (
                error + "; " if error else ""
            ) + f"HTML conversion failed: {type(e).__name__}: {e}"
    return {"status": status, "error": error}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    job = json.loads(Path(argv[0]).read_text())
    threading.Thread(target=_die_with_parent, args=(os.getppid(),), daemon=True).start()
    try:
        result = run_job(job)
    except BaseException as e:  # report *why* to the runner rather than a bare exit code
        result = {"status": "failed", "error": f"worker crashed: {type(e).__name__}: {e}"}
        traceback.print_exc()
    Path(job["result"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
