"""Conditional computation: MoE routing and balancing, token dropping, early exits, cascades, the lesson rule."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

import workbench as wb
from workbench.layers.moe import AddAuxLoss, MoEMLP, load_stats, switch_aux_loss
from workbench.layers.token_drop import keep_top_tokens, kept_tokens
from workbench.lessons import conditional_computation as lesson
from workbench.models.early_exit import ExitPath, MultiExit
from workbench.search import conditional as cc


def _moe_routing_to(expert_of_token: torch.Tensor, dim: int = 4, experts: int = 4, **kw) -> tuple[MoEMLP, torch.Tensor]:
    """An MoE whose router sends token n to ``expert_of_token[n]`` (one-hot inputs, identity-like router)."""
    torch.manual_seed(0)
    moe = MoEMLP(dim, 8, experts, **kw)
    with torch.no_grad():
        moe.router.weight.copy_(10 * torch.eye(experts, dim))
    x = torch.nn.functional.one_hot(expert_of_token, dim).float()
    return moe, x


# --- MoE -------------------------------------------------------------------------------------


def test_top_k_routing_shapes_weights_and_load():
    moe, x = _moe_routing_to(torch.tensor([0, 1, 2, 3, 0, 0]), top_k=2)
    probs, chosen, weights = moe.route(x)
    assert chosen.shape == weights.shape == (6, 2) and probs.shape == (6, 4)
    assert torch.allclose(weights.sum(-1), torch.ones(6))
    assert chosen[:, 0].tolist() == [0, 1, 2, 3, 0, 0]  # the favoured expert comes first
    moe.eval()(x)
    assert moe.load.sum() == 12 and moe.load[0] >= 3  # k slots per token


def test_top_k_equal_to_experts_is_the_dense_mixture():
    torch.manual_seed(0)
    moe = MoEMLP(8, 16, 3, top_k=3).eval()
    x = torch.randn(5, 8)
    probs = torch.softmax(moe.router(x), -1)
    dense = sum(probs[:, i : i + 1] * e(x) for i, e in enumerate(moe.experts))
    assert torch.allclose(moe(x), dense, atol=1e-6)


def test_capacity_drops_overflow_tokens():
    moe, x = _moe_routing_to(torch.zeros(8, dtype=torch.long), capacity_factor=1.0)  # all 8 want expert 0
    assert moe.capacity(8) == 2  # ceil(1.0 * 8 * 1 / 4)
    y = moe.eval()(x)
    assert moe.dropped == 6 and moe.load[0] == 8  # load counts the demand, dropped the overflow
    assert (y[2:] == 0).all() and (y[:2] != 0).any()  # first come, first served


def test_switch_aux_loss_is_one_when_uniform_and_e_when_collapsed():
    e, n = 4, 8
    uniform = switch_aux_loss(torch.full((n, e), 1 / e), torch.arange(n)[:, None] % e, e)
    collapsed = switch_aux_loss(torch.nn.functional.one_hot(torch.zeros(n, dtype=torch.long), e).float(), torch.zeros(n, 1, dtype=torch.long), e)
    assert uniform.item() == pytest.approx(1.0) and collapsed.item() == pytest.approx(e)


def test_add_aux_loss_sends_gradient_one_to_the_loss():
    w = torch.tensor(3.0, requires_grad=True)
    x = torch.ones(4, requires_grad=True)
    AddAuxLoss.apply(x, 2 * w).sum().backward()
    assert w.grad.item() == pytest.approx(2.0) and torch.equal(x.grad, torch.ones(4))


def test_aux_mode_puts_the_balance_loss_into_the_router_gradient():
    moe, x = _moe_routing_to(torch.tensor([0, 0, 0, 1]), balance="aux", aux_weight=1.0)
    moe.train()(x).sum().backward()
    assert moe.aux_loss.item() > 1.0 and moe.router.weight.grad.abs().sum() > 0
    moe2, _ = _moe_routing_to(torch.tensor([0, 0, 0, 1]), balance="none")
    moe2.train()(x)
    assert moe2.aux_loss.item() == 0


def test_bias_balancing_pushes_overloaded_experts_down_and_only_in_training():
    moe, x = _moe_routing_to(torch.tensor([0, 0, 0, 1]), balance="bias", bias_rate=0.5)
    moe.eval()(x)
    assert (moe.expert_bias == 0).all()  # inference never updates
    moe.train()(x)
    assert moe.expert_bias[0] < 0 and (moe.expert_bias[2:] > 0).all()
    # the bias steers the choice, not the mixing weight: a large bias on expert 3 wins the choice
    with torch.no_grad():
        moe.expert_bias.copy_(torch.tensor([0.0, 0.0, 0.0, 2.0]))
    probs, chosen, weights = moe.route(x)
    assert (chosen[:, 0] == 3).all() and torch.allclose(weights, torch.ones_like(weights))


def test_moe_rejects_bad_options():
    with pytest.raises(ValueError, match="unknown balance 'x'; valid: aux, bias, none"):
        MoEMLP(4, 4, balance="x")
    with pytest.raises(ValueError, match="top_k=5"):
        MoEMLP(4, 4, 4, top_k=5)


def test_load_stats():
    assert load_stats([5, 5, 5, 5]) == {"max_over_mean": 1.0, "cv": 0.0, "idle_experts": 0, "tokens": 20}
    s = load_stats([8, 0, 0, 0])
    assert s["max_over_mean"] == 4.0 and s["idle_experts"] == 3
    with pytest.raises(ValueError, match="positive counts"):
        load_stats([0, 0])


def test_moe_vit_raises_params_not_active_macs():
    dense = wb.create_model("cond_vit", num_classes=10)
    moe = wb.create_model("cond_vit", num_classes=10, moe_blocks=2, num_experts=4, top_k=1)
    t = cc.cost_table({"dense": dense, "moe": moe}).set_index("name")
    assert t.params["moe"] > 1.5 * t.params["dense"]
    assert t.macs["dense"] < t.macs["moe"] <= 1.01 * t.macs["dense"]  # + the router only
    assert t.expert_params_pct["dense"] == 0 and t.expert_params_pct["moe"] > 30


def test_expert_load_counts_every_token():
    torch.manual_seed(0)
    m = wb.create_model("cond_vit", num_classes=10, moe_blocks=1, num_experts=4).eval()
    x = torch.randn(6, 1, 28, 28)
    load = cc.expert_load(m, [(x, torch.zeros(6, dtype=torch.long))])
    assert load.groupby("layer").tokens.sum().tolist() == [6 * 50]  # 49 patches + class token
    assert load.share_pct.sum() == pytest.approx(100) and cc.load_imbalance(load) >= 1.0
    assert math.isnan(cc.load_imbalance(cc.expert_load(wb.create_model("cond_vit", num_classes=10), [(x, None)])))


# --- token dropping --------------------------------------------------------------------------


def test_keep_top_tokens_keeps_shape_class_token_and_the_top_scores():
    x = torch.arange(2 * 5 * 3, dtype=torch.float).reshape(2, 5, 3)
    scores = torch.tensor([[0.1, 0.9, 0.2, 0.8], [0.5, 0.4, 0.3, 0.2]])
    y = keep_top_tokens(x, scores, 0.5)
    assert y.shape == (2, 3, 3)
    assert torch.equal(y[:, 0], x[:, 0])  # the class token stays first
    assert torch.equal(y[0, 1:], x[0, [2, 4]]) and torch.equal(y[1, 1:], x[1, [1, 2]])  # in original order
    assert keep_top_tokens(x, scores, 1.0) is x and kept_tokens(49, 0.01) == 1
    with pytest.raises(ValueError, match="keep_rate=0"):
        keep_top_tokens(x, scores, 0)


def test_vit_token_dropping_cuts_macs_and_keeps_the_output_shape():
    torch.manual_seed(0)
    m = wb.create_model("cond_vit", num_classes=10).eval()
    full = wb.count_macs(m, (1, 28, 28)).macs
    m.set_token_keep(0.5, after=0)
    with torch.inference_mode():
        assert m(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert wb.count_macs(m, (1, 28, 28)).macs < 0.7 * full
    with pytest.raises(ValueError, match="after=3"):
        m.set_token_keep(0.5, after=3)


# --- early exits and cascades ----------------------------------------------------------------


def _outputs(seed: int = 0, k: int = 3, n: int = 400) -> cc.ExitOutputs:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    # later exits are more often right and more confident
    correct = rng.random((k, n)) < np.linspace(0.5, 0.9, k)[:, None]
    pred = np.where(correct, labels, (labels + 1) % 10)
    conf = np.clip(rng.random((k, n)) * 0.6 + 0.4 * correct, 0, 1)
    return cc.ExitOutputs(conf, pred, labels)


def test_threshold_sweep_cost_is_monotonic_and_accounted():
    out = _outputs()
    costs = {"macs": [10.0, 50.0, 100.0]}
    sweep = cc.threshold_sweep(out, costs, [0.0, 0.3, 0.5, 0.7, 0.9, 1.01])
    assert sweep.mean_macs.is_monotonic_increasing  # a higher bar sends images deeper
    assert sweep.mean_macs.iloc[0] == 10.0 and sweep.accuracy.iloc[0] == pytest.approx(out.exit_accuracy()[0])
    assert sweep.mean_macs.iloc[-1] == 100.0 and sweep.accuracy.iloc[-1] == pytest.approx(out.exit_accuracy()[-1])
    shares = sweep[[f"exit_{k}_pct" for k in range(3)]].to_numpy()
    assert np.allclose(shares.sum(1), 100) and np.allclose(shares @ np.array(costs["macs"]) / 100, sweep.mean_macs)
    with pytest.raises(ValueError, match="one value per exit"):
        cc.threshold_sweep(out, {"macs": [1.0, 2.0]}, [0.5])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_bounds_every_threshold(seed):
    out = _outputs(seed)
    costs = {"macs": [10.0, 50.0, 100.0]}
    oracle = cc.oracle_exit(out, costs)
    sweep = cc.threshold_sweep(out, costs, np.linspace(0, 1.01, 21))
    assert (sweep.accuracy <= oracle["accuracy"] + 1e-9).all()
    assert oracle["accuracy"] == pytest.approx(100 * out.correct.any(0).mean())
    assert oracle["mean_macs"] <= 100.0


def test_policy_exits_first_confident_exit():
    conf = np.array([[0.9, 0.2, 0.2], [0.95, 0.8, 0.3], [0.1, 0.1, 0.1]])
    assert cc.policy_exits(conf, 0.7).tolist() == [0, 1, 2]


def test_cascade_accounting():
    small, large = _outputs(0, k=1), _outputs(1, k=1)
    large = cc.ExitOutputs(large.confidence, np.where(large.correct, small.labels, large.prediction), small.labels)
    c_s, c_l = {"macs": 10.0, "latency_ratio": 1.0}, {"macs": 100.0, "latency_ratio": 4.0}
    sw = cc.cascade_sweep(small, large, c_s, c_l, [0.0, 0.5, 1.01])
    d = sw.deferred_pct / 100
    assert np.allclose(sw.mean_macs, 10 + d * 100) and np.allclose(sw.mean_latency_ratio, 1 + d * 4)
    assert sw.deferred_pct.iloc[0] == 0 and sw.accuracy.iloc[0] == pytest.approx(small.exit_accuracy()[0])
    assert sw.deferred_pct.iloc[-1] == 100 and sw.accuracy.iloc[-1] == pytest.approx(large.exit_accuracy()[0])
    with pytest.raises(ValueError, match="same test images"):
        cc.cascade_sweep(small, cc.ExitOutputs(large.confidence, large.prediction, large.labels[::-1]), c_s, c_l, [0.5])


def test_multi_exit_last_exit_is_the_backbone_and_folds_exactly():
    torch.manual_seed(0)
    bb = wb.create_model("reference_cnn", num_classes=10).eval()
    net = MultiExit(bb, (2, 8)).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.inference_mode():
        outs = net(x)
        assert len(outs) == net.num_exits == 3 and all(o.shape == (3, 10) for o in outs)
        assert torch.allclose(outs[-1], bb(x), atol=1e-5)
        assert torch.allclose(ExitPath(net, 1)(x), outs[1]) and torch.allclose(ExitPath(net, 2)(x), outs[2])
        deploy = wb.reparameterize_model(net)
        assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(deploy(x), outs, strict=True))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in deploy.modules())
    assert sum(p.numel() for p in bb.parameters()) == sum(p.numel() for p in net.backbone.parameters()) + sum(
        p.numel() for p in net.segments.parameters()
    )
    with pytest.raises(ValueError, match="cuts \\[8, 2\\] must be increasing"):
        MultiExit(bb, (8, 2))


def test_exit_macs_grow_with_the_exit():
    torch.manual_seed(0)
    net = MultiExit(wb.create_model("reference_cnn", num_classes=10), (2, 8)).eval()
    macs = [wb.count_macs(ExitPath(net, k), (1, 28, 28)).macs for k in range(3)]
    assert macs[0] < macs[1] < macs[2]


# --- the lesson rule -------------------------------------------------------------------------


def _moe_table(aux_imbalance=1.6, bias_imbalance=1.2, params=(100_000, 200_000, 200_000), macs=(1e6, 1.01e6, 1.01e6)):
    return pd.DataFrame({
        "name": ["dense", "aux", "bias"], "balance": ["dense", "aux", "bias"], "params": params, "macs": macs,
        "latency_ratio": [1.0, 1.4, 1.4], "accuracy": [86.0, 86.5, 86.2], "max_over_mean": [math.nan, aux_imbalance, bias_imbalance],
    })  # fmt: skip


def _sweep(acc=(85.0, 89.5, 90.0), macs=(2e6, 3e6, 5.5e6)):
    return pd.DataFrame({"threshold": [0.5, 0.9, 1.01], "accuracy": acc, "mean_macs": macs, "mean_latency_ratio": [0.6, 0.8, 1.0]})


_EXITS = dict(exit_costs={"macs": [0.2e6, 2.9e6, 5.5e6], "latency_ratio": [0.3, 0.7, 1.0]}, oracle={"accuracy": 95.0, "mean_macs": 1e6})


def test_lesson_supported_when_every_part_holds():
    les = lesson.conclude(_sweep(), exit_accuracy=[70.0, 88.0, 90.0], moe=_moe_table(), epochs=4, images=20000, **_EXITS)
    assert les.verdict == "supported"
    assert "save 45% of the MACs" in les.evidence  # threshold 0.9: 3.0M of 5.5M at -0.5 points
    assert les.key_numbers["exit MAC saving at <1 pt loss"]["value"] == pytest.approx(45.5, abs=0.1)
    assert any("latency by 20%" in t for t in les.takeaways)


def test_lesson_exits_fail_when_saving_needs_more_than_a_point():
    les = lesson.conclude(_sweep(acc=(85.0, 88.0, 90.0)), exit_accuracy=[70.0, 88.0, 90.0], moe=_moe_table(), **_EXITS)
    assert les.verdict == "partly supported" and "save 0% of the MACs (< 33%)" in les.evidence


def test_lesson_balance_fails_and_too_short_is_untestable():
    les = lesson.conclude(_sweep(acc=(60.0, 70.0, 80.0)), exit_accuracy=[50.0, 70.0, 80.0], moe=_moe_table(1.2, 1.6), epochs=1, images=512, **_EXITS)
    assert les.verdict == "partly supported"  # exits untestable, MoE cost holds, balance fails
    assert "training too short" in les.evidence and les.key_numbers["training"].startswith("too short")
    bad = lesson.conclude(_sweep(acc=(60.0, 70.0, 80.0)), exit_accuracy=[50.0, 70.0, 80.0],
                          moe=_moe_table(1.2, 1.6, macs=(1e6, 2e6, 2e6)), **_EXITS)  # fmt: skip
    assert bad.verdict == "not supported"


def test_lesson_needs_a_dense_row_and_a_sweep():
    with pytest.raises(ValueError, match="'dense' row"):
        lesson.conclude(_sweep(), exit_accuracy=[1, 2, 90.0], moe=_moe_table().iloc[1:], **_EXITS)
    with pytest.raises(ValueError, match="non-empty exit sweep"):
        lesson.conclude(_sweep().iloc[:0], exit_accuracy=[90.0], moe=_moe_table(), **_EXITS)


def test_variants_and_bank_entries_agree():
    params = {"backbone": "reference_cnn", "small_width": 0.25, "vit_balances": ["dense", "aux", "bias"], "num_experts": 4,
              "top_k": 1, "moe_blocks": 2, "recipe": "smoke", "vit_recipe": "smoke", "seeds": [0, 1]}  # fmt: skip
    entries = lesson.bank_entries(params)
    assert len(entries) == (2 + 3) * 2 and {e.model for e in entries} == {"reference_cnn", "cond_vit"}
    with pytest.raises(ValueError, match="unknown balance 'soft'"):
        lesson.variants("reference_cnn", 0.25, ["soft"], num_experts=4, top_k=1, moe_blocks=2)


def test_exit_outputs_of_a_multi_exit_net_and_of_a_plain_classifier():
    torch.manual_seed(0)
    bb = wb.create_model("reference_cnn", num_classes=10).eval()
    x, y = torch.randn(5, 1, 28, 28), torch.arange(5)
    multi = cc.exit_outputs(MultiExit(bb, (2,)), [(x, y)])
    plain = cc.exit_outputs(bb, [(x, y)])
    assert multi.confidence.shape == (2, 5) and plain.confidence.shape == (1, 5)
    assert np.array_equal(multi.prediction[-1], plain.prediction[0])
    assert ((plain.confidence > 0) & (plain.confidence <= 1)).all()
