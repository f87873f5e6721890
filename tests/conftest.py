"""Shared fixtures.

Browser tests (marker ``browser``) drive Debian's Chromium through Playwright (pytest-playwright's
``page``/``browser`` fixtures). Playwright's own browser download is not reachable, so the launch
always points at ``/usr/bin/chromium``; the tests skip, naming the reason, when it is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch arguments, on Debian's Chromium (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing (apt-get install -y chromium; `make browser` does it)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run"]}  # fmt: skip


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


class PageProblems(list):
    """Console errors, uncaught exceptions and failed or outgoing network loads of a page."""

    def __init__(self, page, *, allow_hosts: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.allow = allow_hosts

        def console(msg):
            if msg.type in ("error", "assert"):
                self.append(f"console.{msg.type}: {msg.text}")

        def request(req):
            if req.url.startswith(("http:", "https:")) and not req.url.startswith(self.allow):
                self.append(f"network request: {req.url}")

        page.on("console", console)
        page.on("pageerror", lambda e: self.append(f"exception: {e}"))
        page.on("request", request)
        page.on("requestfailed", lambda r: self.append(f"failed load: {r.url} {r.failure}"))


@pytest.fixture
def page_problems(page):
    """A :class:`PageProblems` list filled while the test drives ``page``."""
    return PageProblems(page)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    """Poll ``url`` until it answers; fail with the server's log if it dies or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started with ``start_new_session=True`` (its kernels too)."""
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory) -> dict[str, str]:
    """Environment for Jupyter servers: this checkout first on the path, a private workbench
    cache, and the ``workbench`` kernel (registered by ``make setup``; registered into a
    temporary JUPYTER_PATH here when missing)."""
    from jupyter_client.kernelspec import KernelSpecManager

    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_RECORD_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["WORKBENCH_CACHE"] = str(tmp_path_factory.mktemp("wb-cache"))
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("jupyter-runtime"))
    if "workbench" not in KernelSpecManager().find_kernel_specs():
        prefix = tmp_path_factory.mktemp("kernels")
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name",
                        "workbench", "--display-name", "Python (workbench)"], check=True, capture_output=True)  # fmt: skip
        env["JUPYTER_PATH"] = os.pathsep.join([str(prefix / "share" / "jupyter"), *filter(None, [env.get("JUPYTER_PATH")])])
    return env


@pytest.fixture(scope="session")
def as_root_args() -> list[str]:
    """``--allow-root`` when the tests run as root (containers): Jupyter refuses root otherwise."""
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def which_chromium() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@pytest.fixture(scope="session")
def kernel() -> str:
    """The notebooks' kernel, registered for this venv if missing (``make setup`` does it too)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from workbench.report.runner import KERNEL

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL],
            check=True,
        )
    return KERNEL
