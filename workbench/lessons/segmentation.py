"""Verdict and takeaways of the ``segmentation`` notebook.

Claim: on the same MobileNetV3 backbone, the LR-ASPP head is faster than the heavier DeepLabV3
ASPP head at a real input size (512 x 1024) at similar mIoU on the mosaics.

Rule (:func:`conclude`), two parts combined by :func:`~workbench.lessons.verdicts.combine_parts`:

* *speed*: holds when LR-ASPP's interleaved latency at the real size is at most
  :data:`FASTER_RATIO` of the ASPP head's, fails otherwise;
* *accuracy*: holds when LR-ASPP's mIoU is at least the ASPP head's minus :data:`SIMILAR_MIOU`;
  fails otherwise; untestable when the best mIoU is below :data:`MIN_MIOU` (training too short
  to rank heads).

Fewer than :data:`MIN_STEPS` training steps make the verdict inconclusive.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .verdicts import Lesson, combine_parts

CLAIM = (
    "On the same MobileNetV3 backbone, the LR-ASPP head is faster than the heavier DeepLabV3 ASPP head at a real "
    "input size (512 x 1024), at similar mIoU on the mosaics."
)
#: LR-ASPP must take at most this fraction of the ASPP head's latency to count as faster.
FASTER_RATIO = 0.85
#: "similar mIoU": LR-ASPP at most this far below the ASPP head (mIoU as a fraction).
SIMILAR_MIOU = 0.03
#: best mIoU below this: the heads are not trained enough to be ranked.
MIN_MIOU = 0.3
#: fewer optimizer steps than this: the mIoU says nothing about the heads.
MIN_STEPS = 50


def variants(width: float, *, backbone: str = "mobilenetv3_small_100", size: int = 96, aspp_channels: int = 128) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{label: (registry name, create_model kwargs)}`` of the three mosaic segmenters.

    LR-ASPP and the ASPP head share the backbone and width; the ASPP rates are 1, 2, 3 because the
    stride-16 map of a 96 px canvas is 6 x 6 (rates 12-36 would only see padding). The U-Net starts
    with a stride-2 conv (its full-resolution levels would cost ~4x the MACs).
    """
    if not 0 < width <= 1.5:
        raise ValueError(f"width must be in (0, 1.5], got {width}")
    common = {"backbone": backbone, "width_mult": width, "image_size": size}
    return {
        "lraspp": ("lraspp_mobilenetv3", dict(common)),
        "aspp": ("deeplabv3_mobilenetv3", {**common, "channels": aspp_channels, "rates": (1, 2, 3)}),
        "unet": ("unet_small", {"widths": (8, 16, 32, 64), "stem_stride": 2, "image_size": size}),
    }


def conclude(table: pd.DataFrame, real: pd.DataFrame, *, steps: int, seeds: int = 1) -> Lesson:
    """The segmentation verdict and takeaways.

    Args:
        table: mosaic segmenters, one row each: ``name`` ("lraspp", "aspp", "unet"), ``params, macs,
            miou, latency_ratio``.
        real: the heads at the real size: ``name`` ("LR-ASPP", "ASPP (DeepLabV3 head)", ...),
            ``macs, latency_ratio`` (interleaved, one run).
        steps: optimizer steps per model; seeds: training seeds.

    Raises:
        KeyError: a required row is missing (naming the rows given).
    """
    rows = {n: r for n, r in table.set_index("name").iterrows()}
    real_rows = {n: r for n, r in real.set_index("name").iterrows()}
    for need, have in (("lraspp", rows), ("aspp", rows), ("LR-ASPP", real_rows), ("ASPP (DeepLabV3 head)", real_rows)):
        if need not in have:
            raise KeyError(f"row {need!r} missing; rows given: {', '.join(map(str, have))}")
    lr, aspp = rows["lraspp"], rows["aspp"]
    ratio = float(real_rows["LR-ASPP"]["latency_ratio"] / real_rows["ASPP (DeepLabV3 head)"]["latency_ratio"])
    speed = "holds" if ratio <= FASTER_RATIO else "fails"
    best = float(table["miou"].max())
    gap = float(lr["miou"] - aspp["miou"])
    if best < MIN_MIOU:
        acc = "untestable"
        why_acc = f"accuracy untestable: best mIoU {best:.2f} < {MIN_MIOU:.2f} (training too short)"
    else:
        acc = "holds" if gap >= -SIMILAR_MIOU else "fails"
        why_acc = f"mIoU LR-ASPP {lr['miou']:.3f} vs ASPP {aspp['miou']:.3f} ({gap:+.3f}; similar = within {SIMILAR_MIOU})"
    short = steps < MIN_STEPS
    verdict = combine_parts([speed, acc], inconclusive=short)
    why_speed = f"LR-ASPP latency {ratio:.2f}x the ASPP head's at the real size (faster = <= {FASTER_RATIO})"
    evidence = (f"Training too short ({steps} steps < {MIN_STEPS}); " if short else "") + f"{why_speed}; {why_acc}."
    takeaways = [
        f"{n}: {r['params'] / 1e6:.3f} M params, {r['macs'] / 1e6:.1f} M MACs, mIoU {r['miou']:.3f}, latency x{r['latency_ratio']:.2f} of {table['name'].iloc[0]} (mosaic size)."
        for n, r in rows.items()
    ]
    real_macs = {n: float(r["macs"]) for n, r in real_rows.items()}
    takeaways.append(
        "At the real size: " + "; ".join(f"{n} {m / 1e9:.2f} G MACs, latency x{float(real_rows[n]['latency_ratio']):.2f}" for n, m in real_macs.items()) + "."
    )
    mac_ratio = real_macs["LR-ASPP"] / real_macs["ASPP (DeepLabV3 head)"]
    takeaways.append(
        f"LR-ASPP has {mac_ratio:.2f}x the ASPP head's MACs and {ratio:.2f}x its latency: "
        + ("latency follows MACs roughly." if abs(ratio - mac_ratio) < 0.15 else "latency does not follow MACs closely.")
    )
    if "unet" in rows:
        u = rows["unet"]
        takeaways.append(f"The small U-Net: mIoU {u['miou']:.3f} at {u['macs'] / lr['macs']:.1f}x LR-ASPP's MACs on the mosaics.")
    takeaways.append(f"{steps} training steps, {seeds} seed{'s' if seeds > 1 else ''}" + (": 1 seed, no spread." if seeds < 2 else "."))
    key_numbers: dict[str, Any] = {
        "LR-ASPP / ASPP latency (real size)": {"value": round(ratio, 2), "unit": "x"},
        "mIoU LR-ASPP": round(float(lr["miou"]), 3),
        "mIoU ASPP": round(float(aspp["miou"]), 3),
        "training": "too short: mIoU ignored" if short or acc == "untestable" else f"{steps} steps, {seeds} seed(s)",
    }
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)


def results_table(profile: pd.DataFrame, scores: dict, histories: dict | None = None) -> pd.DataFrame:
    """``profile`` (``wb.profile_many``) with ``miou`` and ``pixel_accuracy`` per model and training time."""
    t = profile[[c for c in ("name", "params", "macs", "latency_ms", "latency_ratio", "latency_ratio_q1", "latency_ratio_q3") if c in profile]].copy()
    t["miou"] = [scores[n]["miou"] for n in t["name"]]
    t["pixel_accuracy"] = [scores[n]["pixel_accuracy"] for n in t["name"]]
    if histories:
        t["train_seconds"] = [histories[n]["seconds"] for n in t["name"]]
    return t
