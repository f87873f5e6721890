"""Dense-prediction evaluators and the detector's post-processing cost.

* :func:`detection_map` -- COCO-style mAP@0.5 and mAP@[.5:.95] from torchmetrics'
  ``MeanAveragePrecision`` (pycocotools backend: the reference evaluator, not a re-implementation);
* :func:`evaluate_detector` -- run a detector of :mod:`workbench.models.detection` over a data set
  and score it;
* :func:`mean_iou` -- semantic-segmentation mIoU from a confusion matrix;
* :func:`pipeline_latency` -- forward, decoding and NMS of one image timed separately, interleaved
  per round, so NMS's share of the whole pipeline is a ratio from one run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from .latency import num_threads

__all__ = ["detection_map", "evaluate_detector", "evaluate_segmenter", "mean_iou", "pipeline_latency"]


def detection_map(preds: list[dict], targets: list[dict]) -> dict[str, float]:
    """COCO mAP of ``preds`` against ``targets`` (torchmetrics + pycocotools).

    Args:
        preds: per image ``{"boxes": (k, 4) xyxy, "scores": (k,), "labels": (k,)}``.
        targets: per image ``{"boxes": (g, 4) xyxy, "labels": (g,)}``.

    Returns:
        ``{"map": mAP@[.5:.95], "map_50": mAP@0.5, "map_75", "mar_100"}`` in [0, 1] (-1 where
        COCO has nothing to average, e.g. no ground truth at all).
    """
    # a heavy import (seconds), paid only by the detection notebook
    from torchmetrics.detection import MeanAveragePrecision

    if len(preds) != len(targets):
        raise ValueError(f"{len(preds)} predictions for {len(targets)} targets: one of each per image")
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="pycocotools")
    metric.update(
        [{k: v.detach().float() if k != "labels" else v.long() for k, v in p.items()} for p in preds],
        [{"boxes": t["boxes"].float(), "labels": t["labels"].long()} for t in targets],
    )
    r = metric.compute()
    return {k: float(r[k]) for k in ("map", "map_50", "map_75", "mar_100")}


@torch.inference_mode()
def evaluate_detector(
    model: nn.Module, images: torch.Tensor, targets: list[dict], *, batch_size: int = 64,
    score_thresh: float = 0.05, iou_thresh: float = 0.5, max_det: int = 100,
) -> dict[str, float]:  # fmt: skip
    """mAP of ``model`` (``forward`` / ``candidates`` / NMS) on ``images`` with ``targets``.

    Returns:
        :func:`detection_map`'s numbers plus ``detections_per_image`` (after NMS) and
        ``candidates_per_image`` (before NMS: what NMS had to sort out).
    """
    from ..models.detection import postprocess

    was = model.training
    model.eval()
    preds, n_cand = [], 0
    for i in range(0, len(images), batch_size):
        cands = model.candidates(model(images[i : i + batch_size]), score_thresh=score_thresh)
        n_cand += sum(len(c[0]) for c in cands)
        preds += postprocess(cands, iou_thresh=iou_thresh, max_det=max_det, image_size=images.shape[-1])
    model.train(was)
    out = detection_map(preds, targets)
    out["detections_per_image"] = sum(len(p["boxes"]) for p in preds) / len(preds)
    out["candidates_per_image"] = n_cand / len(preds)
    return out


def mean_iou(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> dict:
    r"""Mean intersection-over-union of integer label maps.

    $\text{IoU}_c = \frac{TP_c}{TP_c + FP_c + FN_c}$; classes absent from both ``pred`` and
    ``target`` are left out of the mean (their IoU is undefined, not 0 or 1).

    Args:
        pred, target: (N, H, W) integer class maps of the same shape, values in ``[0, num_classes)``.
        num_classes: number of classes, background included.

    Returns:
        ``{"miou", "per_class": list (nan where undefined), "pixel_accuracy"}``.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape")
    p, t = pred.reshape(-1).long(), target.reshape(-1).long()
    if p.numel() and (min(int(p.min()), int(t.min())) < 0 or max(int(p.max()), int(t.max())) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got pred {int(p.min())}..{int(p.max())}, target {int(t.min())}..{int(t.max())}")
    cm = torch.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes).double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    valid = ~torch.isnan(iou)
    return {
        "miou": float(iou[valid].mean()) if valid.any() else float("nan"),
        "per_class": [float(v) for v in iou],
        "pixel_accuracy": float(tp.sum() / cm.sum().clamp(min=1)),
    }


@torch.inference_mode()
def evaluate_segmenter(model: nn.Module, images: torch.Tensor, semantic: torch.Tensor, num_classes: int, *, batch_size: int = 64) -> dict:
    """:func:`mean_iou` of ``model``'s per-pixel argmax on ``images`` against ``semantic`` label maps."""
    was = model.training
    model.eval()
    pred = torch.cat([model(images[i : i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])
    model.train(was)
    return mean_iou(pred, semantic, num_classes)


@torch.inference_mode()
def pipeline_latency(
    model: nn.Module, image: torch.Tensor, *, rounds: int = 30, score_thresh: float = 0.05, iou_thresh: float = 0.5,
    threads: int | None = None, timer: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:  # fmt: skip
    """Median milliseconds of a detector's forward, decoding (``candidates``) and NMS on one image.

    The three stages run one after the other in every round (after 3 warm-up rounds), so machine
    drift hits them alike; ``nms_share`` is the median per-round NMS / (forward + decode + NMS).
    Pass the deploy form (BatchNorm folded). ``timer`` is injectable for tests.

    Returns:
        ``{"forward_ms", "decode_ms", "nms_ms", "nms_share", "candidates"}``.
    """
    from ..models.detection import postprocess

    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    model.eval()
    x = image if image.dim() == 4 else image[None]
    times: dict[str, list[float]] = {"forward": [], "decode": [], "nms": []}
    n_cand = 0
    with num_threads(threads):
        for r in range(rounds + 3):
            t0 = timer()
            out = model(x)
            t1 = timer()
            cands = model.candidates(out, score_thresh=score_thresh)
            t2 = timer()
            postprocess(cands, iou_thresh=iou_thresh, image_size=x.shape[-1])
            t3 = timer()
            if r >= 3:
                for k, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                    times[k].append(1000 * dt)
                n_cand = len(cands[0][0])
    shares = [n / (f + d + n) if f + d + n > 0 else float("nan") for f, d, n in zip(times["forward"], times["decode"], times["nms"], strict=True)]
    return {
        "forward_ms": statistics.median(times["forward"]), "decode_ms": statistics.median(times["decode"]),
        "nms_ms": statistics.median(times["nms"]), "nms_share": statistics.median(shares), "candidates": n_cand,
    }  # fmt: skip
