"""The model-code fingerprint behind every result-cache key: what changes it and what must not.

Model classes are written to temporary files and imported under the ``workbench.`` prefix, so
each test edits real source files -- a class, a helper beside it, a helper imported from another
file, a file the model does not use -- and checks the fingerprint moves exactly when it should.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import textwrap

import pytest
import torch
from torch import nn

import workbench as wb
from workbench.models import fingerprint as fp
from workbench.models.fingerprint import code_fingerprint, model_fingerprint


def _write(path, src: str) -> None:
    path.write_text(textwrap.dedent(src))
    st = path.stat()  # a new mtime even within the file system's timestamp resolution
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _load(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def pkg(tmp_path):
    """Two fake package files: ``helpers`` (functions) and ``net`` (a model using one helper)."""
    names = []

    def load(name: str, src: str):
        path = tmp_path / f"{name}.py"
        _write(path, src)
        full = f"workbench._fp_test_{name}"
        names.append(full)
        return _load(full, path), path

    yield load
    for n in names:
        sys.modules.pop(n, None)


HELPERS = """
    def used(x):
        return x * 2

    def unused(x):
        return x - 1
"""

NET = """
    from torch import nn
    from workbench._fp_test_helpers import used

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 3)

        def forward(self, x):
            return used(self.fc(x))

    def make():
        return Net()
