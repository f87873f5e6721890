"""The explorers in a real JupyterLab and in the ``workbench explore`` app, in a real browser.

A fixture starts JupyterLab (127.0.0.1, a free port, a token) on the ``workbench`` kernel with a
small notebook holding one Explore cell; Playwright (Debian's Chromium, see conftest.py) opens it,
runs it, moves a slider and checks that the figure's data changed in place. The same for the
Voila app of ``workbench explore``. A Python traceback in an output, a widget that failed to
render, or a JavaScript exception fails the test.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import nbformat
import pytest
from conftest import PageProblems, free_port, stop, wait_http
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser

# ONE cell: whichever cell a click selects, running it cannot run the explorer before the import
EXPLORE_CELL = "import workbench as wb\nex = wb.explore.cost(block='inverted_residual', predictor=None)\nex"
# y values of every plotly figure on the page
FIGURE_DATA_JS = "() => JSON.stringify(Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => (p.data || []).map(d => d.y)))"
# the MACs bar (second) of the first figure dropped below half of the start
MACS_BELOW_HALF_JS = "() => { const p = document.querySelector('.js-plotly-plot'); return p && p.data[0].y[1] < 0.5; }"
# texts that mean a kernel or widget error in an output area
ERROR_MARKERS = ("Traceback (most recent call last)", "Error displaying widget", "Failed to load model class",
                 "Error:", "Exception")  # fmt: skip
# Voila's page template asks a CDN for Font Awesome; on an offline machine that load fails
OFFLINE_NOISE = ("cdn.jsdelivr.net", "Failed to load resource: net::ERR_NAME_NOT_RESOLVED")


def _real_problems(problems: list[str]) -> list[str]:
    return [p for p in problems if not any(n in p for n in OFFLINE_NOISE) and "network request: http://127.0.0.1" not in p]


def _figure_data(page) -> list:
    return json.loads(page.evaluate(FIGURE_DATA_JS))


def _wait_for_bars(page, timeout_ms: int = 120_000) -> list:
    page.wait_for_function(
        "() => { const p = document.querySelector('.js-plotly-plot'); return p && p.data && p.data.length && p.data[0].y && p.data[0].y.length; }",
        timeout=timeout_ms,
    )
    return _figure_data(page)


def _move_width_slider(page) -> None:
    """Two steps left on the width-multiplier slider, with the keyboard as a user would."""
    handle = page.locator(".wb-knob-width_mult .noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")


def _output_errors(page, selector: str) -> list[str]:
    texts = page.locator(selector).all_inner_texts()
    return [t[:300] for t in texts if any(m in t for m in ERROR_MARKERS)]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory, jupyter_env, as_root_args):
    """JupyterLab serving a folder with ``explore.ipynb``; yields ``(base_url, token)``."""
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EXPLORE_CELL)])
    nb.metadata["kernelspec"] = {"name": "workbench", "display_name": "Python (workbench)", "language": "python"}
    nbformat.write(nb, root / "explore.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *as_root_args],
        env=jupyter_env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/api/status?token={token}", proc)
        yield base, token
    finally:
        stop(proc)


def test_explore_cell_in_jupyterlab_moves_the_figure(jupyterlab, page):
    base, token = jupyterlab
    problems = PageProblems(page, allow_hosts=(base,))
    # Up to three page loads: a FigureWidget that misses anywidget's 2 s initialisation window
    # (seen on a busy machine, see workbench/explore/) never draws; a user would re-run the cell.
    # Each attempt's failure is kept, and the kernel/widget error checks below still apply.
    failures = []
    for _attempt in range(3):
        page.goto(f"{base}/lab/tree/explore.ipynb?token={token}", timeout=120_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        # the kernel must be up before the run (a cell run earlier waits in a queue and is fine too)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.click()  # the one cell, in edit mode
        page.keyboard.press("Shift+Enter")
        try:
            before = _wait_for_bars(page, timeout_ms=60_000)
            break
        except PlaywrightTimeout as e:
            failures.append(f"{e}: outputs {_output_errors(page, '.jp-OutputArea-output')}")
    else:
        pytest.fail(f"the explorer never drew in 3 page loads: {failures}")
    assert before[0][0] == [1, 1, 1], before  # every cost relative to the start
    _move_width_slider(page)
    page.wait_for_function(MACS_BELOW_HALF_JS, timeout=60_000)
    after = _figure_data(page)
    assert after[0][0][1] < 0.5, after  # MACs at width 0.5: about a quarter of the start
    assert page.locator(".wb-summary").inner_text().count("MACs") == 1
    assert not _output_errors(page, ".jp-OutputArea-output"), _output_errors(page, ".jp-OutputArea-output")
    assert not _real_problems(problems), problems


@pytest.fixture(scope="module")
def explore_app(jupyter_env, as_root_args):
    """``workbench explore --only cost --no-browser`` running; yields the URL it printed."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "explore", "--only", "cost", "--no-browser", "--port", str(port)],
                            env=jupyter_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line, line
        url = line.split(" at ", 1)[1].split()[0]
        wait_http(url, proc)
        yield url
    finally:
        stop(proc)


def test_explore_app_serves_a_live_cost_explorer(explore_app, page):
    problems = PageProblems(page, allow_hosts=(explore_app.rstrip("/"),))
    page.goto(explore_app, timeout=180_000)
    before = _wait_for_bars(page, timeout_ms=180_000)
    assert before[0][0] == [1, 1, 1], before
    _move_width_slider(page)
    page.wait_for_function(MACS_BELOW_HALF_JS, timeout=60_000)
    assert _figure_data(page)[0][0][1] < 0.5
    assert "0.5" in page.locator(".wb-knob-width_mult").inner_text()
    assert not _output_errors(page, "body"), _output_errors(page, "body")
    assert not _real_problems(problems), problems
