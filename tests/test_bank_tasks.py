"""wb.bank.cached_train: trains once per key, reloads the same weights, re-keys on code and settings."""

import json

import pytest
import torch
from torch import nn

import workbench as wb

CALLS = []


def _train(model: nn.Module) -> dict:
    CALLS.append(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    return {"loss": [1.0, 0.5], "seconds": 0.01}


def _train_other(model: nn.Module) -> dict:
    CALLS.append(1)
    return {"loss": [2.0]}


def _build() -> nn.Module:
    return nn.Linear(3, 2)


def test_trains_once_and_reloads_the_same_weights(tmp_path):
    CALLS.clear()
    a = wb.bank.cached_train("lin", build=_build, train=_train, settings={"steps": 2}, cache_dir=tmp_path)
    b = wb.bank.cached_train("lin", build=_build, train=_train, settings={"steps": 2}, cache_dir=tmp_path)
    assert (a.cache_hit, b.cache_hit) == (False, True)
    assert len(CALLS) == 1
    assert b.history == {"loss": [1.0, 0.5], "seconds": 0.01}
    assert torch.equal(a.model.weight, b.model.weight)
    assert json.loads((b.path / "key.json").read_text())["settings"] == {"steps": 2}


@pytest.mark.parametrize("change", [{"settings": {"steps": 3}}, {"seed": 1}, {"train": _train_other}])
def test_settings_seed_and_training_code_change_the_key(tmp_path, change):
    CALLS.clear()
    kw = {"build": _build, "train": _train, "settings": {"steps": 2}, "cache_dir": tmp_path}
    first = wb.bank.cached_train("lin", **kw)
    second = wb.bank.cached_train("lin", **{**kw, **change})
    assert not second.cache_hit and first.path != second.path
    assert len(CALLS) == 2


def test_half_written_entry_is_a_miss_and_refresh_retrains(tmp_path):
    CALLS.clear()
    kw = {"build": _build, "train": _train, "settings": {}, "cache_dir": tmp_path}
    first = wb.bank.cached_train("lin", **kw)
    (first.path / "history.json").unlink()  # a run killed before the last write
    assert not wb.bank.cached_train("lin", **kw).cache_hit
    assert not wb.bank.cached_train("lin", refresh=True, **kw).cache_hit
    assert len(CALLS) == 3


def test_unserialisable_settings_and_history_are_named(tmp_path):
    with pytest.raises(TypeError, match="settings of 'lin' must be JSON"):
        wb.bank.cached_train("lin", build=_build, train=_train, settings={"x": object()}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="settings must be a dict"):
        wb.bank.cached_train("lin", build=_build, train=_train, settings=[1], cache_dir=tmp_path)
    with pytest.raises(TypeError, match="history returned by train"):
        wb.bank.cached_train("lin", build=_build, train=lambda m: {"t": torch.zeros(1)}, settings={}, cache_dir=tmp_path)


def _lin_entry(steps: int, cache_dir=None):
    return wb.bank.cached_train("lin", build=_build, train=_train, settings={"steps": steps}, cache_dir=cache_dir)


def test_a_declared_task_is_built_by_ensure_and_then_loaded(tmp_path):
    """``workbench report`` passes TaskEntry calls to ensure in its bank phase; the notebook's own call loads."""
    import pickle

    CALLS.clear()
    entry = wb.bank.TaskEntry("lin", _lin_entry, (2,))
    assert entry == wb.bank.TaskEntry("lin", _lin_entry, (2,)) and len({entry, wb.bank.TaskEntry("lin", _lin_entry, (2,))}) == 1
    assert wb.bank.ensure([entry, entry], progress=False, cache_dir=tmp_path) == []  # run once, nothing returned
    assert len(CALLS) == 1
    assert _lin_entry(2, cache_dir=tmp_path).cache_hit and len(CALLS) == 1
    wb.bank.ensure([entry], progress=False, cache_dir=tmp_path)  # declared again: a load, no training
    assert len(CALLS) == 1
    # the notebooks' declarations travel to worker processes
    from workbench.lessons import once_for_all as ofa
    from workbench.report.plan import notebook_parameters
    from workbench.report.techniques import get_technique

    params = {**notebook_parameters(wb.paths.NOTEBOOKS_DIR / "once_for_all.ipynb"), **get_technique("once_for_all").parameters("default")}
    (sn,) = ofa.bank_entries(params)
    assert pickle.loads(pickle.dumps(sn)) == sn
    assert sn in get_technique("architecture_search").bank_entries(
        {**notebook_parameters(wb.paths.NOTEBOOKS_DIR / "architecture_search.ipynb"),
         **get_technique("architecture_search").parameters("default")})
