"""The Ray executor and parameter sweeps (issue 17), on a real local Ray cluster.

One Ray instance (2 CPUs, 127.0.0.1, no dashboard) serves the whole module and is shut down at
the end. Everything runs the small fixture notebooks of ``tests/fixtures/notebooks/`` (a few
seconds each on an idle machine), never the real technique notebooks.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from report_fixtures import ALPHA, BETA, BROKEN, FIXTURES, SLEEPY, workspace  # noqa: E402 (tests/ is on sys.path)

from workbench.cli import main  # noqa: E402
from workbench.report.executors import RayExecutor, get_executor, install_entry  # noqa: E402
from workbench.report.runner import run_reports  # noqa: E402
from workbench.report.sweep import parse_grid, run_sweep  # noqa: E402
from workbench.report.techniques import Technique  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A real local Ray cluster: head on 127.0.0.1 with 2 CPUs."""
    for attempt in range(3):
        try:
            ray.init(
                address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                _node_ip_address="127.0.0.1",
            )  # fmt: skip
            break
        except Exception:  # noqa: BLE001 - Ray waits a fixed 30 s for its raylet: slow on a busy machine
            ray.shutdown()
            if attempt == 2:
                raise
    try:
        yield ray
    finally:
        ray.shutdown()


def _run(ws, techniques, **kw):
    return run_reports(techniques, profile="smoke", extras=None, jobs=2, **ws, **kw)


@pytest.fixture(scope="module")
def both(tmp_path_factory, kernel, cluster):
    """alpha and broken through Ray, then the same through the local pool (same threads)."""
    ws = workspace(tmp_path_factory.mktemp("both"))
    t0 = time.monotonic()
    via_ray = _run({**ws, "reports_dir": ws["reports_dir"] / "ray"}, [ALPHA, BROKEN],
                   executor=RayExecutor())  # fmt: skip
    ray_s = time.monotonic() - t0
    mp = pytest.MonkeyPatch()
    # the Ray cluster has 2 CPUs: the local run gets the same threads per notebook whatever
    # this machine's core count, so that the recorded environments agree
    mp.setattr("workbench.report.executors.default_jobs", lambda: 2)
    t0 = time.monotonic()
    local = _run({**ws, "reports_dir": ws["reports_dir"] / "local"}, [ALPHA, BROKEN])
    mp.undo()
    return {"ws": ws, "ray": via_ray, "local": local, "ray_s": ray_s,
            "local_s": time.monotonic() - t0}  # fmt: skip


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# options (no cluster needed)
# ---------------------------------------------------------------------------------------------
def test_unknown_executor_and_stray_address_are_refused():
    with pytest.raises(ValueError, match=r"unknown executor 'dask'; valid: local, ray"):
        get_executor("dask")
    with pytest.raises(ValueError, match="need --executor ray"):
        get_executor("local", address="ray://head:10001")


