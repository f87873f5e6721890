"""Registry-driven zoo tests: nobody writes a test per model (timm's tests/test_models.py habit)."""

import math

import pytest
import torch

import workbench as wb
from workbench.measure.claims import measure_claim_row
from workbench.models import list_models, model_entry
from workbench.models.claims import MACS_RTOL, PARAMS_RTOL, agree, half_unit, load_claims

CLASSIFIERS = list_models(task="classification")
SR = list_models(task="super_resolution")
CLAIMS = load_claims()
CHECKED = CLAIMS[CLAIMS.tolerance != "skip"]
REFERENCED = [n for n in list_models() if model_entry(n).reference]
_MEASURED: dict = {}

REQUIRED = """mobilenetv1_050 mobilenetv1_075 mobilenetv1_100 mobilenetv2_050 mobilenetv2_075 mobilenetv2_100
mobilenetv2_140 mobilenetv3_large_075 mobilenetv3_large_100 mobilenetv3_small_075 mobilenetv3_small_100
mnasnet_a1 mnasnet_b1 shufflenetv2_050 shufflenetv2_100 shufflenetv2_150 shufflenetv2_200 ghostnet_050
ghostnet_100 ghostnet_130 ghostnetv2_100 efficientnet_b0 efficientnet_b1 fbnet_c lcnet_050 lcnet_075
lcnet_100 repvgg_a0 mobileone_s0 repvit_m0_9 efficientformer_l1 efficientvit_m0 poolformer_s12
squeezenet1_1 convnext_tiny""".split()
REQUIRED_SR = ["srcnn", "fsrcnn", "espcn", "carn_m", "pan"]


def test_required_models_registered():
    missing = [n for n in REQUIRED if n not in list_models()]
    missing += [f"{n}_x{s}" for n in REQUIRED_SR for s in (2, 3, 4) if f"{n}_x{s}" not in SR]
    assert not missing
    assert len(SR) >= 3 * (len(REQUIRED_SR) + 1), "one more SR family from the seeds"


def test_every_model_has_valid_family_tags():
    from workbench.literature.families import FAMILY_SLUGS
    from workbench.models._factory import BASELINE_TAG

    valid = set(FAMILY_SLUGS) | {BASELINE_TAG}
    untagged = [n for n in list_models() if not model_entry(n).tags]
    invalid = {n: t for n in list_models() for t in model_entry(n).tags if t not in valid}
    assert not untagged and not invalid


def test_list_models_by_tag():
    se = wb.list_models(tag="channel_attention")
    assert "mobilenetv3_small_075" in se and "ghostnet_100" in se and "mobilenetv2_050" not in se
    assert wb.list_models(tag="reparameterization") == [n for n in list_models() if "reparameterization" in model_entry(n).tags]
    assert set(wb.list_models("mobilenetv3*", tag="channel_attention")) == set(wb.list_models("mobilenetv3*"))
    with pytest.raises(ValueError, match="unknown model tag 'se'; valid: .*channel_attention"):
        wb.list_models(tag="se")


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_small_input_forward(name):
    torch.manual_seed(0)
    m = wb.create_model(name, num_classes=10, in_chans=1, small_input=True).eval()
    with torch.inference_mode():
        y = m(torch.randn(2, 1, 28, 28))
    assert y.shape == (2, 10) and torch.isfinite(y).all()


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_default_forward(name):
    m = wb.create_model(name).eval()
    assert len(m.default_input_size) == 3
    with torch.inference_mode():
        y = m(torch.randn(1, *m.default_input_size))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


@pytest.mark.parametrize("name", SR)
def test_sr_forward(name):
    scale = int(name.rsplit("_x", 1)[1])
    m = wb.create_model(name).eval()
    with torch.inference_mode():
        y = m(torch.rand(1, 3, 12, 12))
    assert y.shape == (1, 3, 12 * scale, 12 * scale) and torch.isfinite(y).all()