"""


def _net(pkg, net_src=NET, helpers_src=HELPERS):
    pkg("helpers", helpers_src)
    mod, path = pkg("net", net_src)
    return mod.Net(), path


def test_fingerprint_is_stable_and_short(pkg):
    m, _ = _net(pkg)
    a = code_fingerprint(m)
    assert a == code_fingerprint(m) == code_fingerprint(type(m)())
    assert len(a) == 16 and int(a, 16) >= 0
    assert code_fingerprint(m, None) == a  # None callables are skipped


def test_editing_the_model_class_changes_it(pkg):
    m, _ = _net(pkg)
    before = code_fingerprint(m)
    m2, _ = _net(pkg, NET.replace("return used(self.fc(x))", "return 3 * used(self.fc(x))"))
    assert code_fingerprint(m2) != before


def test_editing_a_helper_in_another_file_changes_it(pkg):
    m, _ = _net(pkg)
    before = code_fingerprint(m)
    m2, _ = _net(pkg, helpers_src=HELPERS.replace("x * 2", "x * 3"))
    assert code_fingerprint(m2) != before


def test_editing_an_unused_function_elsewhere_does_not(pkg):
    m, _ = _net(pkg)
    before = code_fingerprint(m)
    m2, _ = _net(pkg, helpers_src=HELPERS.replace("x - 1", "x - 2"))
    assert code_fingerprint(m2) == before


def test_base_class_file_is_part_of_it(pkg):
    base_src = """
        from torch import nn

        class Base(nn.Module):
            scale = 1.0
    """
    child_src = """
        from torch import nn
        from workbench._fp_test_base import Base

        class Child(Base):
            def forward(self, x):
                return x * self.scale
    """
    pkg("base", base_src)
    child = pkg("child", child_src)[0].Child()
    before = code_fingerprint(child)
    pkg("base", base_src.replace("1.0", "2.0"))
    child2 = pkg("child", child_src)[0].Child()
    assert code_fingerprint(child2) != before


def test_library_version_of_foreign_modules_is_part_of_it(pkg, monkeypatch):
    m, _ = _net(pkg)
    before = code_fingerprint(m)
    monkeypatch.setattr(fp, "_lib_version", lambda module_name: "0.0-other")
    assert code_fingerprint(m) != before


def test_foreign_module_types_are_part_of_it():
    a = code_fingerprint(nn.Sequential(nn.Linear(2, 2)))
    b = code_fingerprint(nn.Sequential(nn.Conv2d(2, 2, 1)))
    assert a != b
    # same classes, different sizes: the code is the same, so is the fingerprint
    assert a == code_fingerprint(nn.Sequential(nn.Linear(5, 7)))


def _build_a():
    return nn.Linear(2, 3)


def _build_b():
    return nn.Linear(2, 4)


def test_build_callables_are_part_of_it():
    m = nn.Linear(2, 3)
    plain = code_fingerprint(m)
    a, b = code_fingerprint(m, _build_a), code_fingerprint(m, _build_b)
    assert len({plain, a, b}) == 3
    assert code_fingerprint(m, _build_a) == a
    # partials: the wrapped function and its arguments both count
    p1 = code_fingerprint(m, functools.partial(nn.Linear, 2, 3))
    p2 = code_fingerprint(m, functools.partial(nn.Linear, 2, 4))
    p3 = code_fingerprint(m, functools.partial(nn.Linear, 2, 3, bias=False))
    assert len({p1, p2, p3}) == 3


def test_callables_without_source_use_their_bytecode_and_constants():
    m = nn.Linear(2, 3)
    ns1, ns2, ns3 = {}, {}, {}
    exec("def build():\n    return 3", ns1)  # no source file: inspect.getsource fails
    exec("def build():\n    return 4", ns2)
    exec("def build():\n    return 3", ns3)
    f1, f2, f3 = (code_fingerprint(m, ns["build"]) for ns in (ns1, ns2, ns3))
    assert f1 != f2 and f1 == f3
    assert fp._callable_digest(ns1["build"]).startswith("code:")
    assert fp._callable_digest(_build_a).startswith("src:")
    assert fp._callable_digest(functools.partial(_build_a)).startswith("partial:src:")
    assert fp._callable_digest(torch.relu).startswith(("obj:", "src:", "code:"))


def test_package_entry_points_add_their_file(pkg):
    m, _ = _net(pkg)
    net, helpers = sys.modules["workbench._fp_test_net"], sys.modules["workbench._fp_test_helpers"]
    assert code_fingerprint(m, net.make) == code_fingerprint(m)  # its file is already in
    assert code_fingerprint(m, helpers.unused) != code_fingerprint(m)  # a new file
    assert code_fingerprint(m, wb.create_model) != code_fingerprint(m)


def test_model_fingerprint_of_registry_models():
    a = model_fingerprint("mobilenetv2_050")
    assert a == model_fingerprint("mobilenetv2_050")
    assert a == model_fingerprint("mobilenetv2_050", model=wb.create_model("mobilenetv2_050"))
    assert a != model_fingerprint("shufflenetv2_050")
    assert a != model_fingerprint(build=lambda: wb.create_model("mobilenetv2_050"))
    assert model_fingerprint(build=_build_a) != model_fingerprint(build=_build_b)


def test_is_ours():
    assert fp._is_ours(fp.code_fingerprint)
    assert fp._is_ours(wb.create_model)
    assert not fp._is_ours(nn.Linear)
    assert not fp._is_ours(object())

    class Local:
        __module__ = "workbenchx.thing"

    assert not fp._is_ours(Local)


def test_lib_version_of_installed_and_uninstalled_modules(monkeypatch):
    import importlib.metadata
    import types

    assert fp._lib_version("torch.nn.modules.linear") == importlib.metadata.version("torch")
    fake = types.ModuleType("wb_fp_fake_lib")
    fake.__version__ = "9.9.9"
    monkeypatch.setitem(sys.modules, "wb_fp_fake_lib", fake)
    assert fp._lib_version("wb_fp_fake_lib.sub.mod") == "9.9.9"  # not installed: its __version__
    assert fp._lib_version("wb_fp_not_imported_anywhere.x") == "?"


def test_callables_without_code_use_their_repr_and_names_count():
    assert fp._callable_digest(len) != fp._callable_digest(abs)
    ns1, ns2 = {}, {}
    exec("def build():\n    return foo", ns1)  # identical bytecode and constants,
    exec("def build():\n    return bar", ns2)  # only the global name differs
    assert fp._callable_digest(ns1["build"]) != fp._callable_digest(ns2["build"])


def test_mixins_after_nn_module_in_the_mro_count(pkg):
    mixin_src = """
        class Mixin:
            def scale(self):
                return 1.0
    """
    net_src = """
        from torch import nn
        from workbench._fp_test_mixin import Mixin

        class MixedNet(nn.Module, Mixin):
            def forward(self, x):
                return x * self.scale()
    """
    pkg("mixin", mixin_src)
    before = code_fingerprint(pkg("mixed", net_src)[0].MixedNet())
    pkg("mixin", mixin_src.replace("1.0", "2.0"))
    assert code_fingerprint(pkg("mixed", net_src)[0].MixedNet()) != before


def test_fingerprint_does_not_depend_on_where_the_repository_lives(tmp_path):
    # the same package file in two checkouts, one under a folder itself called "workbench"
    src = textwrap.dedent(
        """
        from torch import nn

        class Moved(nn.Module):
            def forward(self, x):
                return x + 1
        """
    )
    prints = []
    for root in (tmp_path / "a" / "workbench", tmp_path / "workbench" / "b" / "workbench"):
        root.mkdir(parents=True)
        (root / "moved.py").write_text(src)
        mod = _load("workbench._fp_test_moved", root / "moved.py")
        prints.append(code_fingerprint(mod.Moved()))
    sys.modules.pop("workbench._fp_test_moved", None)
    assert prints[0] == prints[1]


def test_model_fingerprint_includes_the_registry_entry_point(pkg, monkeypatch):
    import types

    from workbench.models import _factory

    net, _ = _net(pkg)
    helpers = sys.modules["workbench._fp_test_helpers"]
    built = []

    def fake_create(name, **kwargs):
        built.append((name, kwargs))
        return net

    fake_registry = types.SimpleNamespace(get=lambda name: types.SimpleNamespace(fn=helpers.unused))
    monkeypatch.setattr(_factory, "MODELS", fake_registry)
    monkeypatch.setattr(_factory, "create_model", fake_create)
    with_entry = model_fingerprint("fake_net", width_mult=0.5)
    assert built == [("fake_net", {"width_mult": 0.5})]
    assert with_entry == code_fingerprint(net, helpers.unused) != code_fingerprint(net)
    # timm:/torchvision: names have no entry point of ours
    assert model_fingerprint("timm:fake", model=net) == code_fingerprint(net)
    assert model_fingerprint(None, model=net) == code_fingerprint(net)