def test_cli_refuses_unknown_executor_in_one_line(capsys):
    assert main(["report", "--executor", "dask", "--profile", "smoke", "--only", "cost_model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown executor 'dask'; valid: local, ray" in err[0], err


def test_parse_grid_reads_json_literals_else_strings():
    grid = parse_grid(["n=2,3", "w=0.5", "name=mobilenetv2_050,true", "sizes=[1,2],[3]"])
    assert grid == {"n": [2, 3], "w": [0.5], "name": ["mobilenetv2_050", True],
                    "sizes": [[1, 2], [3]]}  # fmt: skip
    for bad in (["n"], ["n="], ["1n=2"], ["n=1", "n=2"]):
        with pytest.raises(ValueError):
            parse_grid(bad)


def test_sweep_refuses_unknown_parameters_naming_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown parameter width of notebook alpha; "
                                         r"valid: n_models, scale"):  # fmt: skip
        run_sweep(str(FIXTURES / "alpha.ipynb"), {"width": [1, 2]}, reports_dir=tmp_path)
    assert main(["sweep", str(FIXTURES / "alpha.ipynb"), "-p", "nope=1",
                 "--reports-dir", str(tmp_path)]) == 2  # fmt: skip
    assert not list((tmp_path / "sweeps").glob("*")), "nothing is staged for a refused sweep"


def test_task_resources_come_from_the_technique_or_the_runner_capped_at_a_node():
    from workbench.report.plan import Job, NotebookResult

    def job(**resources):
        t = Technique("alpha", "A", "c", ("x",), resources=resources)
        return Job(NotebookResult("alpha", "A", "ok"), {}, execute=True, technique=t)

    ex = RayExecutor()
    ex._node_cpus = 4  # what largest_node_cpus() found on the cluster
    opts, threads = ex._options(job(num_cpus=8, num_gpus=1, big_memory=1), 2)
    assert (opts["num_cpus"], opts["num_gpus"], opts["resources"], threads) == (
        8, 1, {"big_memory": 1}, 8,
    ), "a technique's own request goes to Ray as it is"  # fmt: skip
    opts, threads = ex._options(job(), 16)
    assert (opts["num_cpus"], opts["num_gpus"], threads) == (4, 0, 4)
    assert "resources" not in opts and opts["max_retries"] == 0


def test_install_entry_is_complete_or_absent(tmp_path):
    files = {"key.json": b"{}", "model.pt": b"w", "history.json": b"{}", "sha256": b"x"}
    assert install_entry(tmp_path, "net-abc", files)
    assert _files(tmp_path / "net-abc") == files
    assert not install_entry(tmp_path, "net-abc", {"key.json": b"other"}), "never overwritten"
    assert _files(tmp_path / "net-abc") == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net-abc"], "no staging left behind"


# ---------------------------------------------------------------------------------------------
# report runs through Ray
# ---------------------------------------------------------------------------------------------
def test_ray_and_local_executors_publish_the_same_records(both):
    r, loc = both["ray"], both["local"]
    assert [(x.slug, x.status, x.error) for x in r.results] == [
        (x.slug, x.status, x.error) for x in loc.results
    ]
    assert [x.status for x in r.results] == ["ok", "failed"]
    assert "RuntimeError: fixture failure on purpose" in r.results[1].error
    for slug in ("alpha", "broken"):
        got, want = _files(r.out_dir / "records" / slug), _files(loc.out_dir / "records" / slug)
        assert got and got == want, f"records of {slug} differ between Ray and local"
    manifest = json.loads((r.out_dir / "manifest.json").read_text())
    assert manifest["executor"] == "ray"
    assert manifest["notebooks"]["alpha"]["seconds"] > 0
    assert "An Exception was encountered" in (r.out_dir / "broken.html").read_text()
    assert (r.out_dir / "logs" / "alpha.log").exists()
    assert not list(r.out_dir.parent.glob(".staging-*"))
    print(f"\nfixture run: Ray {both['ray_s']:.1f} s, local {both['local_s']:.1f} s (shared machine)")


def test_ray_rerun_uses_the_same_cache(both):
    ws = {**both["ws"], "reports_dir": both["ws"]["reports_dir"] / "ray"}
    s = _run(ws, [ALPHA], executor=RayExecutor())
    assert [(x.slug, x.status, x.cached) for x in s.results] == [("alpha", "ok", True)]


def test_timeout_on_ray_keeps_what_ran(both):
    ws = {**both["ws"], "reports_dir": both["ws"]["reports_dir"] / "timeout"}
    s = _run(ws, [SLEEPY], timeout=3, executor=RayExecutor())
    (r,) = s.results
    assert (r.status, r.error) == ("timeout", "timed out after 3 s")
    assert "papermill-error-cell-tag" in (s.out_dir / r.notebook).read_text()
    assert "Execution stopped: timed out after 3 s" in (s.out_dir / r.html).read_text()


class _RaisingRay(RayExecutor):
    """Sends alpha's task a payload its body cannot use: the Ray task itself raises."""

    def _payload(self, job, *args):
        payload = super()._payload(job, *args)
        return {**payload, "notebook_bytes": None} if job.result.slug == "alpha" else payload


def _sleepy_worker(deadline: float):
    """``(ray worker, kernel pid)`` of the running sleepy notebook, once its kernel sleeps."""
    import psutil

    while time.monotonic() < deadline:
        for p in psutil.process_iter(["cmdline"]):
            cmd = p.info["cmdline"] or []
            job = next((c for c in cmd if "wb-ray-sleepy-" in c and c.endswith(".job.json")), None)
            if job and "worker.py" in " ".join(cmd):
                pid_file = Path(job).parent / "records" / "sleepy" / "pid.json"
                if pid_file.exists() and pid_file.read_text().strip():
                    return p.parent(), json.loads(pid_file.read_text())
        time.sleep(0.2)
    raise AssertionError("the sleepy notebook never started on Ray")


def _gone(pid: int, within: float) -> bool:
    import psutil

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.2)
    return False