def test_claims_table_wellformed():
    assert set(CLAIMS.model) <= set(list_models()), "claims for unregistered models"
    assert (CLAIMS.source.str.len() > 0).all(), "every claim names its source"
    skipped = CLAIMS[CLAIMS.tolerance == "skip"]
    assert (skipped.note.str.len() > 20).all(), "a skipped row must explain the discrepancy"
    assert set(CLAIMS.form) <= {"", "train", "deploy"}
    assert set(REQUIRED) - {"mnasnet_b1"} <= set(CLAIMS.model), "a published claim for every required classifier"


def test_half_unit_tolerance():
    assert half_unit("1.3") == pytest.approx(0.05) and half_unit("300") == 0.5
    assert agree("1.3", 1.34, 0.01).ok and not agree("1.3", 1.36, 0.01).ok
    assert agree("5.483", 5.53, 0.01).ok and not agree("5.483", 5.6, 0.01).ok


@pytest.mark.parametrize("idx", list(CHECKED.index), ids=[f"{r.model}-{r.form or 'std'}-{r.input_size}" for r in CHECKED.itertuples()])
def test_published_claims(idx):
    row = CHECKED.loc[idx]
    m = measure_claim_row(row, _MEASURED)
    assert not m["unsupported_ops"]
    p = agree(row.params_m, m["params_measured_m"], PARAMS_RTOL)
    c = agree(row.macs_m, m["macs_measured_m"], MACS_RTOL)
    assert p or c, "a checked row must claim params or MACs"
    assert p is None or p.ok, f"params {p.measured:.4f}M vs published {p.claim}M ({p.delta_pct:+.2f}%)"
    assert c is None or c.ok, f"MACs {c.measured:.2f}M vs published {c.claim}M ({c.delta_pct:+.2f}%)"


def _default_counts(name: str) -> dict:
    """Params/MACs at the entry's default size, counted once per session for all tests."""
    size = model_entry(name).default_input_size
    row = {"model": name, "form": "", "input_size": "x".join(map(str, size))}
    return measure_claim_row(row, _MEASURED)


@pytest.mark.parametrize("name", REFERENCED)
def test_matches_reference_implementation(name):
    ours = _default_counts(name)
    ref = wb.create_model(model_entry(name).reference)
    # our entry's size: timm's pretrained cfg may name another test resolution (b1: 256 vs 240)
    b = wb.count_macs(ref, model_entry(name).default_input_size)
    assert round(ours["params_measured_m"] * 1e6) == wb.count_params(ref).total
    assert not ours["unsupported_ops"] and not b.unsupported
    assert math.isclose(ours["macs_measured_m"] * 1e6, b.macs, rel_tol=0.005)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_op_counted(name):
    assert not _default_counts(name)["unsupported_ops"]


@pytest.mark.parametrize("name", SR)
def test_every_op_counted_sr(name):
    # op coverage does not depend on the image size; 720p tracing is covered by the claims tests
    assert not wb.count_macs(wb.create_model(name), (3, 24, 24)).unsupported


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_interface(name):
    """Every classifier is a models._base.Classifier: features -> pre-logits -> logits, resettable."""
    from workbench.models._base import Classifier

    torch.manual_seed(0)
    m = wb.create_model(name, num_classes=10, in_chans=1, small_input=True).eval()
    assert isinstance(m, Classifier) and m.num_classes == 10
    x = torch.randn(2, 1, 28, 28)
    with torch.inference_mode():
        f = m.forward_features(x)
        assert m.forward_head(f, pre_logits=True).shape == (2, m.num_features)
        assert torch.allclose(m.forward_head(f), m(x))
    m.reset_classifier(3)
    with torch.inference_mode():
        assert m(torch.randn(2, 1, 28, 28)).shape == (2, 3) and m.num_classes == 3
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        m.reset_classifier(0)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_classifier_takes_width_mult(name):
    """One width convention: width_mult scales every classifier, through scale_channels."""
    def params(**kw):
        return sum(p.numel() for p in wb.create_model(name, num_classes=10, **kw).parameters())

    assert params(width_mult=0.5) < params(width_mult=1.0) < params(width_mult=1.5)
