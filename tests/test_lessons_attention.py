"""token_mixers / attention_scaling: the sequence mixers, the scaling helpers and both verdict rules."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

import workbench as wb
from workbench.layers import sequence_mixers as sm
from workbench.lessons import attention_scaling as asc
from workbench.lessons import token_mixers as tm

# --- layers -------------------------------------------------------------------------------------


def _recurrence(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    h, out = torch.zeros_like(b[:, 0]), []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h.clone())
    return torch.stack(out, 1)


@pytest.mark.parametrize("n", [1, 2, 7, 33])
def test_parallel_scan_equals_recurrence(n):
    g = torch.Generator().manual_seed(n)
    a, b = torch.rand(2, n, 3, generator=g), torch.randn(2, n, 3, generator=g)
    ref = _recurrence(a, b)
    assert torch.allclose(sm.scan_sequential(a, b), ref, atol=1e-6)
    assert torch.allclose(sm.scan_parallel(a, b), ref, atol=1e-5)


def test_selective_ssm_scans_and_decode_step_agree():
    torch.manual_seed(0)
    m = sm.SelectiveSSM(16, d_state=4, scan="sequential").eval()
    x = torch.randn(2, 19, 16)
    with torch.no_grad():
        seq = m(x)
        m.scan = "parallel"
        par = m(x)
        state, steps = m.init_state(2), []
        for t in range(x.shape[1]):
            y, state = m.step(x[:, t], state)
            steps.append(y)
    assert torch.allclose(seq, par, atol=1e-5)
    assert torch.allclose(seq, torch.stack(steps, 1), atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 4, 16, 64])
def test_ssd_chunked_equals_recurrence(chunk):
    g = torch.Generator().manual_seed(chunk)
    bs, n, h, p, s = 2, 23, 3, 5, 4
    x, la = torch.randn(bs, n, h, p, generator=g), -torch.rand(bs, n, h, generator=g)
    b, c = torch.randn(bs, n, s, generator=g), torch.randn(bs, n, s, generator=g)
    state, ref = torch.zeros(bs, h, s, p), []
    for t in range(n):
        state = la[:, t].exp()[..., None, None] * state + b[:, t, None, :, None] * x[:, t, :, None, :]
        ref.append(torch.einsum("bhsp,bs->bhp", state, c[:, t]))
    out = sm.ssd_chunked(x, la, b, c, torch.ones(chunk, chunk).tril())
    assert torch.allclose(out, torch.stack(ref, 1), atol=1e-4)


def test_attention_impls_agree_and_window_is_local():
    torch.manual_seed(0)
    math_, fused = sm.SoftmaxAttention(32, impl="math"), sm.SoftmaxAttention(32, impl="sdpa")
    fused.load_state_dict(math_.state_dict())
    x = torch.randn(2, 10, 32)
    with torch.no_grad():
        assert torch.allclose(math_(x), fused(x), atol=1e-5)
        win = sm.WindowAttention(32, window=4)
        y = win(x)
        x2 = x.clone()
        x2[:, 8:] += 1.0  # change only the last (padded) window
        assert torch.equal(win(x2)[:, :8], y[:, :8]) and not torch.equal(win(x2)[:, 8:], y[:, 8:])


def test_linear_attention_keeps_shape():
    torch.manual_seed(0)
    m = sm.LinearAttention(32)
    assert m(torch.randn(1, 50, 32)).shape == (1, 50, 32)


def test_bad_names_raise():
    with pytest.raises(ValueError, match="unknown attention impl 'flash'; valid: math, sdpa"):
        sm.SoftmaxAttention(32, impl="flash")
    with pytest.raises(ValueError, match="unknown scan 'fast'; valid: sequential, parallel"):
        sm.SelectiveSSM(32, scan="fast")
    with pytest.raises(ValueError, match="unknown sequence mixer 'rnn'"):
        wb.create_model("sequence_tiny", mixer="rnn")
    with pytest.raises(ValueError, match="unknown token mixer 'rnn'"):
        tm.variants(["pooling", "rnn"], width_mult=1.0)
    with pytest.raises(KeyError, match="unknown mixer 'rnn'"):
        asc.mixer_specs(["rnn"])


@pytest.mark.parametrize("mixer", ["window_attention", "linear_attention", "cascaded_group_attention", "ssd", "ssm"])
def test_new_metaformer_mixers_keep_shape(mixer):
    m = wb.layers.get_token_mixer(mixer, 32)
    assert m(torch.randn(2, 32, 9, 11)).shape == (2, 32, 9, 11)


def test_sequence_tiny_equal_params_for_attention_and_ssd():
    p = {m: wb.count_params(wb.create_model("sequence_tiny", num_classes=10, mixer=m, mixer_kwargs=kw)).total
         for m, kw in (("attention", {}), ("ssd", {"d_state": 28}))}  # fmt: skip
    assert abs(p["ssd"] / p["attention"] - 1) < 0.01


# --- measurement helpers ----------------------------------------------------------------------


def test_fit_exponent_recovers_powers():
    n = [64, 256, 1024, 4096]
    df = pd.DataFrame({"g": ["sq"] * 4 + ["lin"] * 4 + ["one"], "n": n + n + [64], "v": [x * x for x in n] + [3 * x for x in n] + [1.0]})
    k = wb.measure.fit_exponent(df, "n", "v", by="g")
    assert k["sq"] == pytest.approx(2) and k["lin"] == pytest.approx(1) and math.isnan(k["one"])


def test_sequence_scaling_caps_and_baseline():
    mixers = {"lin": sm.LinearAttention(16), "att": sm.SoftmaxAttention(16)}
    df = wb.measure.sequence_scaling(mixers, [8, 32], dim=16, max_tokens={"att": 8}, rounds=1, sample_ms=1, warmup_s=0)
    assert set(zip(df.mixer, df.tokens, strict=True)) == {("lin", 8), ("lin", 32), ("att", 8)}
    assert (df[df.mixer == "lin"].ratio == 1).all() and (df.macs > 0).all() and (df.peak_mb > 0).all()
    with pytest.raises(ValueError, match="baseline 'lin'"):
        wb.measure.sequence_scaling(mixers, [8], dim=16, max_tokens={"lin": 4})


def test_token_caps_limit_written_out_attention_by_bytes():
    caps = asc.token_caps(list(asc.MIXERS), [1024, 4096, 16384], heads=2, max_math_gb=2.0, max_quadratic_tokens=16384)
    # 2 matrices x 2 heads x N^2 x 4 bytes: 4096 -> 256 MiB fits, 16384 -> 4 GiB does not
    assert caps == {"attention (sdpa)": 16384, "attention (math)": 4096}


# --- attention_scaling verdict ------------------------------------------------------------------


def _scaling(att_ratios, lengths=(256, 1024, 4096)):
    rows = [{"mixer": "linear attention", "tokens": n, "ratio": 1.0} for n in lengths]
    rows += [{"mixer": "attention (sdpa)", "tokens": n, "ratio": r} for n, r in zip(lengths, att_ratios, strict=True)]
    return pd.DataFrame(rows)


def _acc(att=88.0, ssm=88.3, std=0.3, seeds=2):
    return pd.DataFrame({"name": ["sequence_tiny + attention", "sequence_tiny + ssd"], "accuracy": [att, ssm],
                         "accuracy_std": [std if seeds > 1 else float("nan")] * 2, "seeds": [seeds] * 2,
                         "params": [71434, 71510]})  # fmt: skip


def test_crossover_needs_slower_from_there_on():
    assert asc.crossover(_scaling([0.5, 1.5, 4.0]), "attention (sdpa)", "linear attention") == 1024
    assert asc.crossover(_scaling([1.5, 0.9, 4.0]), "attention (sdpa)", "linear attention") == 4096
    assert asc.crossover(_scaling([0.5, 0.8, 0.9]), "attention (sdpa)", "linear attention") is None


def test_attention_scaling_supported():
    exps = {"linear attention": 1.05, "attention (sdpa)": 1.9}
    lesson = asc.conclude(exps, _scaling([0.5, 1.5, 4.0]), _acc())
    assert lesson.verdict == "supported", lesson.evidence
    assert lesson.key_numbers["crossover vs linear attention"] == {"value": 1024, "unit": "tokens"}


def test_attention_scaling_exponent_out_of_range_fails():
    exps = {"linear attention": 1.05, "attention (sdpa)": 1.4}  # attention not quadratic enough
    assert asc.conclude(exps, _scaling([0.5, 1.5, 4.0]), _acc()).verdict == "partly supported"
    assert asc.conclude(exps, _scaling([0.5, 1.5, 4.0]), _acc(ssm=80.0)).verdict == "not supported"


def test_attention_scaling_no_crossover_fails_cost():
    exps = {"linear attention": 1.05, "attention (sdpa)": 1.9}
    lesson = asc.conclude(exps, _scaling([0.2, 0.4, 0.9]), _acc(ssm=80.0))
    assert lesson.verdict == "not supported" and "no crossover" in lesson.evidence


def test_attention_scaling_accuracy_untestable_cases():
    exps = {"linear attention": 1.05, "attention (sdpa)": 1.9}
    one_seed = asc.conclude(exps, _scaling([0.5, 1.5, 4.0]), _acc(seeds=1))
    assert one_seed.verdict == "partly supported" and "1 seed, no spread" in one_seed.evidence
    short = asc.conclude(exps, _scaling([0.5, 1.5, 4.0]), _acc(att=70.0, ssm=71.0))
    assert short.verdict == "partly supported" and "training too short" in short.evidence
    assert "nan" not in " ".join(short.takeaways).lower()


def test_attention_scaling_nan_exponent_is_reported_not_judged():
    exps = {"linear attention": 1.05, "attention (sdpa)": 1.9, "attention (math)": float("nan")}
    lesson = asc.conclude(exps, _scaling([0.5, 1.5, 4.0]), _acc())
    assert lesson.verdict == "supported"
    assert any("no exponent" in t for t in lesson.takeaways)
    untestable = asc.conclude({"linear attention": float("nan"), "attention (sdpa)": 1.9}, _scaling([0.5, 1.5, 4.0]), None)
    assert untestable.verdict == "inconclusive"


# --- token_mixers verdict ------------------------------------------------------------------------


def _mixers(pool=88.0, att=88.5, std=0.3, seeds=2):
    t = pd.DataFrame({
        "name": [f"metaformer_tiny + {m}" for m in ("pooling", "identity", "attention", "window_attention")],
        "accuracy": [pool, pool - 3, att, att - 0.2], "accuracy_std": [std if seeds > 1 else float("nan")] * 4,
        "seeds": [seeds] * 4, "macs": [7.4e6, 7.4e6, 16e6, 12e6], "latency_ratio": [1.0, 0.9, 2.5, 3.0],
    })  # fmt: skip
    return tm.mixer_overheads(t)


def _res(top_ratio=1.6, q=0.05):
    rows = []
    for r, hyb, share in ((128, 1.0, 1.0), (224, 1.2, 3.0), (448, top_ratio, 12.0)):
        rows.append({"model": "cnn", "resolution": r, "ratio": 1.0, "ratio_q1": 1.0, "ratio_q3": 1.0, "token_matmul_pct": 0.0})
        # windowed attention: a larger but flat share, flat ratio -- must not be the one judged
        rows.append({"model": "windowed", "resolution": r, "ratio": 0.9, "ratio_q1": 0.85, "ratio_q3": 0.95, "token_matmul_pct": 20.0})
        rows.append({"model": "hybrid", "resolution": r, "ratio": hyb, "ratio_q1": hyb - q, "ratio_q3": hyb + q, "token_matmul_pct": share})
    return pd.DataFrame(rows)


def test_token_mixers_supported():
    lesson = tm.conclude(_mixers(), _res(), epochs=2, images=10000)
    assert lesson.verdict == "supported", lesson.evidence
    assert "hybrid / cnn" in lesson.evidence and "windowed /" not in lesson.evidence


def test_token_mixers_gap_beyond_noise_fails_skeleton():
    assert tm.conclude(_mixers(att=91.0), _res()).verdict == "partly supported"
    assert tm.conclude(_mixers(att=91.0), _res(top_ratio=1.02)).verdict == "not supported"


def test_token_mixers_noisy_growth_is_flat():
    # the ratio rises 10 % but the quartiles overlap: not evidence of growth
    assert tm.conclude(_mixers(), _res(top_ratio=1.1, q=0.2)).verdict == "partly supported"


def test_token_mixers_untestable_halves():
    short = tm.conclude(_mixers(pool=70.0, att=71.0), None)
    assert short.verdict == "inconclusive" and "training too short" in short.evidence
    one = tm.conclude(_mixers(seeds=1), _res())
    assert one.verdict == "partly supported" and "1 seed, no spread" in one.evidence
    with pytest.raises(ValueError, match="at least two mixers"):
        tm.conclude(_mixers().iloc[:1], None)


def test_split_available_keeps_order():
    present, missing = tm.split_available(["efficientvit_m0", "no_such_model", "mobilenetv2_050"])
    assert present == ["efficientvit_m0", "mobilenetv2_050"] and missing == ["no_such_model"]


def test_bank_entries_match_variants():
    params = {"mixers": ["pooling", "attention"], "width_mult": 1.0, "recipe": "smoke", "seeds": [0, 1]}
    entries = tm.bank_entries(params)
    assert len(entries) == 4 and {e.model for e in entries} == {"metaformer_tiny"}
    params = {"train_mixers": ["attention", "ssd"], "patch": 4, "mixer_kwargs": {"ssd": {"d_state": 28}}, "recipe": "smoke", "seeds": [0]}
    kws = [dict(e.kwargs) for e in asc.bank_entries(params)]
    assert kws[1]["mixer_kwargs"] == {"d_state": 28} and kws[0]["mixer_kwargs"] == {}


def test_resolution_scaling_builds_each_model_for_each_size():
    df = wb.measure.resolution_scaling(["mobilenetv2_050", "efficientformer_l1"], [32, 64], rounds=1)
    assert list(df.model) == ["mobilenetv2_050", "efficientformer_l1"] * 2
    share = df.set_index(["model", "resolution"]).token_matmul_pct
    assert share["mobilenetv2_050"].eq(0).all() and (share["efficientformer_l1"] > 0).all()
    # the global-attention stage's share grows with the token count (N^2 vs N)
    assert share["efficientformer_l1", 64] > share["efficientformer_l1", 32]