def test_raising_task_and_killed_worker_fail_alone(both):
    ws = {**both["ws"], "reports_dir": both["ws"]["reports_dir"] / "crash"}
    out = {}
    run = threading.Thread(
        target=lambda: out.update(s=_run(ws, [ALPHA, BETA, SLEEPY], executor=_RaisingRay(),
                                         force=True)),  # fmt: skip
        daemon=True,
    )
    run.start()
    worker, kernel_pid = _sleepy_worker(time.monotonic() + 180)
    worker.kill()  # SIGKILL of the Ray worker process running the sleepy notebook
    run.join(timeout=180)
    assert "s" in out, "the run did not finish after its worker was killed"
    s = out["s"]
    got = {r.slug: (r.status, r.error or "") for r in s.results}
    assert got["beta"] == ("ok", "")
    assert got["alpha"][0] == "failed" and "TypeError" in got["alpha"][1]
    assert got["sleepy"][0] == "failed" and "Ray task failed" in got["sleepy"][1]
    manifest = json.loads((s.out_dir / "manifest.json").read_text())
    assert {k: v["status"] for k, v in manifest["notebooks"].items()} == {
        "alpha": "failed", "beta": "ok", "sleepy": "failed",
    }  # fmt: skip
    assert (s.out_dir / "beta.html").exists() and (s.out_dir / "records" / "beta").is_dir()
    assert _gone(kernel_pid, 15), "the killed worker's kernel survived"


def test_interrupt_cancels_ray_tasks_and_keeps_the_published_report(both, tmp_path):
    ws = {**both["ws"], "reports_dir": tmp_path / "reports"}
    published = ws["reports_dir"] / "smoke"
    shutil.copytree(both["ray"].out_dir, published)
    before = (published / "manifest.json").read_bytes()
    seen = {}

    def ctrl_c_once_sleeping(event, progress, result):
        """Ctrl-C at the driver, raised where it lands: in the runner's event loop."""
        if event == "tick" and "sleepy" in progress.running:
            seen["worker"], seen["kernel"] = _sleepy_worker(time.monotonic() + 180)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(ws, [SLEEPY], force=True, executor=RayExecutor(), on_event=ctrl_c_once_sleeping)
    assert (published / "manifest.json").read_bytes() == before
    assert sorted(
        p.name for p in ws["reports_dir"].iterdir() if not p.name.startswith(".lock")
    ) == ["smoke"], "the interrupted run leaves no staging behind"
    assert _gone(seen["kernel"], 20), "the cancelled task's kernel survived"


# ---------------------------------------------------------------------------------------------
# sweeps
# ---------------------------------------------------------------------------------------------
def test_two_by_two_sweep_on_ray_gathers_four_points(both):
    import pandas as pd

    reports = both["ws"]["reports_dir"] / "sweep"
    s = run_sweep(
        str(both["ws"]["notebooks_dir"] / "alpha.ipynb"), {"n_models": [2, 3], "scale": [1.0, 0.5]},
        executor=RayExecutor(), jobs=2, reports_dir=reports,
    )  # fmt: skip
    assert s.ok and len(s.points) == 4
    table = pd.read_csv(s.out_dir / "points.csv")
    assert table[["n_models", "scale"]].values.tolist() == [[2, 1.0], [2, 0.5], [3, 1.0], [3, 0.5]]
    assert table["models"].tolist() == [2, 2, 3, 3], "each point ran with its own parameters"
    models = pd.read_csv(s.out_dir / "models.csv")
    assert len(models) == 10 and set(models["point"]) == set(table["point"])
    best = models.groupby(["n_models", "scale"])["accuracy"].max()
    assert best[(3, 0.5)] == pytest.approx(0.5 * 74) and best[(2, 1.0)] == pytest.approx(67)
    page = s.html.read_text()
    assert page.count('class="wb-plot"') >= 3 and 'src="assets/plotly.min.js"' in page
    assert all((s.out_dir / f"{p}.html").exists() for p in table["point"])
    assert json.loads((s.out_dir / "sweep.json").read_text())["executor"] == "ray"
