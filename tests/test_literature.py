"""Literature catalogue: parsing, de-duplication, tagging, claims, coverage, page, determinism."""

from __future__ import annotations

import csv
import json

import pytest

from workbench.cli import main as cli_main
from workbench.literature import (
    CATALOGUE_PATH,
    FAMILY_SLUGS,
    SOURCES_DIR,
    TASK_SLUGS,
    build_catalogue,
    dedupe,
    dumps_catalogue,
    extract_claims,
    load_catalogue,
    parse_sources,
)
from workbench.literature.catalogue import Override
from workbench.report.coverage import compute_coverage
from workbench.report.literature_page import render_literature_page
from workbench.report.techniques import TECHNIQUES, Technique


@pytest.fixture(scope="module")
def raw():
    return parse_sources(SOURCES_DIR)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def by_title(catalogue):
    return {r["title"]: r for r in catalogue}


def test_counts(raw):
    per_file = {}
    for e in raw:
        per_file[e.source[:3]] = per_file.get(e.source[:3], 0) + 1
    assert per_file == {"000": 279, "001": 48, "002": 70, "003": 77, "004": 76}
    assert len(raw) == 550
    assert len(dedupe(raw)) == 497


def test_committed_catalogue_matches_sources(catalogue):
    assert len(catalogue) == 497
    assert len({r["id"] for r in catalogue}) == 497
    assert [r["id"] for r in catalogue] == sorted(r["id"] for r in catalogue)


def test_line_layout_first_and_last(raw):
    first = [e for e in raw if e.source.startswith("000")]
    assert first[0].title == "Lightweight Image Super-Resolution with Adaptive Weighted Learning Network"
    assert first[0].abstract.startswith("Deep learning has been successfully applied to the single-image")
    assert first[0].abstract.endswith("https://github.com/ChaofWang/AWSRN")
    assert first[1].title == "PEPSI++: Fast and Lightweight Network for Image Inpainting"
    assert first[-1].title == "Routers in Vision Mixture of Experts: An Empirical Study"
    assert all(e.n_authors is None and e.date_text is None for e in first)


def test_block_layout_titles(raw):
    firsts = {}
    for e in raw:
        firsts.setdefault(e.source[:3], e)
    assert firsts["002"].title == "Region-Adaptive Transform with Segmentation Prior for Image Compression"
    assert firsts["003"].title == "LeYOLO, New Scalable and Efficient CNN Architecture for Object Detection"
    assert firsts["004"].title == "Searching for MobileNetV3"
    assert firsts["004"].abstract.startswith("We present the next generation of MobileNets")
    assert [e for e in raw if e.source.startswith("003")][-1].title == "SSD: Single Shot MultiBox Detector"
    # No chrome leaked into titles or abstracts.
    chrome = ("Subscribe", "Daily Papers", "byAK and the research community", "Get trending papers", "new")
    assert not [e for e in raw if e.title in chrome or e.abstract in chrome or e.title.startswith("Subscribe")]


@pytest.mark.parametrize(
    "title, n_authors, date, date_text, upvotes",
    [
        ("LLMind 2.0: Distributed IoT Automation with Natural Language M2M Communication and Lightweight LLM Agents",
         6, "2025-08-19", "Aug 19, 2025", None),
        ("LSNet: See Large, Focus Small", 5, "2025-03-29", "Mar 29, 2025", 3),
        ("EMOv2: Pushing 5M Vision Model Frontier", 9, "2024-12-09", "Dec 9, 2024", 2),
        ("Learning with Boolean threshold functions", 2, None, "Feb 19", None),
        ("DeepWeightFlow: Re-Basined Flow Matching for Generating Neural Network Weights", 6, None, "Jan 8", None),
        ("Meta Pruning via Graph Metanetworks : A Meta Learning Framework for Network Pruning",
         3, "2025-05-24", "May 24, 2025", None),
    ],
)
def test_metadata_of_001_entries(by_title, title, n_authors, date, date_text, upvotes):
    r = by_title[title]
    assert (r["n_authors"], r["date"], r["date_text"], r["upvotes"]) == (n_authors, date, date_text, upvotes)


