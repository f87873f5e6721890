"""NAS-found architectures (issue 14's zoo part): SPNASNet, the MBArch search space, ProxylessNAS.

``test_models.py`` already checks params (identical) and MACs (0.5 %) against timm for every entry
with a reference, and a forward pass of every classifier. Here: the same weights give the same
outputs as timm, the search-space dataclass (validation, sampling, mutation, keys) and the
paper's counts for the architectures timm lacks.
"""

import numpy as np
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


# --- the MobileNetV2-like search space -----------------------------------------------------

from workbench.models import MBArch, MBSpace, MBStage  # noqa: E402
from workbench.models.mb_space import MOBILENETV2_ARCH  # noqa: E402
from workbench.models.nas_zoo import PROXYLESSNAS_MOBILE  # noqa: E402

NAS_MODELS += ["proxylessnas_mobile", "mbv2_space"]


def test_mbv2_space_default_is_mobilenetv2():
    torch.manual_seed(0)
    ours = wb.create_model("mbv2_space").eval()
    ref = randomize_bn(wb.create_model("mobilenetv2_100"))
    so, sr = _tensors(ours), _tensors(ref)
    assert [tuple(v.shape) for v in so] == [tuple(v.shape) for v in sr]
    with torch.no_grad():
        for a, b in zip(so, sr, strict=True):
            a.copy_(b)
        x = torch.randn(2, 3, 64, 64)
        assert torch.allclose(ours(x), ref(x), atol=1e-5)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: MBStage(24, 2, (4,), (6,)), r"MBStage kernel 4 is not valid; valid: 3, 5, 7"),
        (lambda: MBStage(24, 2, (3,), (5,)), r"MBStage expansion 5 is not valid; valid: 3, 4, 6"),
        (lambda: MBStage(24, 3, (3,), (6,)), r"MBStage stride 3 is not valid; valid: 1, 2"),
        (lambda: MBStage(0, 1, (3,), (6,)), r"MBStage width must be an integer >= 1, got 0"),
        (lambda: MBStage(24, 1, (3, 5), (6,)), r"2 kernels and 1 expansions"),
        (lambda: MBStage(24, 1, (), ()), r"depth >= 1"),
        (lambda: MBStage.uniform(24, 0, 1), r"MBStage depth must be an integer >= 1, got 0"),
        (lambda: MBArch(()), r"non-empty sequence of MBStage"),
        (lambda: MBArch((MBStage.uniform(24, 1, 1),), head=0), r"MBArch head must be an integer >= 1"),
        (lambda: MBSpace(kernels=(3, 9)), r"MBSpace kernel 9 is not valid; valid: 3, 5, 7"),
        (lambda: MBSpace(expansions=(2,)), r"MBSpace expansion 2 is not valid; valid: 3, 4, 6"),
        (lambda: MBSpace(widths=(24, 32)), r"got 2 widths, 6 strides, 6 depth choices"),
        (lambda: MBSpace(depths=((0, 1),) * 6), r"depths >= 1"),
        (lambda: MBArch.from_key("stem32>16|24s2:k3e6|h1280"), r"not an MBArch key: .*expected 'stem"),
        (lambda: MBArch.from_key("stem32>16|24s2:k4e6|head1280"), r"MBStage kernel 4 is not valid"),
        (lambda: wb.create_model("mbv2_space", arch=3), r"arch must be an MBArch or its key string"),
        (lambda: MBStage(24, 2, 3, 6), r"MBStage kernels must be a tuple or list"),
    ],
)
def test_mb_validation_names_valid_choices(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_mb_stage_and_arch_are_normalized_and_hashable():
    a = MBStage(24, 2, [3, 5.0], [6, 3])
    assert a.kernels == (3, 5) and a.expansions == (6, 3) and a.depth == 2
    assert MBStage.uniform(24, 2, 2) == MBStage(24, 2, (3, 3), (6, 6))
    assert len({MBArch((a,)), MBArch([a])}) == 1


def test_key_round_trip_and_bank_kwargs():
    assert MOBILENETV2_ARCH.key().startswith("stem32>16|24s2:k3e6,k3e6|32s2:k3e6,k3e6,k3e6|")
    for seed in range(5):
        arch = MBArch.sample(seed)
        assert MBArch.from_key(arch.key()) == arch
    arch = MBArch.sample(7)
    a = wb.create_model("mbv2_space", arch=arch, num_classes=10)
    b = wb.create_model("mbv2_space", num_classes=10, **arch.kwargs())
    assert [v.shape for v in _tensors(a)] == [v.shape for v in _tensors(b)]
    assert arch.kwargs() == {"arch": arch.key()} and isinstance(arch.key(), str)


def test_space_members_size_and_extremes():
    space = MBSpace()
    assert space.contains(MOBILENETV2_ARCH)
    assert not space.contains(PROXYLESSNAS_MOBILE)  # its stage 1 is 32 wide, not 24
    assert space.contains(space.largest()) and space.contains(space.smallest())
    assert space.largest().depths == (4, 4, 4, 4, 4, 1)
    assert set(space.smallest().stages[0].kernels) == {3} and space.smallest().depths[0] == 2
    tiny = MBSpace(widths=(8, 16), strides=(1, 2), depths=((1, 2), (1,)), kernels=(3, 5), expansions=(3,))
    assert tiny.size() == (2 + 2**2) * 2
    assert space.size() == (9**2 + 9**3 + 9**4) ** 5 * 9  # the last stage: one block, 9 choices


def test_sample_is_seeded_and_stays_in_space():
    space = MBSpace()
    archs = [MBArch.sample(s) for s in range(30)]
    assert all(space.contains(a) for a in archs)
    assert archs[3] == MBArch.sample(3) == MBArch.sample(np.random.default_rng(3))
    assert len({a.key() for a in archs}) == 30
    # every choice is reached: the sampler does not ignore part of the menu
    assert {k for a in archs for s in a.stages for k in s.kernels} == {3, 5, 7}
    assert {e for a in archs for s in a.stages for e in s.expansions} == {3, 4, 6}
    assert {d for a in archs for d in a.depths[:5]} == {2, 3, 4}
    sub = MBSpace(kernels=(7,), expansions=(4,), depths=((2,),) * 6)
    assert MBArch.sample(0, sub) == sub.largest() == sub.smallest()


def test_mutate_is_seeded_and_stays_in_space():
    space = MBSpace()
    parent = MBArch.sample(0)
    children = [parent.mutate(s, prob=0.3) for s in range(30)]
    assert all(space.contains(c) for c in children)
    assert children[5] == parent.mutate(5, prob=0.3) and parent == MBArch.sample(0)
    assert parent.mutate(1, prob=0.0) == parent
    assert sum(c != parent for c in children) >= 25
    # prob=1: every gene with an alternative changes (kernels/expansions of the kept blocks, depth)
    child = parent.mutate(2, prob=1.0)
    for p, c in zip(parent.stages[:5], child.stages[:5], strict=True):
        assert c.depth != p.depth
        n = min(p.depth, c.depth)
        assert all(a != b for a, b in zip(p.kernels[:n], c.kernels[:n], strict=True))
        assert all(a != b for a, b in zip(p.expansions[:n], c.expansions[:n], strict=True))
    assert child.stages[5].depth == 1  # the only depth allowed there
    with pytest.raises(ValueError, match=r"prob must be in \[0, 1\], got 1.5"):
        parent.mutate(0, prob=1.5)
    with pytest.raises(ValueError, match="space has 2 stages, the arch has 6"):
        parent.mutate(0, space=MBSpace(widths=(8, 16), strides=(1, 2), depths=((1,), (1,))))


def test_crossover_takes_every_gene_from_a_parent():
    space = MBSpace()
    a, b = MBArch.sample(0), MBArch.sample(1)
    kids = [a.crossover(b, s) for s in range(20)]
    assert all(space.contains(k) for k in kids) and kids[4] == a.crossover(b, 4)
    for kid in kids:
        for ka, pa, pb in zip(kid.stages, a.stages, b.stages, strict=True):
            assert ka.depth in (pa.depth, pb.depth)
            for j, (k, e) in enumerate(zip(ka.kernels, ka.expansions, strict=True)):
                parents = [p for p in (pa, pb) if j < p.depth]
                assert k in {p.kernels[j] for p in parents} and e in {p.expansions[j] for p in parents}
    assert len({k.key() for k in kids} - {a.key(), b.key()}) >= 15  # genes do mix
    assert a.crossover(a, 3) == a
    with pytest.raises(ValueError, match="crossover needs archs of the same space"):
        a.crossover(PROXYLESSNAS_MOBILE, 0)


def test_proxylessnas_mobile_counts_match_the_paper():
    # official net config: "Total training params: 4.08M", "Total FLOPs: 320.4M" (MACs);
    # the paper (Table 2): 4.1 M params, 320 M MACs
    assert PROXYLESSNAS_MOBILE.depths == (2, 4, 4, 4, 4, 1)
    m = wb.create_model("proxylessnas_mobile")
    params = wb.count_params(m).total
    c = wb.count_macs(m, (3, 224, 224))
    assert not c.unsupported
    assert abs(params / 4.08e6 - 1) < 0.005 and abs(params / 4.1e6 - 1) < 0.02
    assert abs(c.macs / 320.4e6 - 1) < 0.005


def test_sampled_arch_small_input_at_half_width():
    torch.manual_seed(0)
    arch = MBArch.sample(11)
    m = wb.create_model("mbv2_space", arch=arch.key(), width_mult=0.5, num_classes=10, in_chans=1, small_input=True)
    with torch.inference_mode():
        assert m.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    n_blocks = sum(len(stage) for stage in m.stages)
    assert n_blocks == 1 + sum(arch.depths)


# --- FBNet-A/B (official definitions, mobile-vision) ----------------------------------------

from workbench.layers.fbnet import IRFBlock  # noqa: E402

NAS_MODELS += ["fbnet_a", "fbnet_b"]


def _weights(model: torch.nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))


