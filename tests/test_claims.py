"""Package shape: claims split (data in models, measuring in measure), no upward imports, technique names."""

import ast
from pathlib import Path

import pytest

import workbench
from workbench.measure.claims import claims_vs_measured, measure_claim_row
from workbench.models.claims import load_claims

PKG = Path(workbench.__file__).parent


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    parts = package.split(".")
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            mod = ".".join([*base, node.module] if node.module else base)
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def _upward_imports(sub: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for path in sorted((PKG / sub).rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        package = ".".join(rel.parts[:-1]) if path.name != "__init__.py" else ".".join(rel.parts[:-1])
        hits = sorted(m for m in _imported_modules(path, package) if m.startswith(forbidden))
        if hits:
            bad[str(path.relative_to(PKG))] = hits
    return bad


@pytest.mark.parametrize("sub", ["layers", "models"])
def test_layers_and_models_never_import_measurement(sub):
    assert _upward_imports(sub, ("workbench.measure",)) == {}


def test_layers_never_import_models():
    assert _upward_imports("layers", ("workbench.models",)) == {}


def test_scan_catches_an_upward_import(tmp_path, monkeypatch):
    # The scan itself must be able to fail: a relative import of measure from a models module.
    path = tmp_path / "workbench" / "models" / "bad.py"
    path.parent.mkdir(parents=True)
    path.write_text("from ..measure import count_macs\nimport workbench.measure.macs\n")
    assert _imported_modules(path, "workbench.models") >= {"workbench.measure", "workbench.measure.macs"}


def test_measure_claim_row_counts_the_row_form():
    claims = load_claims()
    row = claims[(claims.model == "repvgg_a0")].iloc[0].to_dict()
    train = measure_claim_row({**row, "form": "train"})
    deploy = measure_claim_row({**row, "form": "deploy"})
    # Re-parameterization folds the 1x1 and identity branches: fewer parameters, same layout.
    assert deploy["params_measured_m"] < train["params_measured_m"]
    assert deploy["unsupported_ops"] == {}


def test_claims_vs_measured_verdicts():
    claims = load_claims()
    sub = claims[(claims.model == "mobilenetv2_050") & (claims.tolerance != "skip")].head(1)
    assert len(sub) == 1
    assert list(claims_vs_measured(sub).verdict) == ["agrees"]
    assert list(claims_vs_measured(sub.assign(params_m="9.9")).verdict) == ["MISMATCH"]
    assert list(claims_vs_measured(sub.assign(params_m="9.9", tolerance="skip")).verdict) == ["documented discrepancy"]


def test_every_technique_block_module_names_its_family():
    from workbench.literature.families import FAMILY_SLUGS

    shared = {"__init__", "conv", "activations"}
    missing, invalid = [], {}
    for path in sorted((PKG / "layers").glob("*.py")):
        if path.stem in shared:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        slugs = [ln.split(":", 1)[1].strip() for ln in doc.splitlines() if ln.startswith("technique:")]
        if not slugs:
            missing.append(path.stem)
        invalid.update((path.stem, s) for s in slugs if s not in FAMILY_SLUGS)
    assert not missing and not invalid
    # A module named after a family holds that family's blocks.
    for slug in FAMILY_SLUGS:
        path = PKG / "layers" / f"{slug}.py"
        if path.exists():
            assert f"technique: {slug}" in path.read_text()


def test_one_width_convention_in_models():
    """Classifiers take ``width_mult`` (no ``width=`` argument, no local ``ch()`` rounding helper)."""
    bad = []
    for path in sorted((PKG / "models").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name == "ch":
                    bad.append(f"{path.name}: def ch")
                args = [a.arg for a in node.args.args + node.args.kwonlyargs]
                if "width" in args:
                    bad.append(f"{path.name}: {node.name}(width=...)")
    assert bad == []
