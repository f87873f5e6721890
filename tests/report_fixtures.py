"""Fixture techniques and a workspace shared by the report-pipeline tests (test_report, test_ray).

The techniques name the small notebooks in ``tests/fixtures/notebooks/``; the workspace puts them
beside a stable fake package and data folder, so the cache never sees the real package being edited.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from workbench.report.techniques import Technique

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
ALPHA = Technique(
    "alpha", "Alpha fixture", "Made-up claim A.", ("x",), profiles={"smoke": {"n_models": 4}}
)
BETA = Technique(
    "beta", "Beta fixture", "Made-up claim B.", ("x",), profiles={"smoke": {"width": 0.5}}
)
BROKEN = Technique("broken", "Broken fixture", "Fails on purpose.", ("x",))
NOTHERE = Technique("nothere", "Missing fixture", "Has no notebook.", ("x",))
SLEEPY = Technique(
    "sleepy", "Sleepy fixture", "Sleeps.", ("x",), profiles={"smoke": {"seconds": 120.0}}
)


def workspace(root: Path) -> dict[str, Path]:
    """Fixture notebooks, a stable fake package and a data folder under ``root``."""
    nbs, pkg, data = root / "notebooks", root / "pkg", root / "datasets"
    shutil.copytree(FIXTURES, nbs)
    pkg.mkdir()
    (pkg / "mod.py").write_text("X = 1\n")
    data.mkdir()
    (data / "version.txt").write_text("1\n")
    return {
        "notebooks_dir": nbs,
        "package_dir": pkg,
        "datasets_dir": data,
        "reports_dir": root / "reports",
    }
