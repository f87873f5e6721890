"""``workbench explore``: the explorers as a standalone web app (Voila, localhost)."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

from . import UsageError


def _kernel() -> str:
    """The ``workbench`` kernel when registered (``make setup``), else ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager

    return "workbench" if "workbench" in KernelSpecManager().find_kernel_specs() else "python3"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: argparse.Namespace) -> int:
    from ..explore.app import SECTIONS, write_app
    from ..paths import REPO_ROOT, cache_dir

    sections = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else list(SECTIONS)
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        raise UsageError(f"unknown explorer {bad[0]!r}; valid: {', '.join(SECTIONS)}")
    report = Path(args.report) if args.report else REPO_ROOT / "reports" / "default"
    if args.report and not (report / "records").is_dir():
        raise UsageError(f"--report {args.report}: no records/ folder (run `workbench report` first)")
    nb = write_app(cache_dir("explore") / "explore.ipynb", sections, model=args.model,
                   report=report if (report / "records").is_dir() else None, kernel=_kernel())  # fmt: skip
    port = args.port or _free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "voila", str(nb), f"--port={port}", "--Voila.ip=127.0.0.1",
           "--show_tracebacks=True"]  # fmt: skip
    if args.no_browser:
        cmd.append("--no-browser")
    print(f"workbench explore: serving {', '.join(sections)} at {url} (Ctrl-C stops)", flush=True)
    return subprocess.call(cmd)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explore", help="serve the interactive explorers as a web app (Voila, localhost)",
                       description="Serve the cost, zoo and literature explorers on localhost (Voila).")  # fmt: skip
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; just print the URL")
    p.add_argument("--only", default="", help="comma-separated explorers: cost,zoo,literature (default all)")
    p.add_argument("--model", default=None, help="registry model of the cost explorer (default: a block)")
    p.add_argument("--report", default=None,
                   help="report folder the zoo explorer reads (default reports/default if it exists, else a zoo count)")  # fmt: skip
    p.set_defaults(func=_run)
