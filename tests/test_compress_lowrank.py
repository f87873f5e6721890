"""wb.compress low rank (SVD factorization) and PEFT (LoRA, bias-only, linear probe, merge)."""

import pytest
import torch
from torch import nn

import workbench as wb
from workbench.compress import lora as L
from workbench.compress.lowrank import factorize, rank_for_params


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 32, 1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)).eval()  # fmt: skip


def _params(m):
    return sum(p.numel() for p in m.parameters())


def test_full_rank_factorization_is_exact_and_counts():
    m = _net()
    x = torch.randn(2, 1, 8, 8)
    f, rep = factorize(m, "uniform", 1.0)
    assert not any(r.factorized for r in rep)  # full rank never saves weights: left dense
    f, rep = factorize(m, "uniform", 0.25)
    by = {r.name: r for r in rep}
    assert by["7"].rank == 8 and by["7"].factorized  # min(64, 32) = 32 -> 8
    assert isinstance(f[7], nn.Sequential) and f[7][0].weight.shape == (8, 32) and f[7][1].weight.shape == (64, 8)
    assert _params(f) < _params(m)
    assert f(x).shape == (2, 10)
    assert not isinstance(m[7], nn.Sequential)  # the input model is untouched


def test_rank_r_matrix_reproduced_exactly():
    m = _net()
    with torch.no_grad():  # make layer 7 exactly rank 4: its rank-4 factorization is lossless
        m[7].weight.copy_(torch.randn(64, 4) @ torch.randn(4, 32))
    f, rep = factorize(m, "energy", 0.999999, skip=["3", "9"])
    assert {r.name: r.rank for r in rep}["7"] == 4
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(f(x), m(x), atol=1e-4, rtol=1e-4)


def test_energy_rule_tracks_spectrum_and_equal_params():
    m = _net()
    e = rank_for_params(m, 0.5)
    _, uni = factorize(m, "uniform", 0.5)
    _, en = factorize(m, "energy", e)
    w = lambda rep: sum(r.rank * sum(r.shape) if r.factorized else r.shape[0] * r.shape[1] for r in rep)  # noqa: E731
    assert abs(w(en) - w(uni)) <= 0.1 * w(uni)


def test_factorize_bad_input():
    with pytest.raises(ValueError, match="valid: uniform, energy"):
        factorize(_net(), "svd")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        factorize(_net(), "uniform", 0.0)
    with pytest.raises(ValueError, match="nn.Linear and 1x1"):
        factorize(nn.Sequential(nn.Conv2d(1, 4, 3)), "uniform", 0.5)


