"""Counting cache (workbench.measure.counting): hits while the code is unchanged, misses after an edit."""

import importlib.util
import json
import sys

import pytest

import workbench as wb
from workbench.measure.counting import count_model, count_zoo, time_count_zoo
from workbench.models import MODELS

_TINY = '''
import torch
from torch import nn

from workbench.models._base import Classifier
from workbench.models._factory import register_model


class Tiny(Classifier):
    def __init__(self, num_classes=10, in_chans=1, width_mult=None, small_input=False):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, 8, 3, padding=1)
        self.init_head(8, num_classes)

    def forward_features(self, x):
        return {forward}


@register_model(default_input_size=(1, 16, 16), tags=("mobile_cnn",))
def {name}(**kwargs):
    return Tiny(**kwargs)
'''


@pytest.fixture
def tiny_model(tmp_path):
    """A registered model whose source file the test can edit: (name, write(forward_expr))."""
    name = "tiny_counting_test_net"
    path = tmp_path / "tiny_counting_net.py"
    modname = "workbench.models._tiny_counting_net"  # a package module name: its code is fingerprinted

    def write(forward: str) -> None:
        MODELS._entries.pop(name, None)
        path.write_text(_TINY.replace("{forward}", forward).replace("{name}", name))
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)

    write("self.conv(x)")
    yield name, write
    MODELS._entries.pop(name, None)
    sys.modules.pop(modname, None)


def test_second_call_hits_and_agrees(tmp_path):
    cold = count_model("mobilenetv2_050", cache_dir=tmp_path)
    warm = count_model("mobilenetv2_050", cache_dir=tmp_path)
    assert not cold.cache_hit and warm.cache_hit
    assert (warm.params, warm.macs, warm.macs_all_ops) == (cold.params, cold.macs, cold.macs_all_ops)
    m = wb.create_model("mobilenetv2_050")
    assert cold.params == wb.count_params(m).total and cold.macs == wb.count_macs(m).macs
    assert cold.input_size == (1, 3, 224, 224)


def test_kwargs_input_size_and_batch_are_part_of_the_key(tmp_path):
    a = count_model("mobilenetv2_050", cache_dir=tmp_path)
    b = count_model("mobilenetv2_050", cache_dir=tmp_path, num_classes=10)
    c = count_model("mobilenetv2_050", (3, 64, 64), cache_dir=tmp_path)
    d = count_model("mobilenetv2_050", (3, 64, 64), batch_size=2, cache_dir=tmp_path)
    assert not (b.cache_hit or c.cache_hit or d.cache_hit)
    assert b.params < a.params and c.macs < a.macs and d.macs == 2 * c.macs and d.input_size[0] == 2


def test_editing_model_code_misses(tmp_path, tiny_model):
    name, write = tiny_model
    first = count_model(name, cache_dir=tmp_path)
    assert count_model(name, cache_dir=tmp_path).cache_hit
    write("self.conv(x) * 3")  # same shapes and parameters, different forward
    edited = count_model(name, cache_dir=tmp_path)
    assert not edited.cache_hit and edited.fingerprint != first.fingerprint
    assert edited.params == first.params
    assert count_model(name, cache_dir=tmp_path).cache_hit


def test_corrupt_entry_is_recounted(tmp_path):
    count_model("espcn_x2", cache_dir=tmp_path)
    for f in (tmp_path / "counts").glob("espcn_x2-*.json"):
        f.write_text("{not json")
    again = count_model("espcn_x2", cache_dir=tmp_path)
    assert not again.cache_hit
    assert count_model("espcn_x2", cache_dir=tmp_path).cache_hit
    entry = json.loads(next((tmp_path / "counts").glob("espcn_x2-*.json")).read_text())
    assert "workbench/models/sr.py" in entry["deps"] and "workbench/measure/macs.py" in entry["deps"]


def test_cache_false_writes_nothing(tmp_path):
    r = count_model("espcn_x2", cache=False, cache_dir=tmp_path)
    assert not r.cache_hit and not (tmp_path / "counts").exists()


def test_unknown_name_raises_keyerror(tmp_path):
    with pytest.raises(KeyError, match="mobilenetv2_050"):
        count_model("mobilenetv2_05", cache_dir=tmp_path)


def test_count_zoo_and_timing(tmp_path):
    names = ["espcn_x2", "mobilenetv2_050"]
    df = count_zoo(names, cache_dir=tmp_path)
    assert list(df.name) == names and not df.cache_hit.any()
    assert {"params", "macs", "macs_all_ops", "unsupported_ops", "task"} <= set(df.columns)
    assert count_zoo(names, cache_dir=tmp_path).cache_hit.all()
    cold, warm = time_count_zoo(names)
    assert cold > 0 and warm > 0


def test_profile_many_uses_the_counting_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    df = wb.measure.profile_many(["espcn_x2"], latency=False, peak=False)
    assert (tmp_path / "counts").exists() and df.params.iloc[0] == count_model("espcn_x2").params


def test_reference_models_are_counted_not_cached(tmp_path):
    r = count_model("torchvision:mobilenet_v2", cache_dir=tmp_path)
    assert not r.cache_hit and r.params == 3_504_872 and not (tmp_path / "counts").exists()
