"""Tiny single-shot detectors: SSDLite, an anchor-free nano head, TinyissimoYOLO.

All three share one interface, so training, evaluation and timing treat them alike:

* ``forward(x)`` returns the raw head outputs (what MACs and latency measure: no decoding);
* ``loss(outputs, targets)`` -> scalar, with ``targets`` a list of ``{"boxes": (k, 4) xyxy px,
  "labels": (k,)}``;
* ``candidates(outputs, score_thresh)`` -> per image ``(boxes, scores, labels)`` before NMS;
* :func:`postprocess` runs class-wise NMS (``torchvision.ops.batched_nms``), separately, so its
  cost can be timed on its own.

Designs (``task="detection"``):

* :func:`ssdlite_mobilenetv3` -- SSDLite (MobileNetV2 paper, Sec. 6.2; torchvision's
  ``ssdlite320_mobilenet_v3_large`` is the reference): a MobileNetV3 backbone of the zoo, extra
  layers (1x1 -> depthwise 3x3 s2 -> 1x1), and per feature map a depthwise-separable classifier
  and box regressor over SSD default boxes, SSD box coding (weights 10, 10, 5, 5), IoU >= 0.5
  matching and 3:1 hard-negative mining. The real architecture (``image_size=320``,
  ``taps=(16, 32)``, ``extra_layers=4``, 91 classes, aspect ratios 2 and 3) differs from
  torchvision in where it taps stride 16 (the stage output, not the expansion layer inside the
  next block) and in keeping the full-width last stage (torchvision halves it: ``reduced_tail``).
* :func:`nanodet_mobilenetv3` -- an anchor-free head in the FCOS / NanoDet style: one point per
  feature cell, a shared depthwise-separable tower per level, sigmoid focal loss for classes and
  GIoU loss for the (left, top, right, bottom) distances; a point is positive inside the central
  region (radius 1.5 strides) of a box assigned to its level by size.
* :func:`tinyissimo_yolo` -- TinyissimoYOLO (Moosmann et al., 2023): plain 3x3 conv + max-pool
  layers and a fully connected YOLOv1 output (S x S cells, B boxes and C class scores per cell).
  The seeds hold only the abstract ("422k parameters", "up to 3 classes"); the widths here
  (16-32-64-64-128-128, FC 256, S = 4, B = 2) are our reading of the paper's layer table, so the
  parameter count is checked against 422k, not assumed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, box_iou, generalized_box_iou_loss, sigmoid_focal_loss

from ..layers import ConvNormAct
from ._factory import create_model, register_model

__all__ = [
    "BoxCoder", "FeatureTaps", "NanoDet", "SSDLite", "TinyissimoYOLO", "default_boxes",
    "detector_at", "postprocess", "nanodet_mobilenetv3", "ssdlite_mobilenetv3", "tinyissimo_yolo",
]  # fmt: skip

_TAGS = ("efficient_detection_segmentation", "mobile_cnn")


class FeatureTaps(nn.Module):
    """A zoo MobileNet's stem and stages, returning the outputs at the requested strides.

    Args:
        backbone: a zoo name (``"mobilenetv3_large_100"``) built with ``width_mult`` and ``in_chans``.
        strides: output strides to return (each must be reached by some stage), ascending.
        image_size: a probe size used once to find which stage reaches which stride.
    """

    def __init__(self, backbone: str, strides: tuple[int, ...], *, width_mult: float, in_chans: int, image_size: int) -> None:
        super().__init__()
        net = create_model(backbone, num_classes=1, in_chans=in_chans, width_mult=width_mult)
        self.stem, self.stages = net.stem, net.stages
        net.eval()  # the probe must not touch BatchNorm statistics
        with torch.no_grad():
            x = self.stem(torch.zeros(1, in_chans, image_size, image_size))
            stride_of, chs = [], []
            for s in self.stages:
                x = s(x)
                stride_of.append(round(image_size / x.shape[-1]))
                chs.append(x.shape[1])
        net.train()
        # the LAST stage at each stride: the deepest features at that resolution
        self.tap_idx = []
        for st in strides:
            idx = [i for i, s in enumerate(stride_of) if s == st]
            if not idx:
                raise ValueError(f"backbone {backbone} at {image_size} px has no stage at stride {st}; strides: {sorted(set(stride_of))}")
            self.tap_idx.append(idx[-1])
        self.channels = [chs[i] for i in self.tap_idx]
        last = max(self.tap_idx)
        self.stages = self.stages[: last + 1]  # stages past the deepest tap are dropped, not computed

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        x = self.stem(x)
        for i, s in enumerate(self.stages):
            x = s(x)
            if i in self.tap_idx:
                out.append(x)
        return out


def _dw_sep(c_in: int, c_out: int, act: str = "relu6") -> nn.Sequential:
    """Depthwise 3x3 + BN + act, then a plain 1x1 conv with bias (SSDLite's prediction layer)."""
    return nn.Sequential(ConvNormAct(c_in, c_in, 3, groups=c_in, act=act), nn.Conv2d(c_in, c_out, 1))


def _extra_block(c_in: int, c_out: int) -> nn.Sequential:
    """SSDLite extra layer: 1x1 (c_out/2) -> depthwise 3x3 stride 2 -> 1x1 (c_out), BN + ReLU6 each."""
    mid = c_out // 2
    return nn.Sequential(
        ConvNormAct(c_in, mid, 1, act="relu6"), ConvNormAct(mid, mid, 3, stride=2, groups=mid, act="relu6"),
        ConvNormAct(mid, c_out, 1, act="relu6"),
    )  # fmt: skip


def default_boxes(
    image_size: int, grid_sizes: list[int], *, min_ratio: float, max_ratio: float, aspect_ratios: tuple[float, ...]
) -> torch.Tensor:
    r"""SSD default boxes (``xyxy`` px), in the order of the flattened head outputs.

    Level ``k`` of ``m`` has scale $s_k$ evenly spaced in ``[min_ratio, max_ratio]`` (fractions of
    the image side) and boxes: $s_k$ at aspect 1, $\sqrt{s_k s_{k+1}}$ at aspect 1, and $s_k$ at
    each ratio $r$ and $1/r$: $2 + 2 |\text{aspect_ratios}|$ boxes per cell.
    """
    m = len(grid_sizes)
    scales = [min_ratio + (max_ratio - min_ratio) * k / max(m - 1, 1) for k in range(m)] + [1.0]
    out = []
    for k, g in enumerate(grid_sizes):
        s, s_next = scales[k], scales[k + 1]
        wh = [(s, s), (math.sqrt(s * s_next),) * 2]
        for r in aspect_ratios:
            wh += [(s * math.sqrt(r), s / math.sqrt(r)), (s / math.sqrt(r), s * math.sqrt(r))]
        wh_t = torch.tensor(wh) * image_size
        centers = (torch.arange(g, dtype=torch.float32) + 0.5) * (image_size / g)
        cy, cx = torch.meshgrid(centers, centers, indexing="ij")
        c = torch.stack([cx, cy], -1).reshape(-1, 1, 2)
        out.append(torch.cat([c - wh_t / 2, c + wh_t / 2], -1).reshape(-1, 4))
    return torch.cat(out)


def anchors_per_cell(aspect_ratios: tuple[float, ...]) -> int:
    """Default boxes per feature cell (see :func:`default_boxes`)."""
    return 2 + 2 * len(aspect_ratios)


class BoxCoder:
    r"""SSD/Faster R-CNN box coding: offsets of a box relative to an anchor, scaled by ``weights``.

    $t_x = w_x (g_x - a_x)/a_w$, $t_y = w_y (g_y - a_y)/a_h$, $t_w = w_w \log(g_w/a_w)$,
    $t_h = w_h \log(g_h/a_h)$ with centres $x, y$ and sizes $w, h$.
    """

    def __init__(self, weights: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)) -> None:
        self.weights = weights

    @staticmethod
    def _cxcywh(b: torch.Tensor) -> torch.Tensor:
        return torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)

    def encode(self, boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        """(N, 4) ``xyxy`` boxes -> (N, 4) offsets relative to (N, 4) anchors."""
        g, a = self._cxcywh(boxes), self._cxcywh(anchors)
        wx, wy, ww, wh = self.weights
        return torch.stack([
            wx * (g[:, 0] - a[:, 0]) / a[:, 2], wy * (g[:, 1] - a[:, 1]) / a[:, 3],
            ww * torch.log(g[:, 2] / a[:, 2]), wh * torch.log(g[:, 3] / a[:, 3]),
        ], 1)  # fmt: skip

    def decode(self, offsets: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`encode`; sizes are clamped so ``exp`` cannot overflow."""
        a = self._cxcywh(anchors)
        wx, wy, ww, wh = self.weights
        clamp = math.log(1000.0 / 16)  # torchvision's bbox_xform_clip
        cx = offsets[..., 0] / wx * a[:, 2] + a[:, 0]
        cy = offsets[..., 1] / wy * a[:, 3] + a[:, 1]
        w = torch.exp((offsets[..., 2] / ww).clamp(max=clamp)) * a[:, 2]
        h = torch.exp((offsets[..., 3] / wh).clamp(max=clamp)) * a[:, 3]
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


class SSDLite(nn.Module):
    """SSDLite on a zoo MobileNet (see the module docstring). Outputs ``(logits (B, N, C+1), offsets (B, N, 4))``."""

    def __init__(
        self, backbone: str = "mobilenetv3_large_100", *, num_classes: int = 10, in_chans: int = 1, width_mult: float = 1.0,
        image_size: int = 96, taps: tuple[int, ...] = (8, 16), extra_layers: int = 0,
        extra_channels: tuple[int, ...] = (512, 256, 256, 128), min_ratio: float = 0.15, max_ratio: float = 0.35,
        aspect_ratios: tuple[float, ...] = (2.0,), neg_pos_ratio: int = 3,
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_classes, self.neg_pos_ratio = num_classes, neg_pos_ratio
        self.features = FeatureTaps(backbone, tuple(taps), width_mult=width_mult, in_chans=in_chans, image_size=image_size)
        chs = list(self.features.channels)
        self.extras = nn.ModuleList()
        for c in extra_channels[:extra_layers]:
            self.extras.append(_extra_block(chs[-1], c))
            chs.append(c)
        a = anchors_per_cell(tuple(aspect_ratios))
        self.cls_heads = nn.ModuleList(_dw_sep(c, a * (num_classes + 1)) for c in chs)
        self.reg_heads = nn.ModuleList(_dw_sep(c, a * 4) for c in chs)
        self.eval()  # a probe forward: batch 1 reaches 1 x 1 maps, and BatchNorm statistics must stay untouched
        with torch.no_grad():
            grids = [f.shape[-1] for f in self._maps(torch.zeros(1, in_chans, image_size, image_size))]
        self.train()
        self.register_buffer(
            "anchors", default_boxes(image_size, grids, min_ratio=min_ratio, max_ratio=max_ratio, aspect_ratios=tuple(aspect_ratios)),
            persistent=False,
        )  # fmt: skip
        self.coder = BoxCoder()
        self.default_input_size = (in_chans, image_size, image_size)

    def _maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = self.features(x)
        for e in self.extras:
            maps.append(e(maps[-1]))
        return maps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self._maps(x)
        b = x.shape[0]
        cls = [h(m).permute(0, 2, 3, 1).reshape(b, -1, self.num_classes + 1) for h, m in zip(self.cls_heads, maps, strict=True)]
        reg = [h(m).permute(0, 2, 3, 1).reshape(b, -1, 4) for h, m in zip(self.reg_heads, maps, strict=True)]
        return torch.cat(cls, 1), torch.cat(reg, 1)

    def match(self, boxes: torch.Tensor, labels: torch.Tensor, iou_thresh: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
        """Per anchor: class target (0 = background, ``label + 1``) and the matched box (``xyxy``)."""
        n = self.anchors.shape[0]
        if len(boxes) == 0:
            return torch.zeros(n, dtype=torch.long), torch.zeros(n, 4)
        iou = box_iou(boxes, self.anchors)  # (G, N)
        best_iou, best_gt = iou.max(0)
        best_iou[iou.argmax(1)] = 2.0  # every box keeps its best anchor, even below the threshold
        best_gt[iou.argmax(1)] = torch.arange(len(boxes))
        cls = torch.where(best_iou >= iou_thresh, labels[best_gt] + 1, 0)
        return cls, boxes[best_gt]

    def loss(self, outputs, targets: list[dict]) -> torch.Tensor:
        """Softmax cross-entropy with 3:1 hard-negative mining + smooth-L1 on the positives' offsets."""
        logits, offsets = outputs
        cls_t, box_t = zip(*(self.match(t["boxes"], t["labels"]) for t in targets), strict=True)
        cls_t, box_t = torch.stack(cls_t), torch.stack(box_t)
        pos = cls_t > 0
        n_pos = pos.sum().clamp(min=1)
        reg_t = self.coder.encode(box_t[pos], self.anchors.expand(len(targets), -1, -1)[pos])
        reg_loss = F.smooth_l1_loss(offsets[pos], reg_t, reduction="sum")
        ce = F.cross_entropy(logits.reshape(-1, self.num_classes + 1), cls_t.reshape(-1), reduction="none").view_as(cls_t)
        neg_ce = ce.detach().clone()
        neg_ce[pos] = -math.inf
        rank = neg_ce.argsort(1, descending=True).argsort(1)
        hard_neg = rank < (self.neg_pos_ratio * pos.sum(1, keepdim=True))
        return (reg_loss + ce[pos | hard_neg].sum()) / n_pos

    @torch.no_grad()
    def candidates(self, outputs, score_thresh: float = 0.05, topk: int = 200) -> list[tuple[torch.Tensor, ...]]:
        """Per image ``(boxes, scores, labels)`` above ``score_thresh`` (top ``topk``), before NMS."""
        logits, offsets = outputs
        probs = logits.softmax(-1)[..., 1:]
        boxes = self.coder.decode(offsets, self.anchors)
        return [_topk(boxes[i], probs[i], score_thresh, topk) for i in range(len(logits))]


def _topk(boxes: torch.Tensor, probs: torch.Tensor, score_thresh: float, topk: int) -> tuple[torch.Tensor, ...]:
    """Every (box, class) pair with probability above ``score_thresh``, best ``topk``."""
    scores, idx = probs.flatten().topk(min(topk, probs.numel()))
    keep = scores > score_thresh
    scores, idx = scores[keep], idx[keep]
    c = probs.shape[1]
    return boxes[idx // c], scores, idx % c


class NanoDet(nn.Module):
    """Anchor-free detector (FCOS / NanoDet style, see the module docstring). Output (B, N, C + 4)."""

    def __init__(
        self, backbone: str = "mobilenetv3_large_100", *, num_classes: int = 10, in_chans: int = 1, width_mult: float = 1.0,
        image_size: int = 96, taps: tuple[int, ...] = (8, 16), head_channels: int = 64, tower: int = 2,
        radius: float = 1.5,
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_classes, self.radius, self.taps = num_classes, radius, tuple(taps)
        self.features = FeatureTaps(backbone, self.taps, width_mult=width_mult, in_chans=in_chans, image_size=image_size)
        self.heads = nn.ModuleList()
        for c in self.features.channels:
            layers = [ConvNormAct(c, head_channels, 1, act="relu")]
            for _ in range(tower):
                layers += [ConvNormAct(head_channels, head_channels, 3, groups=head_channels, act="relu"),
                           ConvNormAct(head_channels, head_channels, 1, act="relu")]  # fmt: skip
            layers.append(nn.Conv2d(head_channels, num_classes + 4, 1))
            self.heads.append(nn.Sequential(*layers))
        prior = -math.log((1 - 0.01) / 0.01)  # focal-loss prior: start at p = 0.01 so the loss is not swamped by background
        for h in self.heads:
            nn.init.constant_(h[-1].bias[:num_classes], prior)
        pts, strides, lo_hi = [], [], []
        # a box goes to the level where its largest centre distance max(ltrb) fits: up to one stride of the
        # next level stays on the finer map (FCOS's 64/128/... bounds are for 800 px COCO images, not 96 px mosaics)
        bounds = [0.0] + [float(s) for s in self.taps[1:]] + [math.inf]
        for k, s in enumerate(self.taps):
            g = math.ceil(image_size / s)
            c = (torch.arange(g, dtype=torch.float32) + 0.5) * s
            cy, cx = torch.meshgrid(c, c, indexing="ij")
            pts.append(torch.stack([cx, cy], -1).reshape(-1, 2))
            strides.append(torch.full((g * g,), float(s)))
            lo_hi.append(torch.tensor([[bounds[k], bounds[k + 1]]]).expand(g * g, 2))
        self.register_buffer("points", torch.cat(pts), persistent=False)
        self.register_buffer("strides", torch.cat(strides), persistent=False)
        self.register_buffer("ranges", torch.cat(lo_hi), persistent=False)
        self.default_input_size = (in_chans, image_size, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        outs = [h(f).permute(0, 2, 3, 1).reshape(b, -1, self.num_classes + 4) for h, f in zip(self.heads, self.features(x), strict=True)]
        return torch.cat(outs, 1)

    def _boxes(self, out: torch.Tensor) -> torch.Tensor:
        ltrb = F.softplus(out[..., self.num_classes :]) * self.strides[:, None]
        p = self.points
        return torch.cat([p - ltrb[..., :2], p + ltrb[..., 2:]], -1)

    def assign(self, boxes: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per point: class target (-1 = background) and its box (the smallest box that claims it)."""
        n = self.points.shape[0]
        if len(boxes) == 0:
            return torch.full((n,), -1, dtype=torch.long), torch.zeros(n, 4)
        p = self.points[:, None]  # (N, 1, 2)
        ltrb = torch.cat([p - boxes[None, :, :2], boxes[None, :, 2:] - p], -1)  # (N, G, 4)
        inside = ltrb.min(-1).values > 0
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        near = ((p - centre[None]).abs().max(-1).values < self.radius * self.strides[:, None])
        m = ltrb.max(-1).values
        fits = (m >= self.ranges[:, :1]) & (m <= self.ranges[:, 1:])
        ok = inside & near & fits
        area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[None].expand(n, -1)
        area = torch.where(ok, area, torch.full_like(area, math.inf))
        a, g = area.min(1)
        cls = torch.where(torch.isfinite(a), labels[g], -1)
        return cls, boxes[g]

    def loss(self, outputs: torch.Tensor, targets: list[dict]) -> torch.Tensor:
        """Sigmoid focal loss over all points + GIoU loss on the positives, both per positive."""
        cls_t, box_t = zip(*(self.assign(t["boxes"], t["labels"]) for t in targets), strict=True)
        cls_t, box_t = torch.stack(cls_t), torch.stack(box_t)
        pos = cls_t >= 0
        n_pos = pos.sum().clamp(min=1)
        onehot = torch.zeros_like(outputs[..., : self.num_classes])
        onehot[pos] = F.one_hot(cls_t[pos], self.num_classes).float()
        cls_loss = sigmoid_focal_loss(outputs[..., : self.num_classes], onehot, reduction="sum")
        giou = generalized_box_iou_loss(self._boxes(outputs)[pos], box_t[pos], reduction="sum") if pos.any() else 0.0
        return (cls_loss + 2.0 * giou) / n_pos

    @torch.no_grad()
    def candidates(self, outputs: torch.Tensor, score_thresh: float = 0.05, topk: int = 200) -> list[tuple[torch.Tensor, ...]]:
        """Per image ``(boxes, scores, labels)`` above ``score_thresh`` (top ``topk``), before NMS."""
        probs = outputs[..., : self.num_classes].sigmoid()
        boxes = self._boxes(outputs)
        return [_topk(boxes[i], probs[i], score_thresh, topk) for i in range(len(outputs))]


class TinyissimoYOLO(nn.Module):
    """TinyissimoYOLO (see the module docstring): convs + max-pool, FC, YOLOv1 grid output (B, S, S, 5B + C)."""

    def __init__(
        self, *, num_classes: int = 3, in_chans: int = 3, image_size: int = 88,
        channels: tuple[int, ...] = (16, 32, 64, 64, 128, 128), pools: int = 5, hidden: int = 256,
        grid: int = 4, boxes_per_cell: int = 2,
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_classes, self.grid, self.nb, self.image_size = num_classes, grid, boxes_per_cell, image_size
        layers, c = [], in_chans
        for i, co in enumerate(channels):
            layers.append(ConvNormAct(c, co, 3, act="relu"))
            if i < pools:
                layers.append(nn.MaxPool2d(2))
            c = co
        self.features = nn.Sequential(*layers)
        self.features.eval()
        with torch.no_grad():
            flat = self.features(torch.zeros(1, in_chans, image_size, image_size)).numel()
        self.features.train()
        self.head = nn.Sequential(nn.Flatten(1), nn.Linear(flat, hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, grid * grid * (5 * boxes_per_cell + num_classes)))  # fmt: skip
        self.default_input_size = (in_chans, image_size, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(x.shape[0], self.grid, self.grid, 5 * self.nb + self.num_classes)

    def _boxes(self, out: torch.Tensor) -> torch.Tensor:
        """(B, S, S, nb, 4) ``xyxy`` px: sigmoid centre offsets in the cell, sigmoid sizes as image fractions."""
        s, cell = self.grid, self.image_size / self.grid
        p = out[..., : 5 * self.nb].reshape(*out.shape[:3], self.nb, 5).sigmoid()
        j = torch.arange(s, device=out.device, dtype=out.dtype)
        cx = (j.view(1, 1, s, 1) + p[..., 0]) * cell
        cy = (j.view(1, s, 1, 1) + p[..., 1]) * cell
        w, h = p[..., 2] * self.image_size, p[..., 3] * self.image_size
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)

    def loss(self, outputs: torch.Tensor, targets: list[dict]) -> torch.Tensor:
        """YOLOv1: the box in a centre's cell with the best IoU is responsible; coord, object, no-object, class terms."""
        s, cell, nb = self.grid, self.image_size / self.grid, self.nb
        pred_boxes = self._boxes(outputs)
        raw = outputs[..., : 5 * nb].reshape(*outputs.shape[:3], nb, 5)
        obj_t = torch.zeros(raw.shape[:4], device=outputs.device)
        coord, cls_loss = outputs.new_zeros(()), outputs.new_zeros(())
        for b, t in enumerate(targets):
            for box, lab in zip(t["boxes"], t["labels"], strict=True):
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                i, j = min(int(cy // cell), s - 1), min(int(cx // cell), s - 1)
                k = int(box_iou(pred_boxes[b, i, j].detach(), box[None]).argmax())
                obj_t[b, i, j, k] = 1.0
                p = raw[b, i, j, k].sigmoid()
                tgt = torch.stack([cx / cell - j, cy / cell - i, ((box[2] - box[0]) / self.image_size), ((box[3] - box[1]) / self.image_size)])
                coord = coord + F.mse_loss(p[:2], tgt[:2], reduction="sum") + F.mse_loss(p[2:4].sqrt(), tgt[2:].sqrt(), reduction="sum")
                cls_loss = cls_loss + F.cross_entropy(outputs[b, i, j, 5 * nb :], lab)
        obj = F.binary_cross_entropy_with_logits(raw[..., 4], obj_t, reduction="none")
        weight = torch.where(obj_t > 0, 1.0, 0.5)  # YOLOv1's lambda_noobj = 0.5
        n = max(sum(len(t["boxes"]) for t in targets), 1)
        return (5.0 * coord + (weight * obj).sum() + cls_loss) / n

    @torch.no_grad()
    def candidates(self, outputs: torch.Tensor, score_thresh: float = 0.05, topk: int = 200) -> list[tuple[torch.Tensor, ...]]:
        """Per image ``(boxes, scores, labels)``: score = objectness x class probability, before NMS."""
        nb, c = self.nb, self.num_classes
        obj = outputs[..., 4 : 5 * nb : 5].sigmoid()  # (B, S, S, nb)
        cls = outputs[..., 5 * nb :].softmax(-1)  # (B, S, S, C)
        probs = (obj[..., None] * cls[..., None, :]).reshape(len(outputs), -1, c)
        boxes = self._boxes(outputs).reshape(len(outputs), -1, 4)
        return [_topk(boxes[i], probs[i], score_thresh, topk) for i in range(len(outputs))]


def postprocess(cands: list[tuple[torch.Tensor, ...]], *, iou_thresh: float = 0.5, max_det: int = 100, image_size: int | None = None) -> list[dict]:
    """Class-wise NMS (``torchvision.ops.batched_nms``) of :meth:`candidates`; boxes clipped to the image.

    Returns:
        per image ``{"boxes", "scores", "labels"}`` (torchmetrics' prediction format).
    """
    out = []
    for boxes, scores, labels in cands:
        if image_size is not None:
            boxes = boxes.clamp(0, image_size)
        keep = batched_nms(boxes, scores, labels, iou_thresh)[:max_det]
        out.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
    return out


def detector_at(name: str, kwargs: dict, model: nn.Module, image_size: int) -> nn.Module:
    """``model``'s weights in the registry detector ``name`` rebuilt for ``image_size`` px inputs.

    Anchors and points are buffers computed from the size, not weights, so a convolutional
    detector runs at any size with the same weights (TinyissimoYOLO's fully connected layer does
    not: its input size is fixed). Returns the rebuilt model in eval mode.
    """
    m = create_model(name, **{**kwargs, "image_size": image_size})
    m.load_state_dict(model.state_dict())
    return m.eval()


# --- registry entries: the mosaic-sized defaults; the real architectures through keyword arguments ---
_MOSAIC = (1, 96, 96)


@register_model(default_input_size=_MOSAIC, task="detection", tags=_TAGS,
                paper="Howard et al., Searching for MobileNetV3, ICCV 2019 (SSDLite: Sandler et al., MobileNetV2, CVPR 2018)")  # fmt: skip
def ssdlite_mobilenetv3(
    num_classes: int = 10, in_chans: int = 1, width_mult: float = 1.0, image_size: int = 96, backbone: str = "mobilenetv3_large_100", **kw
) -> SSDLite:
    """SSDLite on MobileNetV3. ``image_size=320, in_chans=3, num_classes=90, taps=(16, 32), extra_layers=4,
    min_ratio=0.2, max_ratio=0.95, aspect_ratios=(2, 3)`` is the real SSDLite320 (see :data:`SSDLITE320`)."""
    return SSDLite(backbone, num_classes=num_classes, in_chans=in_chans, width_mult=width_mult, image_size=image_size, **kw)


@register_model(default_input_size=_MOSAIC, task="detection", tags=_TAGS,
                paper="Tian et al., FCOS, ICCV 2019; RangiLyu, NanoDet, 2020 (anchor-free nano head)")  # fmt: skip
def nanodet_mobilenetv3(
    num_classes: int = 10, in_chans: int = 1, width_mult: float = 1.0, image_size: int = 96, backbone: str = "mobilenetv3_large_100", **kw
) -> NanoDet:
    """Anchor-free nano head (FCOS/NanoDet style) on MobileNetV3."""
    return NanoDet(backbone, num_classes=num_classes, in_chans=in_chans, width_mult=width_mult, image_size=image_size, **kw)


@register_model(default_input_size=(3, 88, 88), task="detection", tags=("efficient_detection_segmentation", "quantization", "edge_systems"),
                paper="Moosmann et al., TinyissimoYOLO, 2023")  # fmt: skip
def tinyissimo_yolo(num_classes: int = 3, in_chans: int = 3, image_size: int = 88, **kw) -> TinyissimoYOLO:
    """TinyissimoYOLO at the paper's 88 x 88 RGB input and 3 classes by default."""
    return TinyissimoYOLO(num_classes=num_classes, in_chans=in_chans, image_size=image_size, **kw)


#: create_model kwargs of the real SSDLite320-MobileNetV3-Large (COCO: 90 classes + background).
SSDLITE320 = {
    "in_chans": 3, "num_classes": 90, "image_size": 320, "taps": (16, 32), "extra_layers": 4,
    "min_ratio": 0.2, "max_ratio": 0.95, "aspect_ratios": (2.0, 3.0),
}  # fmt: skip