def test_dedupe_keeps_all_sources(by_title):
    r = by_title["Once-for-All: Train One Network and Specialize it for Efficient Deployment"]
    assert r["sources"] == ["000_6fdbed114657ddf9.txt", "001_f663c4153bf7acba.txt",
                            "003_1c22bcac4e83dbbb.txt", "004_45c869bc6b9b0440.txt"]
    # Metadata comes from the 001 copy even when the 000 copy is first.
    assert r["n_authors"] == 5 and r["date"] == "2019-08-26"
    yolo = by_title["YOLOv9: Learning What You Want to Learn Using Programmable Gradient Information"]
    assert len(yolo["sources"]) == 3 and yolo["upvotes"] == 3


def test_claims_fbnet_sentence():
    claims = extract_claims("FBNet-B achieves 74.1% top-1 accuracy on ImageNet with 295M FLOPs and 23.1 ms "
                            "latency on a Samsung S8 phone, 2.4x smaller and 1.5x faster than MobileNetV2-1.3.")
    got = [(c.kind, c.metric, c.value, c.unit) for c in claims]
    assert got == [
        ("accuracy", "top-1", 74.1, "%"),
        ("compute", "FLOPs", 295.0, "M"),
        ("latency", "latency", 23.1, "ms"),
        ("speedup", "smaller", 2.4, "x"),
        ("speedup", "faster", 1.5, "x"),
    ]
    assert "295M FLOPs" in claims[1].text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("LeYOLO-Small achieves a competitive mAP score of 38.2% on the COCOval with just 4.5 FLOP(G)",
         [("accuracy", "mAP", 38.2, "%", 38.2), ("compute", "FLOPs", 4.5, "G", 4500.0)]),
        ("with only 272K parameters", [("params", "params", 272.0, "K", 0.272)]),
        ("It reaches 32.1 dB PSNR with 300M MAdds", [("accuracy", "PSNR", 32.1, "dB", 32.1),
                                                      ("compute", "MAdds", 300.0, "M", 300.0)]),
        ("runs at 58 FPS using 0.5MB memory", [("throughput", "throughput", 58.0, "FPS", 58.0),
                                               ("memory", "memory", 0.5, "MB", 0.5)]),
        ("+1.3% ImageNet top-1 accuracy", [("accuracy", "top-1 (gain)", 1.3, "%", 1.3)]),
        ("3.6% on the VOC 2007 mAP", []),  # a year is not a score
        ("YOLOv9 uses 3x3 convolutions", []),  # names and kernel sizes are not claims
    ],
)
def test_claims_patterns(text, expected):
    assert [(c.kind, c.metric, c.value, c.unit, c.norm) for c in extract_claims(text)] == expected


def test_every_family_and_task_is_valid_and_used(catalogue):
    used = {f for r in catalogue for f in r["families"]}
    assert used == set(FAMILY_SLUGS)
    assert {r["task"] for r in catalogue} <= set(TASK_SLUGS)
    for r in catalogue:
        assert (r["relevance"] == "off_topic") == (not r["families"]), r["id"]


def test_tagging_spot_checks(by_title):
    assert "reparameterization" in by_title["MobileOne: An Improved One millisecond Mobile Backbone"]["families"]
    assert "nas" in by_title["ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware"]["families"]
    assert "channel_attention" in by_title[
        "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks"]["families"]
    assert by_title["GNNPipe: Scaling Deep GNN Training with Pipelined Model Parallelism"]["relevance"] == "off_topic"


def test_overrides_file_is_valid_and_applied(by_title):
    from workbench.literature.catalogue import OVERRIDES_PATH, load_overrides

    overrides = load_overrides(OVERRIDES_PATH)
    assert overrides and all(o.reason for o in overrides.values())
    applied = {r["id"] for r in by_title.values() if r["override"]}
    assert applied == set(overrides)
    assert Override("x", "+nas;-mobile_cnn", "", "", "r").apply_families(["mobile_cnn", "quantization"]) == [
        "nas", "quantization"]
    with pytest.raises(ValueError, match="unknown family"):
        Override("x", "not_a_family", "", "", "r").apply_families([])


