"""Verdict and takeaways of the ``detection`` notebook.

Claim: compact single-shot detectors (well under 1 M parameters) reach a useful mAP@0.5 on the
mosaics within CPU-minutes of training; input resolution is a cost knob with MACs growing as its
square and mAP falling below the training resolution; NMS is a small share of the CPU pipeline.

Rule (:func:`conclude`), three parts combined by
:func:`~workbench.lessons.verdicts.combine_parts`:

* *useful*: holds when the best detector's mAP@0.5 >= :data:`USEFUL_MAP50`, fails otherwise;
* *resolution*: holds when the sweep's MACs grow within :data:`MACS_SQUARE_TOL` of
  $(r/r_0)^2$ and mAP@0.5 at the training resolution beats the smallest resolution's by more
  than :data:`MAP_MARGIN`; fails otherwise; untestable with fewer than 2 sizes;
* *nms*: holds when every detector's median NMS share is below :data:`NMS_SMALL_SHARE`.

Training shorter than :data:`MIN_STEPS` steps makes the verdict inconclusive ("training too short").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .verdicts import Lesson, combine_parts

CLAIM = (
    "Compact single-shot detectors (well under 1 M parameters) reach a useful mAP@0.5 on the mosaics within "
    "CPU-minutes of training; input resolution trades MACs (growing as its square) against mAP; and NMS is a "
    "small share of the CPU pipeline."
)
#: mAP@0.5 a detector must reach to be "useful" on the mosaics (10 classes, 1-4 items).
USEFUL_MAP50 = 0.5
#: MACs must grow within this relative tolerance of (r / r0)^2 across the sweep.
MACS_SQUARE_TOL = 0.25
#: mAP@0.5 points (as a fraction) the training resolution must gain over the smallest swept size.
MAP_MARGIN = 0.05
#: NMS share of forward + decode + NMS below which NMS counts as "small".
NMS_SMALL_SHARE = 0.10
#: fewer optimizer steps than this: the mAP says nothing about the architectures.
MIN_STEPS = 100

#: Published numbers quoted from the seed abstracts (exact wording in the notebook).
PAPER_NUMBERS = {
    "TinyissimoYOLO parameters": 422_000,
    "TinyissimoYOLO classes demonstrated": 3,
    "MobileNetV3-Large detection speed-up vs MobileNetV2 (COCO, SSDLite)": 0.25,
}


def variants(width: float, *, backbone: str = "mobilenetv3_small_100", size: int = 96, head_channels: int = 32) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{label: (registry name, create_model kwargs)}`` of the three mosaic detectors.

    SSDLite and the anchor-free head share the backbone and width; TinyissimoYOLO is the paper's
    plain-conv design at the mosaic size, grayscale, 10 classes.
    """
    if not 0 < width <= 1.5:
        raise ValueError(f"width must be in (0, 1.5], got {width}")
    common = {"backbone": backbone, "width_mult": width, "image_size": size}
    return {
        "ssdlite": ("ssdlite_mobilenetv3", dict(common)),
        "nanodet": ("nanodet_mobilenetv3", {**common, "head_channels": head_channels}),
        "tinyissimo": ("tinyissimo_yolo", {"in_chans": 1, "num_classes": 10, "image_size": size}),
    }


