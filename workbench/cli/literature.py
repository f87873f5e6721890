"""``workbench literature``: rebuild the committed catalogue, write the literature page, print coverage."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import UsageError


def _build(args: argparse.Namespace) -> int:
    from ..literature import build_catalogue, dumps_catalogue
    from ..literature.labels import build_labels, dumps_labels

    labels_text = dumps_labels(build_labels())
    labels_out, out = Path(args.labels), Path(args.out)
    if not args.check:  # the catalogue is built from the labels file, so it is written first
        labels_out.parent.mkdir(parents=True, exist_ok=True)
        labels_out.write_text(labels_text, encoding="utf-8")
        print(f"wrote {labels_out} ({labels_text.count(chr(10)) - 1} curated labels)")
    text = dumps_catalogue(build_catalogue(args.sources, args.overrides, labels_path=labels_out))
    if args.check:
        stale = [p for p, want in ((labels_out, labels_text), (out, text))
                 if not p.exists() or p.read_text(encoding="utf-8") != want]
        for p in stale:
            print(f"{p} is stale: run `workbench literature build`")
        if stale:
            return 1
        print(f"{labels_out} and {out} are up to date ({text.count(chr(10))} papers)")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({text.count(chr(10))} papers)")
    return 0


def _page(args: argparse.Namespace) -> int:
    from ..report.assets import copy_plotly_js
    from ..report.literature_page import build_literature_page

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out must be an .html file, got {str(out)!r}")
    if not Path(args.catalogue).exists():
        raise UsageError(f"no catalogue at {args.catalogue}; run `workbench literature build` first")
    copy_plotly_js(out.parent)
    build_literature_page(out, "plotly.min.js", args.catalogue)
    print(f"wrote {out} (+ plotly.min.js)")
    return 0


def _coverage(args: argparse.Namespace) -> int:
    from ..literature.catalogue import load_catalogue
    from ..report.coverage import compute_coverage, coverage_by_family

    if not Path(args.catalogue).exists():
        raise UsageError(f"no catalogue at {args.catalogue}; run `workbench literature build` first")
    records = load_catalogue(args.catalogue)
    cov = compute_coverage(records)
    (c, n), (oc, on) = cov.core, cov.on_topic
    print(f"core papers covered by a notebook: {c}/{n} ({cov.core_pct:.0f} %); "
          f"on-topic (core + peripheral): {oc}/{on} ({cov.on_topic_pct:.0f} %); "
          f"{len(cov.techniques)} technique notebooks")
    fam = coverage_by_family(records)
    fam["techniques"] = fam["techniques"].replace("", "-")
    print(fam.to_string(index=False))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..literature.catalogue import CATALOGUE_PATH, OVERRIDES_PATH, SOURCES_DIR
    from ..literature.labels import LABELS_PATH

    p = subparsers.add_parser("literature", help="seed-literature catalogue and page")
    sub = p.add_subparsers(dest="literature_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="merge the curated labels and parse the result pages into datasets/literature/catalogue.jsonl")
    b.add_argument("--check", action="store_true", help="exit 1 if the committed catalogue is stale; write nothing")
    b.add_argument("--sources", default=str(SOURCES_DIR), help="directory of result pages (.txt)")
    b.add_argument("--overrides", default=str(OVERRIDES_PATH), help="overrides CSV")
    b.add_argument("--out", default=str(CATALOGUE_PATH), help="catalogue JSONL to write / check")
    b.add_argument("--labels", default=str(LABELS_PATH),
                   help="curated labels CSV to write / check (the merge of the labelling files)")
    b.set_defaults(func=_build)
    g = sub.add_parser("page", help="write the standalone literature HTML page (+ plotly.min.js beside it)")
    g.add_argument("--out", default="reports/literature.html", help="HTML file to write")
    g.add_argument("--catalogue", default=str(CATALOGUE_PATH), help="catalogue JSONL to read")
    g.set_defaults(func=_page)
    c = sub.add_parser("coverage", help="how many seed papers the registered notebooks cover, per family")
    c.add_argument("--catalogue", default=str(CATALOGUE_PATH), help="catalogue JSONL to read")
    c.set_defaults(func=_coverage)
