"""Model bank: content-addressed keys, hits and misses, corrupt entries, interrupted builds,
the two-process lock, recipes and the CLI. Tiny models and data keep it to seconds."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import workbench as wb
import workbench.data as wbd
from workbench import bank
from workbench.paths import CacheWriteError

REPO = Path(__file__).resolve().parents[1]


def synthetic_bundle(seed: int = 0, version: dict | None = None) -> wbd.DataBundle:
    """Brightness encodes the class (4 classes, 1x8x8), so a tiny net learns in one epoch."""
    g = torch.Generator().manual_seed(seed)

    def make(n):
        y = torch.arange(n) % 4
        x = ((y * 50 + 20).view(n, 1, 1, 1) + torch.randint(0, 30, (n, 1, 8, 8), generator=g)).to(torch.uint8)
        return x, y

    (xtr, ytr), (xte, yte) = make(128), make(32)
    return wbd.DataBundle(
        wbd.TensorLoader(xtr, ytr, batch_size=32, shuffle=True, drop_last=True, mean=0.5, std=0.3),
        wbd.TensorLoader(xte, yte, batch_size=32, mean=0.5, std=0.3),
        num_classes=4, class_names=tuple("abcd"), version=version or {"synthetic": seed},
    )  # fmt: skip


def needs_fashion_mnist():
    if wbd.cache_info() is None:
        pytest.skip("real Fashion-MNIST cache absent: run `workbench data fetch fashion-mnist`")


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def _bank_kw(cache, **kw):
    return dict(data=synthetic_bundle(), progress=False, threads=1, cache_dir=cache) | kw


def test_unknown_recipe_and_model_raise_keyerror_naming_valid_ones(cache):
    with pytest.raises(KeyError, match=r"unknown recipe .nope.; valid: .*fmnist_full, .*fmnist_short, .*smoke"):
        bank.trained("reference_cnn", "nope", **_bank_kw(cache))
    with pytest.raises(KeyError, match="reference_cnn"):
        bank.trained("reference_cn", "smoke", **_bank_kw(cache))
    with pytest.raises(KeyError, match="smoke"):
        bank.get_recipe("smok")
    assert not (cache / "bank").exists() or not list((cache / "bank").glob("*-*"))


def test_recipes_are_documented_and_validated():
    assert {"smoke", "fmnist_short", "fmnist_full"} <= set(bank.RECIPES)
    for name in bank.RECIPES:
        r = bank.RECIPES.get(name)
        assert set(r.key()) - {"name"} <= set(r.reasons), name
        assert r.precision in ("fp32", "bf16") and r.name in r.describe()
    with pytest.raises(ValueError, match="no reason"):
        dataclasses.replace(bank.RECIPES.get("smoke"), reasons={})
    with pytest.raises(ValueError, match="precision"):
        dataclasses.replace(bank.RECIPES.get("smoke"), precision="fp8")


def test_trained_hits_second_time_and_each_key_component_misses(cache, monkeypatch):
    import workbench.bank.core as core

    calls = []
    real_fit = core.fit
    monkeypatch.setattr(core, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    first = bank.trained("reference_cnn", "smoke", **_bank_kw(cache))
    again = bank.trained("reference_cnn", "smoke", **_bank_kw(cache))
    assert not first.cache_hit and again.cache_hit and len(calls) == 1 and again.path == first.path
    assert again.history.train_loss == first.history.train_loss
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(),
                                                 again.model.state_dict().values(), strict=True))  # fmt: skip
    assert set(first.key) >= {"code", "kwargs", "recipe", "data", "seed", "torch", "device"}
    lr_recipe = dataclasses.replace(bank.RECIPES.get("smoke"), lr=0.05)
    variants = {
        "seed": dict(seed=1),
        "kwargs": dict(width_mult=0.5),
        "recipe": dict(recipe=lr_recipe),
        "data version": dict(data=synthetic_bundle(version={"synthetic": 0, "v": 2})),
    }
    paths = {first.path}
    for what, change in variants.items():
        kw = _bank_kw(cache) | change
        recipe = kw.pop("recipe", "smoke")
        r = bank.trained("reference_cnn", recipe, **kw)
        assert not r.cache_hit and r.path not in paths, f"changing {what} must retrain"
        paths.add(r.path)
    assert len(calls) == 1 + len(variants)


def test_device_type_is_part_of_the_key(cache, monkeypatch):
    import workbench.bank.core as core

    cpu = core._plan("reference_cnn", "smoke", 0, synthetic_bundle(), "cpu", {})
    monkeypatch.setattr(core, "resolve_device", lambda d: torch.device("cuda"))
    cuda = core._plan("reference_cnn", "smoke", 0, synthetic_bundle(), "cuda", {})
    assert cpu[3]["device"] == "cpu" and cuda[3]["device"] == "cuda" and cpu[2] != cuda[2]


def test_editing_a_models_forward_retrains_it(cache, tmp_path):
    import _temp_models

    name = "tmp_bank_net"
    try:
        _temp_models.load(tmp_path / "tmp_bank_net.py", name, 1.0)
        a = bank.trained(name, "smoke", **_bank_kw(cache))
        assert bank.trained(name, "smoke", **_bank_kw(cache)).cache_hit
        _temp_models.load(tmp_path / "tmp_bank_net.py", name, 3.0)  # same shapes, logits x 3
        b = bank.trained(name, "smoke", **_bank_kw(cache))
        assert not b.cache_hit and b.path != a.path and a.key["code"] != b.key["code"]
    finally:
        _temp_models.unload(name)


def test_corrupt_entry_is_detected_removed_and_retrained(cache):
    first = bank.trained("reference_cnn", "smoke", **_bank_kw(cache))
    weights = first.path / "model.pt"
    blob = bytearray(weights.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.warns(bank.BankWarning, match="checksum"):
        r = bank.trained("reference_cnn", "smoke", **_bank_kw(cache))
    assert not r.cache_hit and r.path == first.path
    assert bank.trained("reference_cnn", "smoke", **_bank_kw(cache)).cache_hit
    (first.path / "history.json").write_text("{not json")
    with pytest.warns(bank.BankWarning, match="unreadable"):
        assert not bank.trained("reference_cnn", "smoke", **_bank_kw(cache)).cache_hit


def test_interrupted_build_leaves_nothing(cache, monkeypatch):
    import workbench.bank.core as core

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(core, "fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bank.trained("reference_cnn", "smoke", **_bank_kw(cache))
    root = cache / "bank"
    assert [p.name for p in root.iterdir() if p.name != ".locks"] == []


def test_sigterm_during_build_leaves_nothing(cache, tmp_path):
    marker = tmp_path / "started"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import workbench.bank.core as core
        from test_bank import synthetic_bundle
        def slow_fit(*a, **k):
            open({str(marker)!r}, "w").close()
            time.sleep(120)
        core.fit = slow_fit
        core.trained("reference_cnn", "smoke", data=synthetic_bundle(), progress=False,
                     cache_dir={str(cache)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env=os.environ | {"PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the build never started"
            time.sleep(0.1)
        assert list((cache / "bank").glob(".staging-*")), "a build stages its files"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) != 0
    finally:
        proc.kill()
    assert [p.name for p in (cache / "bank").iterdir() if p.name != ".locks"] == []


def test_killed_builds_staging_is_swept(cache):
    dead = cache / "bank" / ".staging-reference_cnn-0123-999999999"  # no such pid
    dead.mkdir(parents=True)
    (dead / "model.pt").write_bytes(b"half")
    bank.trained("reference_cnn", "smoke", **_bank_kw(cache))
    assert not dead.exists()


def test_unwritable_cache_gives_one_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheWriteError, match="cannot write the model bank"):
        bank.trained("reference_cnn", "smoke", **_bank_kw(blocker))


def _child(cache: Path, tag: str, out: Path, started: Path | None) -> str:
    return textwrap.dedent(f"""
        import json, time
        import workbench.bank.core as core
        real_fit = core.fit
        fits = []
        def fit(*a, **k):
            fits.append(1)
            if {str(started) if started else None!r}:
                open({str(started)!r}, "w").close()
                time.sleep(3)  # hold the lock long enough for the other process to queue
            return real_fit(*a, **k)
        core.fit = fit
        r = core.trained("reference_cnn", "smoke", progress=False, threads=1, cache_dir={str(cache)!r})
        json.dump(dict(hit=r.cache_hit, fits=len(fits), path=str(r.path), acc=r.history.final_acc,
                       end=time.time()), open({str(out)!r}, "w"))
    """)


def test_two_processes_train_one_entry_once(cache, tmp_path):
    needs_fashion_mnist()
    env = os.environ | {"PYTHONPATH": str(REPO)}
    started = tmp_path / "a-started"
    a = subprocess.Popen([sys.executable, "-c", _child(cache, "a", tmp_path / "a.json", started)], env=env)
    deadline = time.monotonic() + 180
    while not started.exists():
        assert a.poll() is None and time.monotonic() < deadline, "process a never started training"
        time.sleep(0.1)
    b = subprocess.Popen([sys.executable, "-c", _child(cache, "b", tmp_path / "b.json", None)], env=env)
    assert a.wait(300) == 0 and b.wait(300) == 0
    ra, rb = (json.loads((tmp_path / f"{x}.json").read_text()) for x in "ab")
    assert (ra["hit"], ra["fits"]) == (False, 1)
    assert (rb["hit"], rb["fits"]) == (True, 0), "the second process must wait, then load"
    assert ra["path"] == rb["path"] and ra["acc"] == rb["acc"]


def test_bank_entry_status_and_ensure(cache):
    needs_fashion_mnist()
    e0 = bank.BankEntry("reference_cnn", "smoke", seed=0, kwargs={"width_mult": 0.5})
    e0b = bank.BankEntry("reference_cnn", "smoke", 0, {"width_mult": 0.5})
    e1 = bank.BankEntry("reference_cnn", "smoke", seed=1, kwargs={"width_mult": 0.5})
    assert e0 == e0b and hash(e0) == hash(e0b) and len({e0, e0b, e1}) == 2
    assert e0.key() == {"model": "reference_cnn", "recipe": "smoke", "seed": 0, "kwargs": {"width_mult": 0.5}}
    assert len({e0.key(), e0b.key(), e1.key()}) == 2  # the report runner de-duplicates by key()
    assert e0.digest() == e0b.digest() != e1.digest()
    assert not bank.status([e0, e1], cache_dir=cache).built.any()
    messages = []
    res = bank.ensure([e0, e0b, e1], jobs=2, progress=messages.append, cache_dir=cache)
    assert len(res) == 2 and all(r.cache_hit for r in res)  # built by the workers, loaded here
    assert messages[0] == "2 of 2 entries to build with 2 processes"
    assert sorted(m.split(" (")[0] for m in messages[1:]) == [
        "built reference_cnn/smoke/seed0[width_mult=0.5]", "built reference_cnn/smoke/seed1[width_mult=0.5]"]
    assert [m.split("(")[1].split(",")[0] for m in messages[1:]] == ["1/2", "2/2"]
    assert bank.status([e0, e1], cache_dir=cache).built.all()
    listed = bank.list_entries(cache_dir=cache)
    assert sorted(listed.seed) == [0, 1] and (listed.recipe == "smoke").all() and (listed["size"] > 0).all()
    assert bank.clear("reference_cnn", cache_dir=cache) == 2 and bank.list_entries(cache_dir=cache).empty
    with pytest.raises(ValueError, match="jobs"):
        bank.ensure([e0], jobs=0, cache_dir=cache)
    messages.clear()
    assert len(bank.ensure([e1], progress=messages.append, cache_dir=cache)) == 1
    assert messages[0] == "1 of 1 entries to build" and messages[1].startswith("built reference_cnn/smoke/seed1")
    messages.clear()
    bank.ensure([e1], progress=messages.append, cache_dir=cache)
    assert messages == ["0 of 1 entries to build"]


def test_cli_bank(cache, monkeypatch, capsys):
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_CACHE", str(cache))
    assert main(["bank", "build", "reference_cnn", "--recipe", "nope"]) == 2
    assert "valid: " + ", ".join(sorted(bank.RECIPES)) in capsys.readouterr().err
    assert main(["bank", "list"]) == 0 and "empty" in capsys.readouterr().out
    assert main(["bank", "recipes"]) == 0 and "fmnist_short" in capsys.readouterr().out
    assert main(["bank", "build", "reference_cnn", "--set", "width_mult"]) == 2


def test_wb_bank_is_lazy_public_name():
    assert wb.bank.trained is bank.trained and wb.bank.RECIPES is bank.RECIPES


def test_training_is_deterministic_across_caches(tmp_path):
    a = bank.trained("reference_cnn", "smoke", **_bank_kw(tmp_path / "a"))
    b = bank.trained("reference_cnn", "smoke", **_bank_kw(tmp_path / "b"))
    assert not a.cache_hit and not b.cache_hit and a.path.name == b.path.name
    assert a.history.train_loss == b.history.train_loss and a.history.test_acc == b.history.test_acc
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True))
    assert (a.path / "sha256").read_text() == (b.path / "sha256").read_text()


def test_share_cores_gives_idle_cores_to_the_builds_still_running():
    """ensure() workers start on cores // jobs threads; the last build running takes them all."""
    import multiprocessing as mp

    from workbench.bank.core import _ShareCores

    running = mp.get_context("spawn").Value("i", 2)
    share = _ShareCores(running, cores=4, every=2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        running.value = 1  # the other worker finished
        share.on_step(None)
        assert torch.get_num_threads() == 2  # only every 2nd step looks
        share.on_step(None)
        assert torch.get_num_threads() == 4  # the one build left takes all 4 cores
        running.value = 3
        share.on_step(None), share.on_step(None)
        assert torch.get_num_threads() == 1  # 4 // 3
    finally:
        torch.set_num_threads(before)
