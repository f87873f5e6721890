"""Verdict, takeaways and the measuring steps of the ``efficient_sr`` notebook.

Super-resolution nets map an LR image to a ``scale``-times larger one. Their cost at a 720p
output is ``MACs = sum over layers of K^2 C_in C_out H_l W_l``: layers in LR space (ESPCN, XLSR,
CARN-M, IMDN) pay ``H W / s^2`` pixels, layers after the upscale (SRCNN) pay ``H W``.

Rule (:func:`conclude`) on the claim "a net with >= 10x fewer MACs stays within 1 dB of a heavy
one, every trained net beats bicubic, and XLSR's clipped-ReLU output keeps its int8 drop small":

* *floor* holds when every trained net's PSNR-Y beats bicubic's (untestable with no trained net);
* *per MAC* compares the lightest trained net with the heaviest one that has at least
  :data:`MIN_MAC_RATIO` times its MACs: holds when the PSNR gap is below :data:`MAX_GAP_DB`;
  untestable when no such pair exists or the heavy net did not beat bicubic (training too short
  to rank capacity);
* *int8* holds when the clipped XLSR loses at most :data:`MAX_INT8_DROP_DB` after int8
  post-training quantization and no more than the unclipped one; untestable without a backend.

:func:`~workbench.lessons.verdicts.combine_parts` turns the three parts into the verdict.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..bank import cached_train
from ..compress.quantize import quantize as _quantize_fn
from ..data.sr_images import SR_TRAIN_IMAGES, image_to_tensor, sr_eval_set, sr_patches
from ..layers import reparameterize_model
from ..measure import profile_many
from ..models import create_model
from ..models.sr import lr_input_size
from ..train.sr import center_crops, evaluate_sr, train_sr
from .verdicts import Lesson, combine_parts, finite

CLAIM = (
    "An efficient SR net with at least 10x fewer MACs than a heavy one stays within 1 dB of its PSNR-Y, "
    "every trained net beats bicubic, and XLSR's clipped-ReLU output keeps its int8 PSNR drop within 0.1 dB "
    "and no larger than without the clip."
)
MIN_MAC_RATIO = 10.0  # "10x fewer MACs" (the published pairs below are 11-15x apart)
MAX_GAP_DB = 1.0  # published x2 Set5 gaps at 11-15x fewer Mult-Adds: 0.53 dB and 1.00 dB
MAX_INT8_DROP_DB = 0.1  # "quantization robust": below what a viewer or the 8-bit output grid resolves
INT8_TIE_DB = 0.01  # drops closer than this are equal (the spread of re-calibrating on other patches)

#: x2 rows of the published comparison tables (Set5 PSNR-Y in dB, Mult-Adds in G at a 720p
#: output, params in K), as recorded in datasets/claims/sr.csv with their sources.
PUBLISHED_X2 = (
    {"model": "SRCNN 9-5-5", "zoo": "srcnn_955", "params_k": 57, "mult_adds_g": 52.7, "set5_psnr": 36.66, "source": "CARN (ECCV 2018) table"},
    {"model": "FSRCNN", "zoo": "fsrcnn", "params_k": 12, "mult_adds_g": 6.0, "set5_psnr": 37.00, "source": "CARN (ECCV 2018) table"},
    {"model": "CARN-M", "zoo": "carn_m", "params_k": 412, "mult_adds_g": 91.2, "set5_psnr": 37.53, "source": "CARN (ECCV 2018) table"},
    {"model": "PAN", "zoo": "pan", "params_k": 261, "mult_adds_g": 70.5, "set5_psnr": 38.00, "source": "PAN (ECCVW 2020) table"},
    {"model": "IMDN", "zoo": "imdn", "params_k": 694, "mult_adds_g": 158.8, "set5_psnr": 38.00, "source": "IMDN (ACM MM 2019) table"},
)  # fmt: skip



def published_table() -> pd.DataFrame:
    """:data:`PUBLISHED_X2` as a table (one row per published net)."""
    return pd.DataFrame(PUBLISHED_X2)


DATA_VERSION = "sr_images v1: " + ",".join(SR_TRAIN_IMAGES)


def _variant(spec: str | Mapping) -> tuple[str, str, dict]:
    """``"xlsr"`` or ``{"name": "xlsr_noclip", "family": "xlsr", "kwargs": {"clip": False}}``."""
    if isinstance(spec, str):
        return spec, spec, {}
    try:
        return spec["name"], spec["family"], dict(spec.get("kwargs", {}))
    except KeyError as e:
        raise KeyError(f"variant {dict(spec)} lacks {e}; valid keys: name, family, kwargs") from None


def train_models(
    variants: Sequence[str | Mapping],
    scale: int = 2,
    *,
    steps: int = 300,
    evals: int = 2,
    batch_size: int = 16,
    lr_patch: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    threads: int | None = None,
) -> tuple[pd.DataFrame, dict[str, nn.Module], dict[str, dict]]:
    """Train each variant once through :func:`workbench.bank.cached_train` (L1, Adam, patches).

    Args:
        variants: zoo family names (``"espcn"``) or dicts ``{"name", "family", "kwargs"}``
            (create_model keywords, e.g. XLSR's ``clip=False``); built as ``<family>_x<scale>``.
        scale: 2, 3 or 4.
        steps, evals, batch_size, lr_patch, lr, seed, threads: as :func:`~workbench.train.train_sr`.

    Returns:
        ``(table, models, histories)``: one row per variant (``name, model, psnr, ssim,
        bicubic_psnr, bicubic_ssim, gain_db, train_seconds, cache_hit``), the trained models
        (eval mode) and their JSON histories.
    """
    rows, models, hists = [], {}, {}
    train = functools.partial(train_sr, scale=scale, steps=steps, evals=evals, batch_size=batch_size,
                              lr_patch=lr_patch, lr=lr, seed=seed, threads=threads)  # fmt: skip
    settings = {"data": DATA_VERSION, "scale": scale, "steps": steps, "evals": evals, "batch_size": batch_size,
                "lr_patch": lr_patch, "lr": lr, "loss": "l1", "optimizer": "adam"}  # fmt: skip
    for spec in variants:
        name, family, kwargs = _variant(spec)
        arch = f"{family}_x{scale}"
        res = cached_train(
            f"{name}_x{scale}", build=functools.partial(create_model, arch, **kwargs), train=train,
            settings={**settings, "model": arch, "kwargs": kwargs}, seed=seed,
        )  # fmt: skip
        h = res.history
        models[name], hists[name] = res.model, h
        rows.append({
            "name": name, "family": family, "model": arch, "psnr": h["psnr"][-1], "ssim": h["ssim"][-1],
            "bicubic_psnr": h["bicubic_psnr"], "bicubic_ssim": h["bicubic_ssim"],
            "gain_db": h["psnr"][-1] - h["bicubic_psnr"], "train_seconds": h["train_seconds"],
            "cache_hit": res.cache_hit,
        })  # fmt: skip
    return pd.DataFrame(rows), models, hists


def curves(histories: Mapping[str, dict]) -> pd.DataFrame:
    """Long table ``name, step, psnr, train_loss`` of :func:`train_models`' histories."""
    rows = [
        {"name": n, "step": s, "psnr": p, "train_loss": t}
        for n, h in histories.items()
        for s, p, t in zip(h["step"], h["psnr"], h["train_loss"], strict=True)
    ]
    return pd.DataFrame(rows)


def cost_table(
    families: Sequence[str],
    scale: int = 2,
    *,
    latency_families: Sequence[str] = (),
    input_hw: tuple[int, int] | None = None,
    rounds: int = 3,
    threads: int | None = None,
) -> pd.DataFrame:
    """Params, MACs and (for ``latency_families``) interleaved latency at a 720p output.

    Models are built untrained (weights do not change the cost) and folded to the deploy form
    (:func:`workbench.reparameterize_model`) before timing.

    Args:
        families: zoo SR families (``"xlsr"``), built as ``<family>_x<scale>`` with RGB input.
        latency_families: the subset to time, the first one is the latency baseline.
        input_hw: LR ``(H, W)``; default :func:`~workbench.models.sr.lr_input_size` (720p output).
        rounds, threads: of :func:`~workbench.measure.profile_many`.

    Returns:
        one row per family: ``name, params, macs, gmacs, output_hw, latency_ratio`` (NaN where
        not timed), ``latency_ratio_q1/q3``, ``latency_ms`` (this run only), ``fps`` (this run).
    """
    unknown = [f for f in latency_families if f not in families]
    if unknown:
        raise KeyError(f"latency families {unknown} are not in families; valid: {', '.join(families)}")
    hw = tuple(input_hw) if input_hw is not None else lr_input_size(scale)[1:]
    size = (3, *hw)
    models = {f: reparameterize_model(create_model(f"{f}_x{scale}")).eval() for f in families}
    cost = profile_many(models, size, latency=False)
    cols = ["name", "params", "macs"]
    t = cost[cols].copy()
    if latency_families:
        timed = profile_many({f: models[f] for f in latency_families}, size, rounds=rounds, threads=threads, peak=False)
        keep = ["name", "latency_ratio", "latency_ratio_q1", "latency_ratio_q3", "latency_ms"]
        t = t.merge(timed[[c for c in keep if c in timed]], on="name", how="left")
    for c in ("latency_ratio", "latency_ratio_q1", "latency_ratio_q3", "latency_ms"):
        if c not in t:
            t[c] = math.nan
    t["gmacs"] = t.macs / 1e9
    t["output_hw"] = f"{hw[0] * scale}x{hw[1] * scale}"
    t["fps"] = 1000.0 / t.latency_ms
    return t


def int8_robustness(
    models: Mapping[str, nn.Module],
    scale: int = 2,
    *,
    backend: str = "onnxruntime",
    crop: int = 96,
    calibration_patches: int = 32,
    seed: int = 0,
) -> pd.DataFrame:
    """PSNR-Y of each model in float and after int8 post-training quantization (W8A8).

    Calibration: ``calibration_patches`` LR training patches of ``crop`` px (never evaluation
    photos). Evaluation: the evaluation photos centre-cropped to ``crop`` LR px
    (:func:`~workbench.train.center_crops`), because an ONNX int8 model is compiled for one input
    shape. Falls back to the ``fake`` backend (simulated int8, PyTorch) when ``backend`` fails.

    Returns:
        one row per model: ``name, backend, float_psnr, int8_psnr, drop_db, bicubic_psnr``.
    """
    eval_set = center_crops(sr_eval_set(scale), crop)
    cal, _ = sr_patches(scale, calibration_patches, lr_patch=crop, seed=seed + 7919)
    rows = []
    # ORT's quantizer logs a "consider pre-processing" warning per model on the root logger;
    # quantize() already pre-processes, so the notebook would only show noise
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        rows = _int8_rows(models, scale, eval_set, cal, backend)
    finally:
        logging.disable(previous)
    t = pd.DataFrame(rows)
    t["drop_db"] = t.float_psnr - t.int8_psnr
    return t


def _int8_rows(models, scale, eval_set, cal, backend) -> list[dict]:
    rows = []
    for name, model in models.items():
        used = backend
        try:
            q = _quantize_fn(model, [cal[i : i + 8] for i in range(0, len(cal), 8)], backend=backend)
            q_res = evaluate_sr(q, scale, eval_set=eval_set, channels="rgb")
        except Exception:  # noqa: BLE001 -- a runtime that cannot take this graph falls back to simulation
            used = "fake"
            q = _quantize_fn(model, cal, backend="fake")
            q_res = evaluate_sr(q, scale, eval_set=eval_set, channels="rgb")
        f_res = evaluate_sr(model, scale, eval_set=eval_set, channels="rgb")
        rows.append({
            "name": name, "backend": used, "float_psnr": float(f_res.psnr.mean()), "int8_psnr": float(q_res.psnr.mean()),
            "bicubic_psnr": float(f_res.bicubic_psnr.mean()),
        })  # fmt: skip
    return rows


@torch.inference_mode()
def crops(models: Mapping[str, nn.Module], scale: int = 2, *, image: str = "astronaut", size: int = 48) -> dict[str, np.ndarray]:
    """HR-size crops (``size * scale`` px, uint8 RGB) of ground truth, bicubic and each model.

    The crop is taken at the centre of ``image``'s LR version and upscaled by each model (the
    whole LR image goes through the model, so borders do not differ from the scored output).

    Raises:
        KeyError: ``image`` is not an evaluation photo.
    """
    by_name = {im.name: im for im in sr_eval_set(scale)}
    if image not in by_name:
        raise KeyError(f"unknown evaluation image {image!r}; valid: {', '.join(by_name)}")
    im = by_name[image]
    h, w = im.lr.shape[:2]
    top, left = (h - size) // 2 * scale, (w - size) // 2 * scale
    sl = (slice(top, top + size * scale), slice(left, left + size * scale))
    out = {"ground truth": im.hr[sl], "bicubic": im.bicubic[sl]}
    for name, model in models.items():
        y = model.eval()(image_to_tensor(im.lr, "rgb"))[0].clamp(0, 1).mul(255).round().byte()
        out[name] = y.permute(1, 2, 0).numpy()[sl]
    return out


def combine(trained: pd.DataFrame, cost: pd.DataFrame) -> pd.DataFrame:
    """The trained nets' quality with their family's cost (:func:`train_models` x :func:`cost_table`).

    Raises:
        KeyError: a trained family missing from the cost table.
    """
    missing = sorted(set(trained.family) - set(cost.name))
    if missing:
        raise KeyError(f"trained families {missing} have no cost row; cost rows: {', '.join(cost.name)}")
    c = cost.rename(columns={"name": "family"})
    return trained.merge(c, on="family", how="left")


def gallery_figure(images: Mapping[str, np.ndarray], *, cols: int = 4, title: str = ""):
    """A plotly grid of equally sized uint8 RGB crops, one titled panel per entry."""
    import plotly.express as px

    names = list(images)
    fig = px.imshow(np.stack([images[n] for n in names]), facet_col=0, facet_col_wrap=cols, binary_string=True,
                    facet_row_spacing=0.06, facet_col_spacing=0.01, title=title)  # fmt: skip
    for ann in fig.layout.annotations:  # "facet_col=3" -> the crop's name
        ann.text = names[int(ann.text.split("=")[1])]
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    rows = math.ceil(len(names) / cols)
    return fig.update_layout(height=260 * rows + 80, margin=dict(l=10, r=10, t=60, b=10))


def _pair(table: pd.DataFrame) -> tuple[pd.Series, pd.Series] | None:
    """(light, heavy): the lightest trained net and the heaviest with >= MIN_MAC_RATIO its MACs."""
    t = table.dropna(subset=["macs", "psnr"]).sort_values("macs")
    if len(t) < 2:
        return None
    light = t.iloc[0]
    heavy = t[t.macs >= MIN_MAC_RATIO * light.macs]
    return (light, heavy.iloc[-1]) if len(heavy) else None


def conclude(table: pd.DataFrame, int8: pd.DataFrame | None = None, *, clipped: str = "xlsr", unclipped: str = "xlsr_noclip",
             steps: int = 0) -> Lesson:  # fmt: skip
    """The efficient-SR verdict and takeaways.

    Args:
        table: one row per trained net: ``name, macs, psnr, bicubic_psnr`` (dB), optionally
            ``latency_ratio``.
        int8: :func:`int8_robustness` rows (``name, drop_db, backend``), or ``None``.
        clipped, unclipped: the names of the XLSR rows with and without the clipped ReLU.
        steps: training steps per net (for the text).
    """
    if table.empty:
        raise ValueError("conclude needs at least one trained net, got an empty table")
    gains = table.psnr - table.bicubic_psnr
    too_short = not (gains > 0).any()  # no net learnt even bicubic: nothing about capacity is testable
    floor = "untestable" if too_short else ("holds" if (gains > 0).all() else "fails")
    worst = table.loc[gains.idxmin()]
    if floor == "holds":
        first = f"Every trained net beats bicubic ({table.bicubic_psnr.iloc[0]:.2f} dB PSNR-Y) after {steps} steps."
    elif too_short:
        first = f"No net beats bicubic after {steps} steps (best gain {gains.max():+.2f} dB): training too short."
    else:
        first = f"{worst['name']} is {-(worst.psnr - worst.bicubic_psnr):.2f} dB below bicubic after {steps} steps."
    takeaways = [first]
    pair = _pair(table)
    gap = math.nan
    if pair is None:
        per_mac = "untestable"
        takeaways.append(f"No trained pair is {MIN_MAC_RATIO:.0f}x apart in MACs: the quality-per-MAC part is untestable.")
    else:
        light, heavy = pair
        gap = heavy.psnr - light.psnr
        ratio = heavy.macs / light.macs
        if heavy.psnr - heavy.bicubic_psnr <= 0:
            per_mac = "untestable"
            takeaways.append(f"{heavy['name']} ({ratio:.0f}x the MACs of {light['name']}) did not beat bicubic: "
                             "too few steps to rank capacity.")  # fmt: skip
        else:
            per_mac = "holds" if gap < MAX_GAP_DB else "fails"
            lead = "ahead of" if gap >= 0 else "behind"
            takeaways.append(f"{heavy['name']} spends {ratio:.0f}x the MACs of {light['name']} and is {abs(gap):.2f} dB {lead} it "
                             f"(published x2 Set5 gaps at 11-15x: 0.53-1.00 dB).")  # fmt: skip
    if "latency_ratio" in table and table.latency_ratio.notna().sum() >= 2:
        t = table.dropna(subset=["latency_ratio"])
        a, b = t.loc[t.macs.idxmin()], t.loc[t.macs.idxmax()]
        where = f"the {t.output_hw.iloc[0]} output" if "output_hw" in t else "the timed size"
        takeaways.append(f"At {where}, {b['name']} has {b.macs / a.macs:.1f}x the MACs of {a['name']} and "
                         f"{b.latency_ratio / a.latency_ratio:.1f}x its latency (deploy form, interleaved).")  # fmt: skip
    drop_clip = drop_noclip = math.nan
    if int8 is None or int8.empty or clipped not in set(int8.name):
        q = "untestable"
        takeaways.append("No int8 result for the clipped XLSR: the quantization part is untestable.")
    else:
        by = int8.set_index("name")
        drop_clip = float(by.drop_db[clipped])
        drop_noclip = float(by.drop_db[unclipped]) if unclipped in by.index else math.nan
        ok = drop_clip <= MAX_INT8_DROP_DB and (not finite(drop_noclip) or drop_clip <= drop_noclip + INT8_TIE_DB)
        q = "holds" if ok else "fails"
        other = f"; without the clip {drop_noclip:.3f} dB" if finite(drop_noclip) else ""
        takeaways.append(f"int8 PTQ ({by.backend[clipped]}) costs the clipped XLSR {drop_clip:.3f} dB{other}.")
    verdict = combine_parts([floor, per_mac, q], inconclusive=too_short)
    evidence = (
        f"floor {floor} (smallest gain over bicubic {gains.min():+.2f} dB); quality per MAC {per_mac}"
        + (f" (gap {gap:+.2f} dB, bound {MAX_GAP_DB} dB)" if finite(gap) else "")
        + f"; int8 {q}"
        + (f" (drop {drop_clip:.3f} dB with the clip" + (f", {drop_noclip:.3f} dB without" if finite(drop_noclip) else "") + ")"
           if finite(drop_clip) else "")
        + "."
    )  # fmt: skip
    key = {
        "smallest gain over bicubic": {"value": round(float(gains.min()), 3), "unit": "dB"},
        "heavy - light PSNR gap": {"value": round(gap, 3) if finite(gap) else "n/a", "unit": "dB"},
        "XLSR int8 drop (clipped)": {"value": round(drop_clip, 3) if finite(drop_clip) else "n/a", "unit": "dB"},
        "XLSR int8 drop (no clip)": {"value": round(drop_noclip, 3) if finite(drop_noclip) else "n/a", "unit": "dB"},
    }
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key)
