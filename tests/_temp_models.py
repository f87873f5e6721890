"""A model class in a temporary source file, loaded as a package module, so tests can edit its
code (e.g. its forward) between calls and watch result caches miss."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

SOURCE = '''
from torch import nn

from workbench.models._factory import register_model


class TempNet(nn.Module):
    def __init__(self, num_classes=4, in_chans=1):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, 4, 3, padding=1)
        self.head = nn.Linear(4, num_classes)

    def forward(self, x):
        return self.head(self.conv(x).relu().mean((2, 3))) * SCALE


@register_model(default_input_size=(1, 8, 8))
def NAME(num_classes=4, in_chans=1, **kw):
    return TempNet(num_classes, in_chans)


def build():
    return TempNet()
'''


def load(path: Path, name: str, scale: float = 1.0):
    """(Re)write ``path`` with the model code (``forward`` multiplies by ``scale``) and import it.

    The module is named ``workbench.models._tmp_<name>`` so the fingerprint treats it as package
    code; its registry entry ``name`` is replaced on every call.
    """
    from workbench.models import MODELS

    path.write_text(SOURCE.replace("SCALE", repr(scale)).replace("NAME", name))
    st = path.stat()  # a distinct mtime, whatever the file system's timestamp granularity
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + int(scale * 1e9) + 10**9))
    MODELS._entries.pop(name, None)
    modname = f"workbench.models._tmp_{name}"
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


def unload(name: str) -> None:
    from workbench.models import MODELS

    MODELS._entries.pop(name, None)
    sys.modules.pop(f"workbench.models._tmp_{name}", None)
