"""The bodies of the Ray tasks of :class:`workbench.report.executors.RayExecutor`.

They run on a cluster node, in a Ray worker process, and share nothing with the driver but
what travels in their arguments and return values:

* :func:`run_notebook` executes (or only re-renders) one notebook exactly as the local pool
  does -- :func:`workbench.report.pool.execute_all` with one job, so the same worker script,
  kernel environment, timeout and kill of the kernel -- but into a private temporary folder on
  the node, and returns the files it produced (executed notebook, HTML, records, log) as bytes.
  The driver writes them into its staging folder and publishes as usual.
* :func:`build_bank_entry` trains one model-bank entry into the node's bank and returns the
  entry's files as bytes, so a driver on another file system gets them too.

The notebook's bytes travel with the task, so the node needs no copy of ``notebooks/``; it
needs the ``workbench`` package and the kernel (a shared file system, or the repository shipped
as Ray's ``working_dir``) and the data sets (see the README, "Running on a Ray cluster").
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

#: ``NotebookResult`` fields a task reports back (the driver keeps the planned rest)
RESULT_FIELDS = ("status", "error", "seconds", "finished_at", "notebook", "html")


def _files_under(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` as ``{relative posix path: bytes}``."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def run_notebook(payload: dict[str, Any]) -> dict[str, Any]:
    """Execute or re-render one notebook on this node; return its result and files.

    Args:
        payload: ``slug``, ``title``, ``spec`` (the planned job spec: parameters, kernel, cwd,
            plotly source), ``execute``, ``notebook_bytes`` (the input notebook), ``cached_bytes``
            (the published executed notebook, for a render-only job), ``profile``, ``threads``,
            ``timeout`` (s or ``None``) and ``shipped`` (the repository came as Ray's
            ``working_dir``, this worker's cwd: it goes first on the kernel's ``PYTHONPATH``;
            false on a shared file system).

    Returns:
        ``{"result": {field: value}, "files": {path relative to the report folder: bytes}}``.
    """
    from .plan import Job, NotebookResult
    from .pool import Progress, execute_all

    slug = payload["slug"]
    tmp = Path(tempfile.mkdtemp(prefix=f"wb-ray-{slug}-"))
    old_pythonpath = os.environ.get("PYTHONPATH")
    try:
        src = tmp / "input" / f"{slug}.ipynb"
        src.parent.mkdir()
        src.write_bytes(payload["notebook_bytes"])
        out = tmp / "out"
        out.mkdir()
        spec = dict(payload["spec"])
        # the notebooks' folder is the kernel's cwd when this node sees it (shared file system or
        # shipped repository); otherwise the notebook runs next to its own copy
        cwd = spec.get("cwd")
        if not (cwd and os.path.isdir(cwd)):
            shipped = Path.cwd() / "notebooks"
            cwd = str(shipped if payload.get("shipped") and shipped.is_dir() else src.parent)
        spec.update(
            input=str(src),
            output=str(out / f"{slug}.ipynb"),
            html=str(out / f"{slug}.html"),
            result=str(out / f".{slug}.result.json"),
            record_dir=str(out / "records" / slug),
            cwd=cwd,
        )
        if payload.get("cached_bytes") is not None:
            Path(spec["output"]).write_bytes(payload["cached_bytes"])
        if payload.get("shipped"):
            os.environ["PYTHONPATH"] = os.pathsep.join(
                p for p in (os.getcwd(), old_pythonpath) if p
            )
        result = NotebookResult(
            slug, payload["title"], "ok", notebook=f"{slug}.ipynb", html=f"{slug}.html"
        )
        job = Job(result, spec, execute=payload["execute"])
        execute_all(
            [job], out, payload["profile"], 1, payload["threads"], payload["timeout"],
            Progress(total=1), None,
        )  # fmt: skip
        return {
            "result": {f: getattr(result, f) for f in RESULT_FIELDS},
            "files": _files_under(out),
            "node": os.uname().nodename,
        }
    finally:
        # Ray reuses its worker processes: leave the environment as found
        if old_pythonpath is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old_pythonpath
        shutil.rmtree(tmp, ignore_errors=True)


def build_bank_entry(entry: Any, threads: int) -> dict[str, Any]:
    """Train ``entry`` into this node's model bank (a hit when already there); return its files.

    Returns:
        ``{"folder": entry folder name, "files": {name: bytes}, "seconds": wall time (s)}``.
    """
    from ..bank import trained

    t0 = time.perf_counter()
    r = trained(
        entry.model, entry.recipe, seed=entry.seed, progress=False, threads=threads,
        **dict(entry.kwargs),
    )  # fmt: skip
    return {
        "folder": Path(r.path).name,
        "files": _files_under(Path(r.path)),
        "seconds": round(time.perf_counter() - t0, 2),
    }