@pytest.mark.parametrize(
    "name, head, params_m, flops_m, paper_macs_m",
    [("fbnet_a", 1504, 4.27029, 244.52636, 249), ("fbnet_b", 1984, 4.76667, 291.10164, 295)],
)
def test_fbnet_counts_match_the_official_models(name, head, params_m, flops_m, paper_macs_m):
    # model_info_fbnet.json counts conv/FC weights only, and the global pool's adds as FLOPs
    m = wb.create_model(name)
    c = wb.count_macs(m, (3, 224, 224))
    assert not c.unsupported
    assert round(_weights(m) / 1e6, 5) == params_m
    assert round((c.macs + head * 7 * 7) / 1e6, 5) == flops_m
    assert abs(c.macs / 1e6 / paper_macs_m - 1) < 0.02


def test_irf_block_expansion_one_and_shuffle():
    torch.manual_seed(0)
    b = IRFBlock(64, 64, 5, 1, exp_ratio=1, groups=2).eval()
    assert isinstance(b.conv_pw, torch.nn.Identity) and b.has_skip
    assert sum(p.numel() for p in b.conv_pwl[0].parameters()) == 64 * 32 + 64  # grouped, biased
    # the shuffle lets output channel 0 (first group of the projection) see input channel 40
    # (second half): without it a grouped projection never mixes the halves
    x = torch.randn(1, 64, 8, 8, requires_grad=True)
    (b(x)[0, 0] - x[0, 0]).sum().backward()  # the residual aside
    assert x.grad[0, 32:].abs().sum() > 0
    assert IRFBlock(16, 24, 3, 2, exp_ratio=6).conv_pw[0].out_channels == 96
    with pytest.raises(ValueError, match="groups=3 must divide the channels 64, 64, 64"):
        IRFBlock(64, 64, groups=3, exp_ratio=1)


