"""The published report in a real browser: headless Chromium, offline, from file://.

Chromium is driven over the DevTools protocol through ``--remote-debugging-pipe`` (JSON
messages on file descriptors 3 and 4), so no driver package is needed. Every page must load
without console errors or failed loads, request nothing over the network, and draw every plot
it should have (a ``.main-svg`` with content in each plot ``<div>``); formulas must be typeset
(native MathML layout, no raw LaTeX) and exercise answers collapsed.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped when it is missing.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from workbench.report.techniques import Technique

pytestmark = pytest.mark.browser

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-pipe",
    "--window-size=1400,1000",
)
# counts, per plot div, the SVG layers plotly drew and whether its plot area has traces
PLOT_STATE_JS = """
JSON.stringify(Array.from(document.querySelectorAll('.wb-plot')).map(function (d) {
  var svgs = d.querySelectorAll('.main-svg');
  return {id: d.id, svgs: svgs.length, children: svgs.length ? svgs[0].childElementCount : 0,
          traces: d.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length,
          height: d.getBoundingClientRect().height};
}))
"""


class Browser:
    """Just enough of the DevTools protocol: one page, its events, evaluate JS."""

    def __init__(self, user_data_dir: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def fds():  # chromium reads commands on fd 3 and answers on fd 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            preexec_fn=fds,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._id = 0
        self._replies: dict[int, queue.Queue] = {}
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=self.session)

    def _read(self) -> None:
        buf = b""
        while chunk := os.read(self._from_chrome, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg:
                    self._replies.setdefault(msg["id"], queue.Queue()).put(msg)
                else:
                    self.events.put(msg)

    def call(self, method: str, session: str | None = None, timeout: float = 60, **params):
        self._id += 1
        q = self._replies.setdefault(self._id, queue.Queue())
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        reply = q.get(timeout=timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def evaluate(self, js: str):
        return self.call(
            "Runtime.evaluate", session=self.session, expression=js, returnByValue=True
        )["result"].get("value")

    def open(self, url: str, timeout: float = 60) -> list[str]:
        """Load ``url``; returns the problems seen (console errors, exceptions, network use)."""
        while not self.events.empty():
            self.events.get()
        self.call("Page.navigate", session=self.session, url=url)
        problems, deadline, loaded = [], time.monotonic() + timeout, False
        while time.monotonic() < deadline:
            try:
                ev = self.events.get(timeout=0.5)
            except queue.Empty:
                if loaded:
                    break  # loaded and quiet for half a second
                continue
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Page.loadEventFired":
                loaded = True
            elif method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                problems.append(
                    f"exception: {d.get('exception', {}).get('description') or d.get('text')}"
                )
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                problems.append(
                    "console.error: "
                    + " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
                )
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                problems.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}")
            elif method == "Network.requestWillBeSent" and p["request"]["url"].startswith(
                ("http:", "https:")
            ):
                problems.append(f"network request: {p['request']['url']}")
            elif method == "Network.loadingFailed":
                problems.append(f"failed load: {p.get('errorText')}")
        assert loaded, f"{url} did not finish loading in {timeout} s"
        return problems

    def plots(self, timeout: float = 20) -> list[dict]:
        """Plot states once every plot has drawn (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while True:
            state = json.loads(self.evaluate(PLOT_STATE_JS))
            if all(s["children"] and s["traces"] for s in state) or time.monotonic() > deadline:
                return state
            time.sleep(0.25)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of the fixture notebooks (two ok, one failing), with a machine card."""
    from test_report import _workspace

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


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def test_index_renders_offline_without_errors(report, browser):
    problems = browser.open((report / "index.html").as_uri())
    assert not problems, problems
    plots = browser.plots()
    # three Pareto plots + alpha's card figure
    assert len(plots) == 4, plots
    blank = [
        p for p in plots if not (p["svgs"] and p["children"] and p["traces"] and p["height"] > 100)
    ]
    assert not blank, f"plots not drawn: {blank}"
    assert browser.evaluate("document.querySelectorAll('#leaderboard-table tbody tr').length") == 6
    assert browser.evaluate("document.querySelector('#card-broken').dataset.status") == "failed"


def test_leaderboard_sorts_by_clicked_column(report, browser):
    browser.open((report / "index.html").as_uri())
    first = "document.querySelector('#leaderboard-table tbody tr td').textContent"
    macs_header = "document.querySelectorAll('#leaderboard-table thead th')[3].click()"
    browser.evaluate(macs_header)
    assert browser.evaluate(first) == "beta-small"  # 10 M MACs, the cheapest
    browser.evaluate(macs_header)
    assert browser.evaluate(first) == "beta-large"  # 450 M MACs, the most expensive


# plots each notebook page must draw: a page with fewer (none) fails
PAGE_PLOTS = {"alpha.html": 1, "beta.html": 1}


@pytest.mark.parametrize("page", sorted(PAGE_PLOTS))
def test_notebook_pages_draw_their_plots_offline(report, browser, page):
    problems = browser.open((report / page).as_uri())
    assert not problems, problems
    plots = browser.plots()
    assert len(plots) == PAGE_PLOTS[page], f"expected {PAGE_PLOTS[page]} plot(s): {plots}"
    blank = [p for p in plots if not (p["children"] and p["traces"] and p["height"] > 100)]
    assert not blank, f"plots not drawn: {blank}"


def test_failed_notebook_page_shows_the_error_offline(report, browser):
    problems = browser.open((report / "broken.html").as_uri())
    assert not problems, problems
    assert "An Exception was encountered" in browser.evaluate("document.body.innerText")


# each <math> element's layout box: Chromium lays MathML out natively (CSS display "math" or
# "block math") and gives a typeset formula a real size
MATH_STATE_JS = """
JSON.stringify(Array.from(document.querySelectorAll('math')).map(function (m) {
  var r = m.getBoundingClientRect();
  return {display: getComputedStyle(m).display, width: r.width, height: r.height,
          block: m.getAttribute('display') === 'block', hidden: !m.checkVisibility()};
}))
"""


def test_formulas_are_typeset_offline(report, browser):
    problems = browser.open((report / "beta.html").as_uri())
    assert not problems, problems
    maths = json.loads(browser.evaluate(MATH_STATE_JS))
    visible = [m for m in maths if not m["hidden"]]
    assert len(visible) >= 6, maths  # 5 inline + 1 display formula outside the answer
    assert sum(m["block"] for m in visible) == 1, maths
    # "math" / "block math" when the browser lays MathML out; unknown XML would be "inline"
    assert all("math" in m["display"] for m in maths), maths
    assert all(m["width"] > 5 and m["height"] > 5 for m in visible), maths
    text = browser.evaluate("document.body.innerText")
    for raw in ("$\\frac", "\\frac", "$$", "C_{in}", "$k"):
        assert raw not in text, f"raw LaTeX {raw!r} shown"
    # code is not math
    assert "$HOME" in text and 'echo "$PATH costs $5"' in text


def test_exercise_answers_are_collapsed(report, browser):
    browser.open((report / "beta.html").as_uri())
    state = json.loads(
        browser.evaluate(
            "JSON.stringify(Array.from(document.querySelectorAll('details')).map(d => "
            "({open: d.open, answer: d.querySelector('p') && d.querySelector('p').checkVisibility(),"
            " summary: d.querySelector('summary').innerText})))"
        )
    )
    assert state == [{"open": False, "answer": False, "summary": "Answer"}], state
    assert "so they halve" not in browser.evaluate("document.body.innerText")
    browser.evaluate("document.querySelector('details summary').click()")
    assert browser.evaluate("document.querySelector('details').open") is True
    assert "so they halve" in browser.evaluate("document.body.innerText")