def results_table(profile: pd.DataFrame, scores: Mapping[str, Mapping[str, float]], nms: Mapping[str, Mapping[str, float]],
                  histories: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:  # fmt: skip
    """One row per detector: the profile's cost columns, mAP, NMS timing and training time.

    Args:
        profile: ``wb.profile_many`` of the deploy-form detectors (``name, params, macs, latency_ratio, ...``).
        scores: name -> ``wb.measure.evaluate_detector`` result.
        nms: name -> ``wb.measure.pipeline_latency`` result.
        histories: name -> training history (``seconds``, ``images_per_s``), optional.
    """
    cols = [c for c in ("name", "params", "macs", "latency_ms", "latency_ratio", "latency_ratio_q1", "latency_ratio_q3") if c in profile]
    t = profile[cols].copy()
    for key in ("map_50", "map", "map_75", "detections_per_image", "candidates_per_image"):
        t[key] = [scores[n][key] for n in t["name"]]
    for key in ("forward_ms", "decode_ms", "nms_ms", "nms_share"):
        t[key] = [nms[n][key] for n in t["name"]]
    if histories:
        t["train_seconds"] = [histories[n]["seconds"] for n in t["name"]]
        t["train_images_per_s"] = [histories[n]["images_per_s"] for n in t["name"]]
    return t


def sweep_table(profile: pd.DataFrame, scores: Mapping[int, Mapping[str, float]]) -> pd.DataFrame:
    """Resolution sweep: ``profile`` rows named ``"<size> px"`` joined with mAP per size, with MAC ratios vs (r/r0)^2."""
    t = profile[[c for c in ("name", "params", "macs", "latency_ratio") if c in profile]].copy()
    t.insert(1, "size", [int(n.split()[0]) for n in t["name"]])
    t["map_50"] = [scores[s]["map_50"] for s in t["size"]]
    t["map"] = [scores[s]["map"] for s in t["size"]]
    t["macs_ratio"] = t["macs"] / t["macs"].iloc[0]
    t["square_ratio"] = (t["size"] / t["size"].iloc[0]) ** 2
    return t


def _resolution_part(sweep: pd.DataFrame, train_size: int) -> tuple[str, str]:
    if len(sweep) < 2 or train_size not in set(sweep["size"]):
        return "untestable", "resolution untestable: the sweep needs >= 2 sizes including the training size"
    s = sweep.sort_values("size")
    r0, m0 = s["size"].iloc[0], s["macs"].iloc[0]
    expected = (s["size"] / r0) ** 2
    dev = float(((s["macs"] / m0) / expected - 1).abs().max())
    at_train = float(s.loc[s["size"] == train_size, "map_50"].iloc[0])
    lowest = float(s["map_50"].iloc[0])
    gain = at_train - lowest
    ok = dev <= MACS_SQUARE_TOL and gain > MAP_MARGIN
    why = (
        f"MACs follow (r/r0)^2 within {100 * dev:.0f}% (tolerance {100 * MACS_SQUARE_TOL:.0f}%); mAP@0.5 "
        f"{lowest:.2f} at {r0} px vs {at_train:.2f} at the training {train_size} px ({gain:+.2f})"
    )
    return ("holds" if ok else "fails"), why


def conclude(table: pd.DataFrame, sweep: pd.DataFrame, *, train_size: int, steps: int, seeds: int = 1) -> Lesson:
    """The detection verdict and takeaways.

    Args:
        table: one row per detector: ``name, params, macs, map_50, map, latency_ratio, nms_share``
            (``latency_ratio`` interleaved, deploy form, relative to the first row).
        sweep: one row per input size of one detector: ``size, macs, map_50, map`` (and optionally
            ``latency_ratio``).
        train_size: the canvas size the detectors were trained at.
        steps: optimizer steps per detector; seeds: training seeds per detector.

    Raises:
        ValueError: an empty ``table``.
    """
    if table.empty:
        raise ValueError("conclude needs at least one detector row")
    short = steps < MIN_STEPS
    best = table.loc[table["map_50"].idxmax()]
    useful = "holds" if best["map_50"] >= USEFUL_MAP50 else "fails"
    why_useful = f"best mAP@0.5 {best['map_50']:.2f} ({best['name']}, {best['params'] / 1e6:.2f} M params) vs the {USEFUL_MAP50:.2f} bar"
    res, why_res = _resolution_part(sweep, train_size)
    worst_nms = table.loc[table["nms_share"].idxmax()]
    nms = "holds" if worst_nms["nms_share"] < NMS_SMALL_SHARE else "fails"
    why_nms = f"largest NMS share {100 * worst_nms['nms_share']:.1f}% ({worst_nms['name']}) vs {100 * NMS_SMALL_SHARE:.0f}%"
    verdict = combine_parts([useful, res, nms], inconclusive=short)
    evidence = ("Training too short (" + f"{steps} steps < {MIN_STEPS}); " if short else "") + f"{why_useful}; {why_res}; {why_nms}."

    takeaways = []
    for _, r in table.iterrows():
        takeaways.append(
            f"{r['name']}: {r['params'] / 1e6:.2f} M params, {r['macs'] / 1e6:.1f} M MACs, mAP@0.5 {r['map_50']:.2f}, "
            f"mAP@[.5:.95] {r['map']:.2f}, latency x{r['latency_ratio']:.2f} of {table['name'].iloc[0]}, NMS {100 * r['nms_share']:.1f}% of the pipeline."
        )
    by_macs = table.sort_values("macs")["name"].tolist()
    by_map = table.sort_values("map_50")["name"].tolist()
    takeaways.append(
        "mAP ranks the detectors as MACs do (cheapest = least accurate)." if by_macs == by_map else
        f"mAP does not rank the detectors as MACs do: by MACs (ascending) {', '.join(by_macs)}; by mAP@0.5 (ascending) {', '.join(by_map)}."
    )  # fmt: skip
    if useful == "fails":
        takeaways.append(
            f"After {steps} steps the best mAP@0.5 ({best['map_50']:.2f}) is below the {USEFUL_MAP50:.2f} bar: this training budget "
            "is too short for a useful detector on the mosaics; the loss curves printed under Train show whether more steps would help."
        )
    takeaways.append(f"Resolution sweep: {why_res}.")
    takeaways.append(
        f"{steps} training steps, {seeds} seed{'s' if seeds > 1 else ''}"
        + (": 1 seed, no spread -- differences of a few mAP points are not significant." if seeds < 2 else ".")
    )
    key_numbers: dict[str, Any] = {
        "best mAP@0.5": {"value": round(float(best["map_50"]), 3), "unit": str(best["name"])},
        "best mAP@[.5:.95]": round(float(table["map"].max()), 3),
        "largest NMS share": {"value": round(100 * float(worst_nms["nms_share"]), 1), "unit": f"% ({worst_nms['name']})"},
        "training": "too short: mAP ignored" if short else f"{steps} steps, {seeds} seed(s)"
        + ("; mAP below the useful bar: training too short" if useful == "fails" else ""),
    }
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)


def bank_entries(params: Mapping[str, Any]) -> list:
    """No classification-bank entries: the detectors train through ``wb.bank.cached_train`` in the notebook."""
    return []
