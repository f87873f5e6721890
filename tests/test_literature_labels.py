"""Curated family labels (issue 18, third round): two labellers, an adjudicator, one label per paper."""

from __future__ import annotations

import csv

import pytest
from _helpers import committed_draw

from workbench.literature.catalogue import DATA_DIR, build_catalogue, load_catalogue
from workbench.literature.labels import (
    ADJUDICATED,
    AGREED,
    LABELS_PATH,
    build_labels,
    dumps_labels,
    load_curated,
    load_labels,
    merge_labels,
    read_rows,
)
from workbench.literature.precision import agreement

HEADER = "id,title,primary,secondary,reason,labeller\n"


def _write(tmp_path, name, rows):
    p = tmp_path / name
    p.write_text(HEADER + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return p


@pytest.fixture
def files(tmp_path):
    first = _write(tmp_path, "first.csv", ["a,A,nas,edge_systems,searched,1", "b,B,quantization,,int8,1",
                                           "c,C,none,,optimizer,1", "d,D,distillation,pruning_sparsity,kd,1"])
    second = _write(tmp_path, "second.csv", ["a,A,nas,edge_systems,search,2", "b,B,quantization,distillation,qat+kd,2",
                                             "c,C,none,,off,2", "d,D,pruning_sparsity,distillation,prune,2"])
    adj = _write(tmp_path, "adj.csv", ["b,B,quantization,,kd is a training detail,3", "d,D,distillation,pruning_sparsity,kd first,3"])
    return first, second, adj


def test_merge_takes_agreements_from_the_first_labeller_and_disagreements_from_the_adjudicator(files):
    first, second, adj = files
    rows = {r["id"]: r for r in merge_labels(read_rows([first]), read_rows([second]), read_rows([adj]))}
    assert list(rows) == ["a", "b", "c", "d"]
    assert rows["a"]["decided_by"] == AGREED and rows["a"]["reason"] == "searched"
    assert (rows["b"]["decided_by"], rows["b"]["secondary"]) == (ADJUDICATED, "")
    # d: same set, different primary -> adjudicated too
    assert (rows["d"]["decided_by"], rows["d"]["primary"]) == (ADJUDICATED, "distillation")
    assert rows["c"]["primary"] == "none" and rows["c"]["secondary"] == ""


def test_merge_refuses_gaps_and_stray_adjudications(files, tmp_path):
    first, second, adj = files
    f, s, a = read_rows([first]), read_rows([second]), read_rows([adj])
    with pytest.raises(ValueError, match="without an adjudication: d"):
        merge_labels(f, s, {"b": a["b"]})
    with pytest.raises(ValueError, match="agree on.*: a"):
        merge_labels(f, s, a | {"a": f["a"]})
    with pytest.raises(ValueError, match="one labeller only: c"):
        merge_labels(f, {k: v for k, v in s.items() if k != "c"}, a)


def test_labelling_files_are_checked(tmp_path):
    with pytest.raises(ValueError, match="duplicate id 'a'"):
        read_rows([_write(tmp_path, "x.csv", ["a,A,nas,,r,1"]), _write(tmp_path, "y.csv", ["a,A,nas,,r,1"])])
    with pytest.raises(ValueError, match="empty primary"):
        read_rows([_write(tmp_path, "e.csv", ["a,A,,nas,r,1"])])
    with pytest.raises(ValueError, match="unknown family 'mobilenet'.*valid: none, mobile_cnn"):
        read_rows([_write(tmp_path, "u.csv", ["a,A,mobilenet,,r,1"])])


def test_committed_labels_are_the_merge_of_the_labelling_files():
    assert LABELS_PATH.read_text(encoding="utf-8") == dumps_labels(build_labels())
    catalogue = load_catalogue()
    labels = load_curated()
    assert set(labels) == {r["id"] for r in catalogue}  # every seed paper read twice
    for r in catalogue:
        lab = labels[r["id"]]
        assert set(r["families"]) == lab.families and r["label_source"] == "curated", r["id"]
        assert r["primary_family"] == (None if lab.primary == "none" else lab.primary)
        assert (r["relevance"] == "off_topic") == (lab.primary == "none")


def test_a_paper_without_a_curated_label_falls_back_to_the_rules(tmp_path):
    keep = dict(list(csv.DictReader(open(LABELS_PATH, encoding="utf-8")))[0])
    p = tmp_path / "labels.csv"
    p.write_text(dumps_labels([keep]), encoding="utf-8")
    recs = {r["id"]: r for r in build_catalogue(labels_path=p)}
    assert recs[keep["id"]]["label_source"] == "curated"
    others = [r for r in recs.values() if r["id"] != keep["id"]]
    assert all(r["label_source"] == "rules" for r in others)
    # without labels the overrides still apply: SparK (an override to off-topic) has no family
    spark = recs["designing-bert-for-convolutional-networks-sparse-fdeb0e"]
    assert spark["families"] == [] and spark["relevance"] == "off_topic"
    p.write_text(dumps_labels([keep | {"id": "no-such-paper"}]), encoding="utf-8")
    with pytest.raises(ValueError, match="labels.csv names unknown paper ids: no-such-paper"):
        build_catalogue(labels_path=p)


def test_measurement_sample_is_the_committed_draw_and_was_labelled_by_a_third_reader():
    """80 ids drawn with seed 20261202 before the new labels existed (README, *Curated labels*)."""
    draw = committed_draw(20261202, ["labelled_sample.csv", "labelled_sample_fresh.csv", "labelled_sample_blind.csv"])
    measure = load_labels(DATA_DIR / "labelled_sample_measure.csv")
    assert sorted(measure) == draw
    rows = read_rows([DATA_DIR / "labelled_sample_measure.csv"])
    assert all(r["labeller"].startswith("measurement labeller") for r in rows.values())
    # measured once on 2026-11-30: curated labels agree with the third reader on 71/80 papers
    curated = load_curated()
    s = agreement(measure, {i: curated[i] for i in measure})
    assert s.exact >= 65 and s.precision >= 90.0