# --- Once-for-All subnets (official net.config of the CPU-specialized models) ----------------

from workbench.models.mb_space import PROXYLESS_SPACE  # noqa: E402
from workbench.models.nas_zoo import OFA_CPU_10MS, OFA_CPU_17MS  # noqa: E402

NAS_MODELS += ["ofa_cpu_10ms"]

# (in, out, kernel, stride, hidden) of every block, copied from the official net.config files
OFA_BLOCKS = {
    "ofa_cpu_10ms": [
        (40, 24, 3, 1, 40), (24, 32, 5, 2, 96), (32, 32, 3, 1, 96), (32, 56, 3, 2, 96), (56, 56, 3, 1, 168),
        (56, 104, 7, 2, 168), (104, 104, 3, 1, 312), (104, 104, 7, 1, 312), (104, 128, 5, 1, 312),
        (128, 128, 5, 1, 512), (128, 248, 5, 2, 384), (248, 248, 3, 1, 992), (248, 416, 3, 1, 992),
    ],
    "ofa_cpu_17ms": [
        (40, 24, 3, 1, 40), (24, 32, 3, 2, 72), (32, 32, 3, 1, 128), (32, 56, 5, 2, 96), (56, 56, 3, 1, 224),
        (56, 104, 3, 2, 336), (104, 104, 7, 1, 312), (104, 104, 3, 1, 312), (104, 128, 5, 1, 312),
        (128, 128, 5, 1, 512), (128, 128, 3, 1, 768), (128, 248, 3, 2, 768), (248, 248, 5, 1, 992),
        (248, 248, 3, 1, 744), (248, 416, 3, 1, 992),
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(OFA_BLOCKS))
def test_ofa_subnets_match_the_official_configs(name):
    """Widths at 1.3 through the zoo's one rounding rule give the configs' channels, block by block."""
    m = wb.create_model(name)
    rows = []
    for block in (b for stage in m.stages for b in stage):
        convs = [c for c in block.modules() if isinstance(c, torch.nn.Conv2d)]
        dw = next(c for c in convs if c.groups > 1)
        rows.append((convs[0].in_channels, convs[-1].out_channels, dw.kernel_size[0], dw.stride[0], dw.out_channels))
    assert rows == OFA_BLOCKS[name]
    assert (m.stem[0].out_channels, m.conv_head[0].out_channels) == (40, 1664)
    assert PROXYLESS_SPACE.contains(OFA_CPU_10MS) and PROXYLESS_SPACE.contains(OFA_CPU_17MS)
    assert m.default_input_size == {"ofa_cpu_10ms": (3, 144, 144), "ofa_cpu_17ms": (3, 208, 208)}[name]
