"""The layering contract (``[tool.importlinter]`` in pyproject.toml) holds, and it can fail.

``make test`` runs ``lint-imports`` itself; this test also proves the contract is not vacuous:
a copy of the package with one deliberate upward import (models -> measure) must break it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.paths import REPO_ROOT

LINT = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter not installed (pip install -e '.[dev]')")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_contract_is_kept():
    r = _lint(REPO_ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 kept, 0 broken" in r.stdout


def test_contract_fails_on_an_upward_import(tmp_path):
    shutil.copytree(REPO_ROOT / "workbench", tmp_path / "workbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    base = tmp_path / "workbench" / "models" / "_base.py"
    base.write_text(base.read_text() + "\nfrom ..measure import count_macs  # deliberate upward import\n")
    r = _lint(tmp_path)
    assert r.returncode != 0
    assert "workbench.models is not allowed to import workbench.measure" in r.stdout