def test_coverage_uses_registry(catalogue):
    cov = compute_coverage(catalogue)
    assert set(cov.techniques) == set(TECHNIQUES.list())
    covered, total = cov.on_topic
    assert total == sum(r["relevance"] != "off_topic" for r in catalogue)
    assert 0 < covered < total
    # A technique covering every family covers every on-topic paper; none covers nothing.
    everything = Technique("all", "all", "", tuple(FAMILY_SLUGS))
    assert compute_coverage(catalogue, [everything]).on_topic_pct == 100.0
    assert compute_coverage(catalogue, []).on_topic[0] == 0


def test_precision_sample_is_judged(catalogue):
    rows = list(csv.DictReader(open(CATALOGUE_PATH.parent / "precision_sample.csv", encoding="utf-8")))
    assert len(rows) >= 60
    ids = {r["id"] for r in catalogue}
    assert all(r["id"] in ids and r["correct"] in ("True", "False") for r in rows)


def test_page_renders(catalogue):
    page = render_literature_page(catalogue, "plotly.min.js")
    assert '<script src="plotly.min.js"></script>' in page
    assert "cdn" not in page.lower().replace("cdna", "")
    assert page.count("<tr id=") == len(catalogue)
    assert "function wbSort" in page and "function wbFilter" in page
    # curated labels: primary in bold, the rules' tags shown where they differ
    differ = next(r for r in catalogue if r["families"] and set(r["rule_families"]) != set(r["families"]))
    row = page[page.index(f"<tr id='{differ['id']}'>"):]
    row = row[: row.index("</tr>")]
    assert f"<b>{differ['primary_family']}</b>" in row and "<div class=small>rules: " in row
    assert "Families: every paper carries a curated label" in page


def test_page_links_papers_to_the_notebooks_testing_them_with_verdicts(catalogue):
    from workbench.report.coverage import tested_by
    from workbench.report.techniques import TECHNIQUES

    tested = tested_by(catalogue)
    fbnet = next(r for r in catalogue if r["title"].startswith("FBNet: Hardware-Aware"))
    assert "latency_prediction" in tested[fbnet["id"]]
    page = render_literature_page(catalogue, "plotly.min.js", verdicts={"latency_prediction": "partly supported"})
    row = page[page.index(f"<tr id='{fbnet['id']}'>"):]
    row = row[: row.index("</tr>")]
    assert "<a href='latency_prediction.html'><b>latency_prediction</b></a>" in row
    assert "<span class='verdict v-part'>partly supported</span>" in row
    assert "href='index.html#card-latency_prediction'" in row
    assert "the to-do list, by family" in page
    # every technique names at least one seed paper the catalogue holds (titles match)
    for slug in TECHNIQUES:
        assert any(slug in v for v in tested.values()), f"{slug} names no paper of the catalogue"


def test_build_is_byte_for_byte_deterministic(tmp_path):
    out = tmp_path / "catalogue.jsonl"
    assert cli_main(["literature", "build", "--out", str(out)]) == 0
    assert out.read_bytes() == CATALOGUE_PATH.read_bytes()
    assert dumps_catalogue(build_catalogue()) == CATALOGUE_PATH.read_text(encoding="utf-8")
    assert cli_main(["literature", "build", "--check"]) == 0
    json.loads(out.read_text(encoding="utf-8").splitlines()[0])


def test_page_command_writes_offline_page(tmp_path):
    out = tmp_path / "lit" / "literature.html"
    assert cli_main(["literature", "page", "--out", str(out)]) == 0
    assert (out.parent / "plotly.min.js").stat().st_size > 1_000_000
    assert cli_main(["literature", "page", "--out", str(tmp_path / "x.txt")]) == 2


def test_coverage_command_prints_the_registry_coverage(capsys, tmp_path):
    from workbench.report.coverage import compute_coverage
    from workbench.report.techniques import TECHNIQUES

    assert cli_main(["literature", "coverage"]) == 0
    out = capsys.readouterr().out
    cov = compute_coverage(load_catalogue())
    assert f"core papers covered by a notebook: {cov.core[0]}/{cov.core[1]}" in out
    assert f"{len(TECHNIQUES)} technique notebooks" in out
    assert "mobile_convs" in out and "quantization" in out  # a covered and a family row
    assert cli_main(["literature", "coverage", "--catalogue", str(tmp_path / "none.jsonl")]) == 2
