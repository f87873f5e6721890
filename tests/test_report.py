"""The report pipeline: record API, cache keys, papermill runs, atomic publication.

Pipeline tests run the small notebooks in ``tests/fixtures/notebooks/`` (a few seconds each
on an idle machine) against a temporary technique list, reports folder and package folder, so
the cache does not see the package being edited. ``test_smoke_profile_*`` runs the REAL
notebooks of the technique registry (select it with ``-k smoke_profile``).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from report_fixtures import (  # tests/ is on sys.path
    ALPHA,
    BETA,
    BROKEN,
    FIXTURES,
    NOTHERE,
    SLEEPY,
    workspace,
)

from workbench.paths import NOTEBOOKS_DIR
from workbench.plots import pareto_front
from workbench.report import cache, record
from workbench.report.publish import recover
from workbench.report.runner import default_jobs, run_reports
from workbench.report.techniques import PROFILES, TECHNIQUES, Technique

REMOTE_SRC = re.compile(
    r"""<(?:script|link|img|iframe)[^>]+(?:src|href)=["']?(?:https?:)?//""", re.I
)


def _run(ws: dict[str, Path], techniques, **kw):
    return run_reports(techniques, profile="smoke", extras=None, **ws, **kw)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, kernel):
    """alpha, beta, broken and a missing notebook through the CLI, two at a time."""
    from workbench.cli import main
    from workbench.registry import Registry

    ws = workspace(tmp_path_factory.mktemp("first"))
    registry = Registry("technique")
    for t in (ALPHA, BETA, BROKEN, NOTHERE):
        registry.register(t.slug, t)
    mp = pytest.MonkeyPatch()
    mp.setattr("workbench.report.runner.TECHNIQUES", registry)
    mp.setattr("workbench.paths.PACKAGE_DIR", ws["package_dir"])
    mp.setattr("workbench.paths.DATASETS_DIR", ws["datasets_dir"])
    # extras off: the index would otherwise profile the zoo; they have their own test
    mp.setattr("workbench.report.index.default_extras", lambda: None)
    started = time.monotonic()
    code = main(
        [
            "report",
            "--profile",
            "smoke",
            "--jobs",
            "2",
            "--no-progress",
            "--notebooks-dir",
            str(ws["notebooks_dir"]),
            "--reports-dir",
            str(ws["reports_dir"]),
        ]
    )
    seconds = time.monotonic() - started
    mp.undo()
    out = ws["reports_dir"] / "smoke"
    return {
        "ws": ws,
        "code": code,
        "out": out,
        "manifest": json.loads((out / "manifest.json").read_text()),
        "seconds": seconds,
    }


# ---------------------------------------------------------------------------------------------
# record
# ---------------------------------------------------------------------------------------------
def test_record_roundtrip_with_numpy_nan_frames_and_figures(tmp_path, monkeypatch):
    monkeypatch.setenv(record.ENV_DIR, str(tmp_path))
    record.record(
        "key_numbers",
        {"a": np.float32(1.5), "b": np.int64(3), "c": np.nan, "d": {"value": 2e6, "unit": "macs"}},
    )
    record.record("arr", np.arange(3))
    df = pd.DataFrame(
        {"name": ["m1", "m2"], "params": [np.int64(10), 20], "accuracy": [np.nan, 71.5]}
    )
    record.record("models", df)
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, float("nan")]))
    record.record("card_fig", fig)
    record.record("arr", [1, 2])  # overwrite keeps the original order

    for f in tmp_path.glob("*.json"):  # strict JSON: a browser's JSON.parse rejects NaN
        json.loads(f.read_text(), parse_constant=lambda c, f=f: pytest.fail(f"{f.name} has {c}"))
    got = record.load_records(tmp_path)
    assert list(got) == ["key_numbers", "arr", "models", "card_fig"]
    assert got["key_numbers"] == {"a": 1.5, "b": 3, "c": None, "d": {"value": 2e6, "unit": "macs"}}
    assert got["arr"] == [1, 2]
    assert got["models"]["params"].tolist() == [10, 20] and math.isnan(got["models"]["accuracy"][0])
    assert got["card_fig"]["data"][0]["x"] == [1, 2]


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("bad key!", 1, "must match"),
        ("models", pd.DataFrame({"params": [1]}), "'name' column"),
        ("models", pd.DataFrame({"name": ["a"], "macs": ["many"]}), "must be numeric"),
        ("models", {"name": "a"}, "DataFrame"),
        ("claim_result", {"verdict": "true", "evidence": "x"}, "verdict"),
        ("key_numbers", {"x": {"value": 1, "units": "ms"}}, "unit"),
        ("card_x", {"data": []}, "plotly Figure"),
        ("thing", object(), "cannot record"),
    ],
)
def test_record_rejects_bad_values(tmp_path, monkeypatch, key, value, match):
    monkeypatch.setenv(record.ENV_DIR, str(tmp_path))
    with pytest.raises(ValueError, match=match):
        record.record(key, value)