def test_lora_starts_at_base_trains_adapters_only_and_merges_exactly():
    m = _net()
    a = L.add_lora(m, rank=2, targets=("conv", "linear"))
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(a(x), m(x))  # B = 0: the adapted model starts as the original
    n_lora = sum(p.numel() for n, p in a.named_parameters() if "lora_" in n)
    assert n_lora == 2 * (1 * 9 + 16) + 2 * (16 + 32) + 2 * (32 + 64)  # conv3x3, conv1x1, linear 7; head 9 excluded
    assert L.trainable_params(a) == n_lora + 64 * 10 + 10
    opt = torch.optim.SGD([p for p in a.parameters() if p.requires_grad], lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(a(x), torch.tensor([0, 1, 2, 3])).backward()
        opt.step()
    assert not torch.allclose(a(x), m(x))
    merged = L.merge_lora(a)
    assert not any(isinstance(x_, (L.LoRALinear, L.LoRAConv2d)) for x_ in merged.modules())
    assert [type(x_) for x_ in merged.modules()] == [type(x_) for x_ in m.modules()]
    assert (merged(x) - a(x)).abs().max() < 1e-5


def test_lora_on_zoo_model_merges_within_tolerance():
    torch.manual_seed(0)
    m = wb.create_model("mobilenetv2_050", num_classes=10, in_chans=1, small_input=True).eval()
    a = L.add_lora(m, rank=4)
    with torch.no_grad():
        for n, p in a.named_parameters():
            if "lora_b" in n:
                p.normal_(0, 0.01)
    x = torch.randn(2, 1, 28, 28)
    assert (L.merge_lora(a)(x) - a(x)).abs().max() < 1e-5
    assert _params(L.merge_lora(a)) == _params(m)


def test_probe_bias_only_full_counts():
    m = _net()
    assert L.trainable_params(L.linear_probe(m)) == 64 * 10 + 10
    bias = 16 + 32 + 64 + 10 + 16  # conv/linear biases + BN beta
    assert L.trainable_params(L.bias_only(m)) == bias + 16 + 640  # + BN gamma + head weight
    assert L.trainable_params(L.full_finetune(m)) == _params(m)


def test_training_memory_orders_methods():
    m = _net().train()
    x, y = torch.randn(8, 1, 16, 16), torch.arange(8)
    full = L.training_memory(L.full_finetune(m), x, y)
    probe = L.training_memory(L.linear_probe(m), x, y)
    assert probe["saved_activation_bytes"] < full["saved_activation_bytes"]
    assert probe["grad_bytes"] == (64 * 10 + 10) * 4


def test_lora_bad_input():
    with pytest.raises(ValueError, match="rank"):
        L.add_lora(_net(), rank=0)
    with pytest.raises(ValueError, match="valid: linear, conv1x1, conv"):
        L.add_lora(_net(), targets=("attention",))
    with pytest.raises(ValueError, match="no layer matches"):
        L.add_lora(nn.Sequential(nn.Linear(4, 2)), targets=("conv",))


# --- the low_rank_peft notebook's verdict rule (workbench/lessons/low_rank_peft.py) ---

def _tables(*, base=90.0, uni=70.0, en=80.0, full=95.0, lora=94.0, lora_pct=3.0):
    import pandas as pd

    lowrank = pd.DataFrame({"name": ["dense", "uniform 25%", "energy 0.950"], "params": [1000, 500, 500],
                            "macs": [100, 60, 55], "accuracy_pruned": [base, uni, en], "accuracy": [base, 88.0, 89.0]})  # fmt: skip
    peft = pd.DataFrame({"name": ["full fine-tune", "linear probe", "LoRA r=4"], "trainable_params": [1000, 10, 30],
                         "trainable_pct": [100.0, 1.0, lora_pct], "training_memory_mb": [3.0, 0.1, 2.0],
                         "accuracy": [full, 60.0, lora]})  # fmt: skip
    return lowrank, peft


def _lr_verdict(diff=1e-6, ratio=1.0, **kw):
    from workbench.lessons import low_rank_peft

    lowrank, peft = _tables(**kw)
    return low_rank_peft.conclude(lowrank, peft, merge_max_diff=diff, merged_latency_ratio=ratio, finetune_steps=60, adapt_steps=80)


@pytest.mark.parametrize(
    ("kw", "verdict"),
    [
        ({}, "supported"),
        ({"en": 60.0}, "partly supported"),  # uniform beats energy
        ({"lora": 90.0}, "partly supported"),  # LoRA 5 points behind
        ({"lora_pct": 20.0}, "partly supported"),  # not parameter-efficient
        ({"ratio": 1.3}, "partly supported"),  # merged model slower: not merged really
        ({"en": 60.0, "lora": 90.0, "diff": 1e-2}, "not supported"),
        ({"base": 50.0, "full": 30.0}, "inconclusive"),  # both accuracy halves untestable
        ({"uni": 10.0, "en": 10.0, "full": 30.0}, "inconclusive"),  # both ranks at chance: no evidence
    ],
)
def test_low_rank_peft_verdicts(kw, verdict):
    assert _lr_verdict(**kw).verdict == verdict


def test_low_rank_peft_bad_tables():
    from workbench.lessons import low_rank_peft

    lowrank, peft = _tables()
    with pytest.raises(ValueError, match="'uniform ...'"):
        low_rank_peft.conclude(lowrank.iloc[:2], peft, merge_max_diff=0, merged_latency_ratio=1, finetune_steps=1, adapt_steps=1)
    with pytest.raises(ValueError, match="LoRA r="):
        low_rank_peft.conclude(lowrank, peft.iloc[:2], merge_max_diff=0, merged_latency_ratio=1, finetune_steps=1, adapt_steps=1)


def test_digits_task_and_new_head():
    d = L.digits_task(batch_size=32)
    x, y = next(iter(d.train))
    assert x.shape == (32, 1, 28, 28) and d.num_classes == 10 and d.test.num_samples == 450
    m = L.with_new_head(_net(), 3)
    assert m[9].out_features == 3 and m(torch.randn(1, 1, 8, 8)).shape == (1, 3)


def test_output_difference_keeps_no_graph():
    m = L.add_lora(_net(), rank=2)
    x = torch.randn(2, 1, 8, 8)
    assert L.output_difference(m, L.merge_lora(m), x) < 1e-5
    assert m.training is False  # _net() is in eval mode and stays so
