"""The published report in a real browser: Debian's headless Chromium driven by Playwright, offline.

Every page must load from file:// without console errors, exceptions or failed loads, request
nothing over the network, and draw every plot it should have (a ``.main-svg`` with content in
each plot ``<div>``); formulas must be typeset (native MathML layout, no raw LaTeX) and exercise
answers collapsed. The Chromium launch (``/usr/bin/chromium``, skipped when missing) is set in
``tests/conftest.py``.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import PageProblems

from workbench.report.techniques import Technique

pytestmark = pytest.mark.browser

# counts, per plot div, the SVG layers plotly drew and whether its plot area has traces
PLOT_STATE_JS = """
() => JSON.stringify(Array.from(document.querySelectorAll('.wb-plot')).map(function (d) {
  var svgs = d.querySelectorAll('.main-svg');
  return {id: d.id, svgs: svgs.length, children: svgs.length ? svgs[0].childElementCount : 0,
          traces: d.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length,
          height: d.getBoundingClientRect().height};
}))
"""


class Browser:
    """One Playwright page with its problems list: the old DevTools client's interface."""

    def __init__(self, page) -> None:
        self.page = page
        self.problems = PageProblems(page)

    def evaluate(self, js: str):
        return self.page.evaluate(f"() => {js}")

    def open(self, url: str, timeout: float = 60) -> list[str]:
        """Load ``url``; returns the problems seen (console errors, exceptions, network use)."""
        self.problems.clear()
        self.page.goto(url, wait_until="load", timeout=timeout * 1000)
        self.page.wait_for_timeout(500)  # late errors of scripts run after load
        return list(self.problems)

    def plots(self, timeout: float = 20) -> list[dict]:
        """Plot states once every plot has drawn (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while True:
            state = json.loads(self.page.evaluate(PLOT_STATE_JS))
            if all(s["children"] and s["traces"] for s in state) or time.monotonic() > deadline:
                return state
            time.sleep(0.25)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of the fixture notebooks (two ok, one failing), with a machine card."""
    from report_fixtures import workspace as _workspace

    from workbench.report.index import IndexExtras
    from workbench.report.runner import run_reports

    ws = _workspace(tmp_path_factory.mktemp("browser"))
    techniques = [
        Technique(
            "alpha",
            "Alpha fixture",
            "Made-up claim A.",
            ("x",),
            profiles={"smoke": {"n_models": 4}},
        ),
        Technique("beta", "Beta fixture", "Made-up claim B.", ("x",)),
        Technique("broken", "Broken fixture", "Fails on purpose.", ("x",)),
    ]
    machine = {"cpu": "Fixture CPU", "cores": 2, "gemm_gflops": 50.0, "bandwidth_gbs": 10.0}
    summary = run_reports(
        techniques, profile="smoke", extras=IndexExtras(machine=lambda: machine), **ws
    )
    return summary.out_dir


@pytest.fixture
def view(page):
    return Browser(page)


def test_index_renders_offline_without_errors(report, view):
    problems = view.open((report / "index.html").as_uri())
    assert not problems, problems
    plots = view.plots()
    # three Pareto plots + alpha's card figure
    assert len(plots) == 4, plots
    blank = [
        p for p in plots if not (p["svgs"] and p["children"] and p["traces"] and p["height"] > 100)
    ]
    assert not blank, f"plots not drawn: {blank}"
    assert view.evaluate("document.querySelectorAll('#leaderboard-table tbody tr').length") == 6
    assert view.evaluate("document.querySelector('#card-broken').dataset.status") == "failed"


def test_leaderboard_sorts_by_clicked_column(report, view):
    view.open((report / "index.html").as_uri())
    first = "document.querySelector('#leaderboard-table tbody tr td').textContent"
    macs_header = "document.querySelectorAll('#leaderboard-table thead th')[3].click()"
    view.evaluate(macs_header)
    assert view.evaluate(first) == "beta-small"  # 10 M MACs, the cheapest
    view.evaluate(macs_header)
    assert view.evaluate(first) == "beta-large"  # 450 M MACs, the most expensive


# plots each notebook page must draw: a page with fewer (none) fails
PAGE_PLOTS = {"alpha.html": 1, "beta.html": 1}


@pytest.mark.parametrize("html_page", sorted(PAGE_PLOTS))
def test_notebook_pages_draw_their_plots_offline(report, view, html_page):
    problems = view.open((report / html_page).as_uri())
    assert not problems, problems
    plots = view.plots()
    assert len(plots) == PAGE_PLOTS[html_page], f"expected {PAGE_PLOTS[html_page]} plot(s): {plots}"
    blank = [p for p in plots if not (p["children"] and p["traces"] and p["height"] > 100)]
    assert not blank, f"plots not drawn: {blank}"


def test_failed_notebook_page_shows_the_error_offline(report, view):
    problems = view.open((report / "broken.html").as_uri())
    assert not problems, problems
    assert "An Exception was encountered" in view.evaluate("document.body.innerText")


# each <math> element's layout box: Chromium lays MathML out natively (CSS display "math" or
# "block math") and gives a typeset formula a real size
MATH_STATE_JS = """
JSON.stringify(Array.from(document.querySelectorAll('math')).map(function (m) {
  var r = m.getBoundingClientRect();
  return {display: getComputedStyle(m).display, width: r.width, height: r.height,
          block: m.getAttribute('display') === 'block', hidden: !m.checkVisibility()};
}))
"""


def test_formulas_are_typeset_offline(report, view):
    problems = view.open((report / "beta.html").as_uri())
    assert not problems, problems
    maths = json.loads(view.evaluate(MATH_STATE_JS))
    visible = [m for m in maths if not m["hidden"]]
    assert len(visible) >= 6, maths  # 5 inline + 1 display formula outside the answer
    assert sum(m["block"] for m in visible) == 1, maths
    # "math" / "block math" when the browser lays MathML out; unknown XML would be "inline"
    assert all("math" in m["display"] for m in maths), maths
    assert all(m["width"] > 5 and m["height"] > 5 for m in visible), maths
    text = view.evaluate("document.body.innerText")
    for raw in ("$\\frac", "\\frac", "$$", "C_{in}", "$k"):
        assert raw not in text, f"raw LaTeX {raw!r} shown"
    # code is not math
    assert "$HOME" in text and 'echo "$PATH costs $5"' in text


def test_exercise_answers_are_collapsed(report, view):
    view.open((report / "beta.html").as_uri())
    state = json.loads(
        view.evaluate(
            "JSON.stringify(Array.from(document.querySelectorAll('details')).map(d => "
            "({open: d.open, answer: d.querySelector('p') && d.querySelector('p').checkVisibility(),"
            " summary: d.querySelector('summary').innerText})))"
        )
    )
    assert state == [{"open": False, "answer": False, "summary": "Answer"}], state
    assert "so they halve" not in view.evaluate("document.body.innerText")
    view.evaluate("document.querySelector('details summary').click()")
    assert view.evaluate("document.querySelector('details').open") is True
    assert "so they halve" in view.evaluate("document.body.innerText")