def test_record_interactive_never_fails(tmp_path, monkeypatch):
    monkeypatch.delenv(record.ENV_DIR, raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "/some/dir/my notebook.ipynb")
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(record, "_interactive_dir", lambda: blocker / "cannot-be-a-dir")
    monkeypatch.setattr(record.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    record.record("x", 1)  # repo folder unwritable: falls back to the temp folder
    assert (
        json.loads((tmp_path / "tmp" / "workbench-records" / "my_notebook" / "x.json").read_text())
        == 1
    )
    monkeypatch.setattr(record.tempfile, "gettempdir", lambda: str(blocker))
    with pytest.warns(UserWarning, match="could not write"):
        record.record("x", 2)  # nothing writable: a warning, never an exception


# ---------------------------------------------------------------------------------------------
# cache keys, Pareto front, recovery
# ---------------------------------------------------------------------------------------------
def test_execution_key_tracks_notebook_params_package_and_data(tmp_path):
    ws = workspace(tmp_path)
    nb = ws["notebooks_dir"] / "alpha.ipynb"

    def key(params=None):
        return cache.execution_key(
            nb,
            params or {"n": 1},
            profile="smoke",
            kernel="k",
            package_fp=cache.package_fingerprint(ws["package_dir"]),
            data_fp=cache.data_fingerprint(ws["datasets_dir"]),
        )

    k0 = key()
    assert key() == k0
    assert key({"n": 2}) != k0
    (ws["datasets_dir"] / "version.txt").write_text("2\n")
    k1 = key()
    assert k1 != k0
    (ws["package_dir"] / "mod.py").write_text("X = 2\n")
    k2 = key()
    assert k2 != k1
    (ws["package_dir"] / "report").mkdir()
    (ws["package_dir"] / "report" / "index.py").write_text("# presentation only\n")
    assert key() == k2, "the report pipeline's own source must not invalidate executions"
    (ws["package_dir"] / "report" / "record.py").write_text("# but record.py does\n")
    k3 = key()
    assert k3 != k2
    # the notebook's bytes, and nothing else, change here: compared with the key just before
    text = nb.read_text()
    assert "made up" in text
    nb.write_text(text.replace("made up", "made-up"))
    assert key() != k3, "editing the notebook must change its execution key"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"profile": "huge"}, "unknown profile 'huge'; valid: smoke, default, full"),
        ({"timeout": -1}, "timeout must be a finite number of seconds > 0, got -1"),
        ({"timeout": 0}, "timeout must be"),
        ({"timeout": float("inf")}, "timeout must be"),
        ({"timeout": float("nan")}, "timeout must be"),
        ({"jobs": 0}, "jobs must be an integer >= 1, got 0"),
        ({"only": ["alpha", "nope"]}, "unknown technique nope; valid: alpha, beta"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(tmp_path, kwargs, match):
    ws = workspace(tmp_path)
    kwargs = {"profile": "smoke", **kwargs}
    with pytest.raises(ValueError, match=re.escape(match)):
        run_reports([ALPHA, BETA], extras=None, **ws, **kwargs)
    assert not ws["reports_dir"].exists() or not any(ws["reports_dir"].iterdir())


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--timeout", "-1"], "timeout must be a finite number of seconds > 0"),
        (["--timeout", "inf"], "timeout must be a finite number of seconds > 0"),
        (["--jobs", "0"], "jobs must be an integer >= 1"),
        (["--profile", "huge"], "unknown profile 'huge'; valid: smoke, default, full"),
        (["--only", "nope"], "unknown technique nope; valid: "),
    ],
)
def test_cli_bad_options_exit_2_with_one_line(capsys, argv, match):
    from workbench.cli import main

    assert main(["report", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_plan_takes_the_expected_duration_from_the_previous_manifest(tmp_path):
    from workbench.report.plan import Keys, plan_notebook

    ws = workspace(tmp_path)
    staging = tmp_path / "staging"
    staging.mkdir()
    previous = {"notebooks": {"alpha": {"slug": "alpha", "status": "ok", "seconds": 321.0,
                                        "exec_key": "stale"}}}  # fmt: skip
    keys = Keys(package="p", data="d", report="r")
    r, job = plan_notebook(
        ALPHA, "smoke", ws["notebooks_dir"], staging, tmp_path / "published", previous,
        run=True, force=False, kernel="k", keys=keys,
    )  # fmt: skip
    assert job.execute and job.expected_s == 321.0 and r.parameters == {"n_models": 4}
    _, job = plan_notebook(
        BETA, "smoke", ws["notebooks_dir"], staging, tmp_path / "published", previous,
        run=True, force=False, kernel="k", keys=keys,
    )  # fmt: skip
    assert job.execute and job.expected_s is None, "never timed: no expected duration"


def test_longest_first_orders_by_the_previous_durations():
    from workbench.report.plan import Job, NotebookResult, longest_first

    def job(slug, seconds, execute=True):
        return Job(NotebookResult(slug, slug, "ok"), {}, execute=execute, expected_s=seconds)

    jobs = [job("short", 5.0), job("render", None, False), job("long", 300.0), job("new", None)]
    assert [j.result.slug for j in longest_first(jobs)] == ["new", "long", "short", "render"]


class _Entry:
    """A stand-in for a model-bank entry: ``key()`` and ``digest()`` are all the runner uses."""

    def __init__(self, name: str) -> None:
        self.name = name

    def key(self) -> str:
        return self.name

    def digest(self) -> str:
        return f"digest-{self.name}"


class _StopRun(BaseException):
    """Like Ctrl-C: an interrupt stops the run (an ordinary bank error does not, see below)."""


def test_bank_entries_of_planned_notebooks_are_built_first_and_once(tmp_path):
    ws = workspace(tmp_path)
    a = Technique("alpha", "A", "c", ("x",), bank=(_Entry("m1"), _Entry("m2")))
    b = Technique("beta", "B", "c", ("x",), bank=(_Entry("m2"), _Entry("m3")))
    calls, events = [], []

    def build_bank(entries, *, jobs, progress):
        calls.append(([e.key() for e in entries], jobs))
        progress("2/3 built")
        raise _StopRun  # stop before any notebook: only the order matters here

    with pytest.raises(_StopRun):
        run_reports(
            [a, b], profile="smoke", extras=None, jobs=2, build_bank=build_bank,
            on_event=lambda ev, p, r: events.append((ev, p.bank)), **ws,
        )  # fmt: skip
    assert calls == [(["m1", "m2", "m3"], 2)]
    assert events == [("bank", "2/3 built")], "the bank runs before any notebook starts"
    assert not list(ws["reports_dir"].glob(".staging-*")), "an aborted run leaves no staging"


def test_a_failing_bank_build_does_not_stop_the_notebooks(tmp_path):
    ws = workspace(tmp_path)
    a = Technique("alpha", "A", "c", ("x",), bank=(_Entry("m1"),))
    events = []

    def build_bank(entries, *, jobs, progress):
        raise RuntimeError("disk on fire")

    summary = run_reports(
        [a], profile="smoke", extras=None, jobs=1, build_bank=build_bank,
        on_event=lambda ev, p, r: events.append((ev, p.bank)), **ws,
    )  # fmt: skip
    assert summary.ok and [r.status for r in summary.results] == ["ok"]
    assert any(ev == "bank" and "disk on fire" in msg for ev, msg in events)


def test_console_progress_prints_bank_messages():
    import io

    from workbench.report.pool import Progress
    from workbench.report.progress import ConsoleProgress

    out = io.StringIO()
    p = Progress(total=2)
    p.bank = "built mobilenetv2_050/fmnist_short (1/2)"
    ConsoleProgress(out, live=False)("bank", p, None)
    assert out.getvalue().rstrip().endswith("bank    built mobilenetv2_050/fmnist_short (1/2)")


def test_bank_entries_see_the_notebooks_effective_parameters():
    """A callable ``bank`` gets the parameters cell merged with the profile's overrides."""
    from workbench.report.plan import Job, NotebookResult, bank_entries
    from workbench.report.techniques import Technique

    seen = []

    def entries(params):
        seen.append(dict(params))
        return [_Entry(f"m{i}") for i in range(params["n_models"])]

    spec = {"input": str(FIXTURES / "alpha.ipynb"), "parameters": {"n_models": 2}}
    t = Technique("alpha", "A", "c", ("x",), bank=entries)
    out = bank_entries([Job(NotebookResult("alpha", "A", "ok"), spec, execute=True, technique=t)])
    assert [e.name for e in out] == ["m0", "m1"]
    assert seen == [{"n_models": 2, "scale": 1.0}]  # default scale from the notebook, override n_models


def test_bank_step_is_skipped_without_a_bank_module(monkeypatch):
    from workbench.report.plan import Job, NotebookResult
    from workbench.report.pool import Progress
    from workbench.report.runner import _build_bank

    todo = [
        Job(NotebookResult("a", "A", "ok"), {}, execute=True, technique=Technique(
            "a", "A", "c", ("x",), bank=(_Entry("m1"),))),
        Job(NotebookResult("b", "B", "ok"), {}, execute=False, technique=Technique(
            "b", "B", "c", ("x",), bank=(_Entry("m9"),))),
    ]  # fmt: skip
    monkeypatch.setitem(sys.modules, "workbench.bank", None)  # import fails
    _build_bank(todo, "default", 1, Progress(total=2), None)  # no error
    fake = type(sys)("workbench.bank")
    built = []
    fake.ensure = lambda entries, jobs, progress: built.extend(e.key() for e in entries)
    monkeypatch.setitem(sys.modules, "workbench.bank", fake)
    _build_bank(todo, "default", 1, Progress(total=2), None)
    assert built == ["m1"], "only notebooks that execute need their bank entries"


@pytest.mark.parametrize(
    ("markdown", "n_math", "kept"),
    [
        ("cost $k^2 C$ per pixel", 1, ["cost ", " per pixel"]),
        ("$$\\frac{a}{b}$$", 1, []),
        ("\\(x\\) and \\[y\\]", 2, [" and "]),
        ("costs $5 and $6 today", 0, ["costs $5 and $6 today"]),
        ("`$HOME` is code, $x$ is not", 1, ["`$HOME` is code, "]),
        ("```\necho $a $b\n```\n$y$", 1, ["```\necho $a $b\n```"]),
        ("$\\notacommand{x}$", 0, ["$\\notacommand{x}$"]),
        ("bytes $= 4 \\cdot 9\n= 36$ here", 1, ["bytes ", " here"]),  # wraps in a paragraph
        ("pay $a\n\nb$ later", 0, ["pay $a\n\nb$ later"]),  # not across paragraphs
    ],
)
def test_markdown_math_becomes_mathml_but_code_and_prices_do_not(markdown, n_math, kept):
    from workbench.report.notebook_html import markdown_math_to_mathml, put_mathml

    formulas: dict[str, str] = {}
    text = markdown_math_to_mathml(markdown, formulas)
    assert len(formulas) == n_math
    assert all(k in text for k in kept)
    page = put_mathml(text, formulas)
    assert page.count("<math") == n_math and "wbmath" not in page


def test_pareto_front():
    cost = [1, 2, 3, 4, 5, 2]
    acc = [50, 60, 55, 70, 69, 58]
    assert pareto_front(cost, acc) == [0, 1, 3]


def test_recover_restores_a_half_swapped_publication(tmp_path):
    (tmp_path / ".old-smoke-abc").mkdir()
    (tmp_path / ".old-smoke-abc" / "index.html").write_text("previous")
    (tmp_path / ".staging-smoke-1-xyz").mkdir()
    recover(tmp_path, "smoke")
    assert (tmp_path / "smoke" / "index.html").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smoke"]


# ---------------------------------------------------------------------------------------------
# pipeline
# ---------------------------------------------------------------------------------------------
def test_failures_are_reported_and_the_others_published(first_run):
    out, nbs = first_run["out"], first_run["manifest"]["notebooks"]
    assert first_run["code"] == 1, "a failed notebook must make the command exit non-zero"
    assert {s: nbs[s]["status"] for s in nbs} == {
        "alpha": "ok",
        "beta": "ok",
        "broken": "failed",
        "nothere": "missing",
    }
    assert "RuntimeError: fixture failure on purpose" in nbs["broken"]["error"]
    broken_html = (out / "broken.html").read_text()
    assert "An Exception was encountered" in broken_html, "papermill's banner must reach the HTML"
    index = (out / "index.html").read_text()
    assert 'href="broken.html"' in index and "fixture failure on purpose" in index
    assert not list(out.parent.glob(".staging-*")) and not list(out.parent.glob(".old-*"))
    # how long publication took after the last notebook is recorded (the economy budget)
    assert first_run["manifest"]["after_last_notebook_s"] >= 0


def test_parameters_threads_and_cwd_reach_the_kernel(first_run):
    recs = record.load_records(first_run["out"] / "records" / "alpha")
    assert recs["key_numbers"]["models"] == 4  # smoke override of n_models = 3
    assert len(recs["models"]) == 4
    threads = str(max(1, default_jobs() // 2))
    assert recs["env"] == {
        "WORKBENCH_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "WORKBENCH_PROFILE": "smoke",
    }
    assert Path(recs["cwd"]) == first_run["ws"]["notebooks_dir"].resolve()
    assert first_run["manifest"]["notebooks"]["alpha"]["parameters"] == {"n_models": 4}


def test_reports_are_offline_with_one_shared_plotly(first_run):
    out = first_run["out"]
    htmls = sorted(out.glob("*.html"))
    assert {p.name for p in htmls} == {"index.html", "alpha.html", "beta.html", "broken.html"}
    for p in htmls:
        text = p.read_text()
        assert not REMOTE_SRC.search(text), f"{p.name} loads something from the network"
        assert text.count('src="assets/plotly.min.js"') == 1, p.name
        assert len(text) < 2_000_000, f"{p.name} inlines plotly.js"
    assert (out / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    alpha_nb = json.loads((out / "alpha.ipynb").read_text())
    mimes = [set(o.get("data", {})) for c in alpha_nb["cells"] for o in c.get("outputs", [])]
    assert {"application/vnd.plotly.v1+json"} in mimes, "figures are stored as plotly JSON only"
    md = (out / "index.md").read_text()
    assert "| Alpha fixture | ok |" in md and "fixture-net-3" in md


def test_cache_skips_unchanged_and_reruns_changed(first_run, tmp_path):
    ws = {**first_run["ws"], "reports_dir": tmp_path / "reports"}
    shutil.copytree(first_run["out"], ws["reports_dir"] / "smoke")
    started = time.monotonic()
    s = _run(ws, [ALPHA, BETA])
    assert [(r.slug, r.status, r.cached) for r in s.results] == [
        ("alpha", "ok", True),
        ("beta", "ok", True),
    ]
    assert time.monotonic() - started < 15, "an unchanged rerun must not execute anything"
    assert (s.out_dir / "alpha.html").exists() and (
        s.out_dir / "records" / "alpha" / "models.csv"
    ).exists()

    beta = ws["notebooks_dir"] / "beta.ipynb"
    beta.write_text(beta.read_text().replace("made up", "made-up"))
    s = _run(ws, [ALPHA, BETA])
    assert [(r.slug, r.status, r.cached) for r in s.results] == [
        ("alpha", "ok", True),
        ("beta", "ok", False),
    ]


def test_interrupted_run_leaves_the_published_report_intact(first_run, tmp_path, kernel):
    ws = {**first_run["ws"], "reports_dir": tmp_path / "reports"}
    published = ws["reports_dir"] / "smoke"
    shutil.copytree(first_run["out"], published)
    before = (published / "manifest.json").read_bytes()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from workbench.report.runner import run_reports
        from workbench.report.techniques import Technique
        t = Technique("sleepy", "Sleepy", "Sleeps.", ("x",), profiles={{"smoke": {{"seconds": 120.0}}}})
        run_reports([t], profile="smoke", extras=None, force=True, **{{k: Path(v) for k, v in {json.dumps({k: str(v) for k, v in ws.items()})}.items()}})
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while not (started := list(ws["reports_dir"].glob(".staging-smoke-*/records/sleepy/pid.json"))):
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "the sleepy notebook never started"
        time.sleep(0.2)
    shutil.copy(started[0], tmp_path / "kernel-pid.json")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert (published / "manifest.json").read_bytes() == before
    assert sorted(
        p.name for p in ws["reports_dir"].iterdir() if not p.name.startswith(".lock")
    ) == ["smoke"]
    import psutil

    kernel_pid = json.loads(next(tmp_path.glob("kernel-pid.json")).read_text())
    workers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(ws["reports_dir"]) in " ".join(p.info["cmdline"] or [])
    ]
    assert not workers, f"worker survived: {workers}"
    assert (
        not psutil.pid_exists(kernel_pid)
        or psutil.Process(kernel_pid).status() == psutil.STATUS_ZOMBIE
    )


def test_timeout_kills_the_notebook_and_keeps_what_ran(first_run, tmp_path, kernel):
    ws = {**first_run["ws"], "reports_dir": tmp_path / "reports"}
    s = _run(ws, [SLEEPY], timeout=2)
    (r,) = s.results
    assert r.status == "timeout" and not s.ok
    assert r.error == "timed out after 2 s"
    assert "Execution stopped: timed out after 2 s" in (s.out_dir / r.html).read_text()
    assert "papermill-error-cell-tag" in (s.out_dir / r.notebook).read_text()


def test_extras_failures_become_notes(first_run, tmp_path):
    from workbench.report.index import IndexExtras

    def broken_claims():
        raise ImportError("claims helper not written yet")

    machine = {
        "cpu": "Fixture CPU",
        "cores": 2,
        "gemm_gflops": 123.4,
        "bandwidth_gbs": 9.8,
        "torch": "x",
    }
    extras = IndexExtras(claims=broken_claims, machine=lambda: machine, literature=None)
    ws = {**first_run["ws"], "reports_dir": tmp_path / "reports"}
    shutil.copytree(first_run["out"], ws["reports_dir"] / "smoke")
    s = run_reports([ALPHA, BETA], profile="smoke", extras=extras, **ws)
    index = s.index_html.read_text()
    assert "claims section unavailable: ImportError: claims helper not written yet" in index
    assert "Fixture CPU" in index and "123 GFLOP/s" in index
    assert "compute bound at GEMM peak (123 GFLOP/s)" in index
    assert list((ws["reports_dir"] / ".cache").glob("machine-*.json")), "machine info is cached"

    claims = pd.DataFrame(
        {
            "model": ["net_a", "net_b"],
            "params_claim_m": [3.5, 1.0],
            "params_measured_m": [3.504, 1.2],
            "params_delta_pct": [0.11, 20.0],
            "verdict": ["agrees", "MISMATCH"],
            "note": ["", "made up"],
        }
    )

    def literature(out_path, plotly_js_src):
        Path(out_path).write_text(f'<script src="{plotly_js_src}"></script>literature')

    ws["reports_dir"] = tmp_path / "reports2"
    shutil.copytree(first_run["out"], ws["reports_dir"] / "smoke")
    s = run_reports(
        [ALPHA],
        profile="smoke",
        extras=IndexExtras(claims=lambda: claims, literature=literature),
        **ws,
    )
    index = s.index_html.read_text()
    assert (
        '<td class="num" data-v="3.504">3.50 M</td>' in index
        and '<td class="bad">MISMATCH</td>' in index
    )
    assert 'href="literature.html"' in index and (s.out_dir / "literature.html").exists()
    assert pd.read_csv(s.out_dir / "claims.csv")["model"].tolist() == ["net_a", "net_b"]


# ---------------------------------------------------------------------------------------------
# the real notebooks
# ---------------------------------------------------------------------------------------------
def _registered_notebooks() -> list[Technique]:
    return [TECHNIQUES.get(s) for s in TECHNIQUES]


def test_every_registered_technique_has_its_notebook():
    missing = [s for s in TECHNIQUES if not (NOTEBOOKS_DIR / f"{s}.ipynb").exists()]
    assert not missing, f"registered techniques without notebooks/<slug>.ipynb: {missing}"


@pytest.mark.parametrize("slug", list(TECHNIQUES))
def test_notebook_has_clean_parameters_cell(slug):
    import papermill as pm

    path = NOTEBOOKS_DIR / f"{slug}.ipynb"
    nb = json.loads(path.read_text())
    assert not [c for c in nb["cells"] if c.get("outputs") or c.get("execution_count")], (
        "commit notebooks without outputs"
    )
    assert sum("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"]) == 1
    names = set(pm.inspect_notebook(str(path)))
    t = TECHNIQUES.get(slug)
    for profile in PROFILES:
        unknown = set(t.parameters(profile)) - names
        assert not unknown, (
            f"profile {profile!r} overrides {sorted(unknown)}, not in the parameters cell {sorted(names)}"
        )


@pytest.mark.notebooks
def test_smoke_profile_executes_every_registered_notebook(tmp_path, kernel):
    techniques = _registered_notebooks()
    s = run_reports(techniques, profile="smoke", reports_dir=tmp_path, extras=None, timeout=900)
    failed = {r.slug: r.error for r in s.results if r.status != "ok"}
    assert not failed, (
        f"notebooks failed in the smoke profile (see {s.out_dir}/<slug>.html): {failed}"
    )
    for r in s.results:
        assert (s.out_dir / "records" / r.slug / "_records.json").exists(), (
            f"{r.slug} recorded nothing"
        )
