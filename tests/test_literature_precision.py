"""Precision/recall of family tags against a hand-labelled sample (workbench.literature.precision)."""

from __future__ import annotations

import math

import pytest

from workbench.literature.precision import (
    LABELLED_SAMPLE_PATH,
    Label,
    agreement,
    errors,
    load_labels,
    score,
)


@pytest.fixture
def three(tmp_path):
    p = tmp_path / "sample.csv"
    p.write_text(
        "id,title,primary,secondary,reason,labeller\n"
        "a,A,nas,edge_systems,searched net for phones,test\n"
        "b,B,quantization,,int8,test\n"
        "c,C,none,,optimizer,test\n",
        encoding="utf-8",
    )
    return load_labels(p)


def test_three_paper_sample(three):
    assert three["a"].families == {"nas", "edge_systems"} and three["c"].families == frozenset()
    # a: one label missing; b: right + one spurious; c: off-topic and nothing predicted.
    pred = {"a": ["nas"], "b": ["quantization", "distillation"], "c": []}
    s = score(pred, three)
    assert (s.n_papers, s.exact, s.lenient) == (3, 1, 2)
    assert (s.tp, s.n_predicted, s.n_gold) == (2, 3, 3)
    assert s.precision == pytest.approx(200 / 3) and s.recall == pytest.approx(200 / 3)
    assert (s.primary_right, s.primary_n) == (2, 2)
    fam = s.per_family.set_index("family")
    assert fam.loc["distillation", ["gold", "predicted", "right"]].tolist() == [0, 1, 0]
    assert math.isnan(fam.loc["distillation", "recall %"]) and fam.loc["distillation", "precision %"] == 0.0
    assert fam.loc["edge_systems", "recall %"] == 0.0 and "mixture_of_experts" not in fam.index
    err = errors(pred, three).set_index("id")
    assert err.loc["a", "missing"] == "edge_systems" and err.loc["b", "spurious"] == "distillation"
    assert "c" not in err.index


def test_all_right_and_explicit_primary(three):
    pred = {"a": ["edge_systems", "nas"], "b": ["quantization"], "c": []}
    s = score(pred, three, primary={"a": "edge_systems", "b": "quantization", "c": None})
    assert (s.exact, s.lenient, s.precision, s.recall) == (3, 3, 100.0, 100.0)
    assert (s.primary_right, s.primary_n) == (2, 3)  # a's primary is nas, not edge_systems


def test_a_tag_on_an_off_topic_paper_is_wrong(three):
    s = score({"a": ["nas", "edge_systems"], "b": ["quantization"], "c": ["nas"]}, three)
    assert (s.exact, s.lenient, s.tp, s.n_predicted) == (2, 2, 3, 4)


def test_missing_prediction_and_bad_labels(three, tmp_path):
    with pytest.raises(KeyError, match="'c'"):
        score({"a": [], "b": []}, three)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,primary,secondary\nx,mobile_cnns,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="mobile_cnns"):
        load_labels(bad)
    bad.write_text("id,primary,secondary\nx,none,nas\n", encoding="utf-8")
    with pytest.raises(ValueError, match="none"):
        load_labels(bad)


def test_committed_sample_is_valid():
    labels = load_labels(LABELLED_SAMPLE_PATH)
    assert len(labels) >= 80
    assert all(isinstance(v, Label) for v in labels.values())
    import csv

    rows = list(csv.DictReader(open(LABELLED_SAMPLE_PATH, encoding="utf-8")))
    assert all(r["reason"].strip() and r["labeller"].strip() for r in rows)


def test_agreement_of_two_labellers(three, tmp_path):
    p = tmp_path / "second.csv"
    p.write_text(
        "id,title,primary,secondary,reason,labeller\n"
        "a,A,edge_systems,nas,,second\n"  # same set, other primary
        "b,B,quantization,distillation,,second\n"  # one extra label
        "c,C,none,,,second\n",
        encoding="utf-8",
    )
    s = agreement(three, load_labels(p))
    assert (s.exact, s.tp, s.n_predicted, s.n_gold) == (2, 3, 4, 3)
    assert (s.primary_right, s.primary_n) == (2, 3)  # a's primary differs
    with pytest.raises(ValueError, match="different papers"):
        agreement(three, {"a": three["a"]})


def test_blind_samples_label_the_same_committed_draw():
    """The blind sample and its second labelling cover the 80 ids drawn with seed 20261201 (README)."""
    from _helpers import committed_draw

    folder = LABELLED_SAMPLE_PATH.parent
    draw = committed_draw(20261201, ["precision_sample.csv", "labelled_sample.csv", "labelled_sample_fresh.csv"])
    first = load_labels(folder / "labelled_sample_blind.csv")
    second = load_labels(folder / "labelled_sample_blind_second.csv")
    assert sorted(first) == draw and sorted(second) == draw
    assert agreement(first, second).exact >= 60  # measured 72/80 on 2026-11-29
