"""Tiny language models: corpus split, decoder blocks, KV cache, MACs, quantization, decoding."""

import math

import pytest
import torch

import workbench as wb
from workbench.compress.weight_only import (
    WeightOnlyLinear,
    dequantize_groups,
    quantize_groups,
    weight_only_quantize,
)
from workbench.data.text import text_corpus
from workbench.measure.decoding import (
    generate,
    kv_cache_bytes,
    lm_macs,
    speculative_generate,
    weight_bytes,
)
from workbench.models.tiny_lm import tiny_lm_params


def _lm(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = {"vocab": 20, "depth": 2, "dim": 32, "heads": 4, "max_len": 64} | kw
    m = wb.create_model("tiny_lm", **cfg).double().eval()
    with torch.no_grad():  # larger weights than the training init: distinct, confident logits
        for p in m.parameters():
            if p.dim() >= 2:
                p.normal_(0, 0.3)
    return m


# --- corpus ---------------------------------------------------------------------------------


def test_corpus_split_by_paper_is_deterministic_and_disjoint():
    a, b, c = text_corpus(seed=0), text_corpus(seed=0), text_corpus(seed=1)
    assert a.papers == b.papers and torch.equal(a.val, b.val) and a.checksum == b.checksum
    assert a.papers["val"] != c.papers["val"]
    sets = [set(a.papers[s]) for s in ("train", "val", "test")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sum(map(len, sets)) == 497 and len(a.papers["val"]) == round(0.05 * 497)
    assert a.vocab[0] == wb.data.text.UNK and a.decode(a.encode("token mixer")) == "token mixer"
    assert a.key["version"] == wb.data.TEXT_CORPUS_VERSION and len(a.checksum) == 64


def test_corpus_rejects_bad_fractions():
    with pytest.raises(ValueError, match="val_frac"):
        text_corpus(val_frac=0.6, test_frac=0.5)


# --- blocks, model, MACs ----------------------------------------------------------------------


def test_kv_cache_decode_matches_full_forward():
    m = _lm()
    x = torch.randint(0, 20, (2, 12))
    full = m(x)
    caches = m.new_caches(2, 12)
    parts = [m(x[:, :5], caches)] + [m(x[:, i : i + 1], caches) for i in range(5, 9)] + [m(x[:, 9:], caches)]
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-10)


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_gqa_with_kv_heads_equal_heads_is_mha(pos):
    mha, gqa = _lm(pos=pos), _lm(pos=pos, kv_heads=4)
    assert [p.shape for p in mha.parameters()] == [p.shape for p in gqa.parameters()]
    x = torch.randint(0, 20, (1, 10))
    assert torch.equal(mha(x), gqa(x))
    mqa = _lm(pos=pos, kv_heads=1)
    assert mqa.blocks[0].attn.kv.out_features == 2 * 8 and mqa(x).shape == (1, 10, 20)


def test_mqa_kv_bytes_are_one_over_heads_of_mha():
    mha, gqa, mqa = _lm(), _lm(kv_heads=2), _lm(kv_heads=1)
    assert kv_cache_bytes(mha, 100) == 2 * 2 * 4 * 8 * 100 * 4
    assert kv_cache_bytes(mqa, 100) * 4 == kv_cache_bytes(mha, 100)
    assert kv_cache_bytes(gqa, 100) * 2 == kv_cache_bytes(mha, 100)
    assert mqa.new_caches(1, 100)[0].nbytes * 4 == mha.new_caches(1, 100)[0].nbytes


@pytest.mark.parametrize("kw", [{}, {"kv_heads": 1, "tie_embeddings": True}, {"mlp": "gelu", "pos": "learned", "repeat": 2}])
def test_param_formula_and_mac_counter_agree_with_hand_formula(kw):
    m = _lm(**kw)
    assert sum(p.numel() for p in m.parameters()) == tiny_lm_params(20, 2, 32, 4, kw.get("kv_heads"), max_len=64,
                                                                    **{k: v for k, v in kw.items() if k in ("mlp", "pos", "tie_embeddings")})  # fmt: skip
    T = 16
    counted = wb.measure.count_macs(m, m.example_input((1, 1, T)))
    assert not counted.unsupported
    assert counted.by_operator.get("scaled_dot_product_attention", 0) == 2 * T * T * 32 * 2 * kw.get("repeat", 1)
    assert counted.macs == lm_macs(m, T)


def test_zoo_counter_builds_token_inputs():
    c = wb.measure.count_model("tiny_lm", cache=False, vocab=20, depth=1, dim=16, heads=2)
    assert c.input_size == (1, 128) and c.macs > 0 and not c.unsupported_ops


def test_tied_embeddings_share_one_matrix():
    m = _lm(tie_embeddings=True)
    assert m.head.weight is m.embed.weight
    assert weight_bytes(m) == 8 * sum(p.numel() for p in m.parameters())  # float64: 8 bytes


# --- weight-only quantization -----------------------------------------------------------------


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("group", [32, 64, 128])
def test_group_quantization_error_bound(bits, group):
    torch.manual_seed(0)
    w = torch.randn(16, 256) * torch.logspace(-2, 1, 256)  # very different ranges along a row
    codes, scales = quantize_groups(w, bits, group)
    qmax = 2 ** (bits - 1) - 1
    assert codes.abs().max() <= qmax and scales.shape == (16, 256 // group)
    err = (w - dequantize_groups(codes, scales)).abs().reshape(16, -1, group)
    assert (err <= scales[..., None] / 2 + 1e-6).all()
    # per-group scales beat one scale per row: a coarser grouping cannot be more accurate here
    rel = err.max() / w.abs().max()
    assert rel <= 0.5 / qmax + 1e-6


def test_weight_only_linear_packs_int4_and_matches_dequantized_weight():
    torch.manual_seed(0)
    lin = torch.nn.Linear(72, 8)  # 72 = 2 groups of 32 + 8: the last group is zero-padded
    q4, q8 = WeightOnlyLinear(lin, 4, 32), WeightOnlyLinear(lin, 8, 32)
    assert q4.codes.dtype == torch.uint8 and q4.codes.shape == (8, 48) and q8.codes.shape == (8, 96)
    assert q8.weight().shape == (8, 72) and (q8.weight() - lin.weight).abs().max() <= q8.scales.max() / 2 + 1e-7
    x = torch.randn(3, 72)
    assert torch.allclose(q4(x), torch.nn.functional.linear(x, q4.weight(), lin.bias))
    assert (q8(x) - lin(x)).abs().max() < (q4(x) - lin(x)).abs().max()
    with pytest.raises(ValueError, match="unsupported bits 3; valid: 4, 8"):
        WeightOnlyLinear(lin, 3, 32)


def test_weight_only_quantize_model_copy():
    m = _lm().float()
    q = weight_only_quantize(m, 8, 32)
    assert isinstance(q.blocks[0].attn.q, WeightOnlyLinear) and isinstance(m.blocks[0].attn.q, torch.nn.Linear)
    x = torch.randint(0, 20, (1, 8))
    assert (q(x) - m(x)).abs().max() < 0.05 * m(x).abs().max()
    assert weight_bytes(weight_only_quantize(m, 4, 32)) < weight_bytes(q) < weight_bytes(m)


# --- decoding ---------------------------------------------------------------------------------


def test_generate_with_cache_equals_without():
    m = _lm()
    p = torch.randint(0, 20, (1, 5))
    assert torch.equal(generate(m, p, 12), generate(m, p, 12, use_cache=False))
    s1, s2 = generate(m, p, 12, temperature=1.0, seed=3), generate(m, p, 12, temperature=1.0, seed=3)
    assert torch.equal(s1, s2)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_greedy_speculative_decoding_is_identical_to_greedy_target(k):
    target, draft = _lm(0), _lm(1, depth=1, dim=16, heads=2)
    for seed in range(3):
        p = torch.randint(0, 20, (1, 4), generator=torch.Generator().manual_seed(seed))
        res = speculative_generate(target, draft, p, 20, k=k)
        assert torch.equal(res.tokens, generate(target, p, 20))
        assert 0 <= res.accepted <= res.drafted and res.target_passes >= 1


def test_speculative_with_itself_as_draft_accepts_everything():
    target = _lm(0)
    res = speculative_generate(target, target, torch.tensor([[1, 2, 3]]), 16, k=4)
    assert res.acceptance_rate == 1.0 and math.isclose(res.tokens_per_pass, 16 / 3)


def test_train_lm_reduces_validation_loss():
    corpus = text_corpus(max_papers=12, val_frac=0.2, test_frac=0.1)
    torch.manual_seed(0)
    m = wb.create_model("tiny_lm", vocab=corpus.vocab_size, depth=1, dim=32, heads=2)
    before = wb.train.lm.evaluate_lm(m, corpus.val, seq_len=32, max_windows=16)
    h = wb.train.lm.train_lm(m, corpus, steps=40, batch_size=8, seq_len=32, lr=3e-3, warmup=5, eval_every=20,
                             eval_windows_n=16)  # fmt: skip
    assert h["final_val_loss"] < before and len(h["val_loss"]) == 2 and math.isclose(before, math.log(corpus.vocab_size), rel_tol=0.1)


# --- the verdict rule, on hand-made numbers ---------------------------------------------------


def _tables(*, wide=2.10, deep=2.00, shared=2.01, std=0.01, seeds=2, unigram=3.1, prefill=20.0, int8=0.2,
            spec=(1.3, 1.1, 1.5), identical=True, share=0.7):  # fmt: skip
    import pandas as pd

    q = pd.DataFrame({"variant": ["shallow_wide", "deep_thin", "deep_thin_tied_gqa"], "params": [240_000, 238_000, 215_000],
                      "val_loss": [wide, deep, shared], "val_loss_std": [std if seeds > 1 else float("nan")] * 3,
                      "seeds": [seeds] * 3, "steps_per_s": [8.0] * 3})  # fmt: skip
    q["val_bpc"], q["ppl"], q["unigram_loss"] = q.val_loss / math.log(2), q.val_loss.map(math.exp), unigram
    decode = pd.DataFrame({"model": ["shallow_wide", "deep_thin"], "context": [64, 64], "prefill_speedup": [prefill, prefill],
                           "decode_ratio": [1.0, 2.5]})  # fmt: skip
    quant = pd.DataFrame({"scheme": ["fp32", "int8 g64", "int4 g64"], "bits": [32, 8, 4], "group_size": [0, 64, 64],
                          "weight_mb": [0.9, 0.3, 0.2], "ppl_change_pct": [0.0, int8, 3.0], "decode_ratio": [1.0, 1.3, 2.2]})  # fmt: skip
    spec_t = pd.DataFrame({"method": ["greedy", "speculative k=4"], "k": [0, 4], "acceptance_rate": [float("nan"), 0.6],
                           "tokens_per_pass": [1.0, 2.5], "speedup": [1.0, spec[0]], "speedup_q1": [1.0, spec[1]],
                           "speedup_q3": [1.0, spec[2]], "identical": [True, identical]})  # fmt: skip
    bw = pd.DataFrame({"model": ["a", "b"], "weight_mb": [1.0, 100.0], "decode_gb_s": [0.5, 10.0 * share]})
    return q, {"decode": decode, "quant": quant, "spec": spec_t, "bandwidth": bw, "peak_gbs": 10.0, "steps": 200}


def test_conclude_supported_when_every_part_holds():
    q, kw = _tables()
    lesson = wb.lessons.tiny_lm.conclude(q, **kw)
    assert lesson.verdict == "supported", lesson.evidence
    assert "nan" not in " ".join(lesson.takeaways).lower()


@pytest.mark.parametrize(("change", "part", "state"), [
    ({"wide": 2.005}, "depth", "fails"),  # deep-thin ahead by less than twice the spread
    ({"shared": 2.1}, "sharing+GQA", "fails"),
    ({"int8": 1.5}, "int8", "fails"),
    ({"spec": (1.1, 0.9, 1.3)}, "speculative", "untestable"),  # IQR straddles 1
    ({"spec": (0.8, 0.7, 0.9)}, "speculative", "fails"),
    ({"identical": False}, "speculative", "fails"),
    ({"share": 0.1}, "memory-bound", "fails"),
    ({"prefill": 0.9}, "prefill vs decode", "fails"),
])  # fmt: skip
def test_conclude_parts(change, part, state):
    q, kw = _tables(**change)
    lesson = wb.lessons.tiny_lm.conclude(q, **kw)
    assert f"{part} {state}".lower() in lesson.evidence.lower() and lesson.verdict == "partly supported"


def test_conclude_one_seed_and_short_training_make_quality_untestable():
    q, kw = _tables(seeds=1)
    one = wb.lessons.tiny_lm.conclude(q, **kw)
    assert "depth untestable" in one.evidence.lower() and any("1 seed, no spread" in t for t in one.takeaways)
    q, kw = _tables(wide=3.0, deep=2.95, shared=2.96, unigram=3.1)
    short = wb.lessons.tiny_lm.conclude(q, **kw)
    assert "training too short" in short.takeaways[0].lower() and short.key_numbers["training"].startswith("too short")
