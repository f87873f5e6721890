"""Fashion-MNIST mosaics: real item images on a synthetic layout, for detection and segmentation.

COCO, VOC and Cityscapes are not available offline, so each canvas (``size`` x ``size`` px,
grayscale) holds 1 to ``max_items`` Fashion-MNIST items, each resized to a random side in
``scales`` (px) and pasted where it does not overlap the items already placed, on a faint noise
background. Every item gives:

* a box: the tight box (``xyxy``, pixels, exclusive right/bottom edge) of its pixels above
  ``threshold``;
* a label: its Fashion-MNIST class (0-9);
* an instance mask: its pixels above ``threshold``.

The semantic mask is 0 for background and ``label + 1`` on an item's mask pixels (11 classes).
Items of the ``"train"`` split come from the Fashion-MNIST training images, those of the
``"test"`` split from its test images, so no item image is shared. Everything is drawn from
``numpy.random.default_rng([seed, split])``: the same arguments always give the same canvases,
and :attr:`Mosaics.version` names them for cache keys. :data:`TEST_SEED` fixes the test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .fashion import load_fashion_mnist_arrays

__all__ = ["MOSAICS_FORMAT", "TEST_SEED", "Mosaics", "mosaics"]

#: Bump when the layout changes, so models trained on old canvases are not reused.
MOSAICS_FORMAT = 1
#: The seed of the fixed test set (use ``mosaics(n, split="test")``).
TEST_SEED = 1234
_SPLITS = {"train": 0, "test": 1}
_BG_NOISE = 12.0  # background noise std (grey levels): the detector must not key on "any non-zero pixel"


@dataclass(frozen=True)
class Mosaics:
    """``n`` canvases with their annotations.

    Attributes:
        images: (n, 1, size, size) float32 in [0, 1].
        boxes: per canvas, (k, 4) float32 ``xyxy`` boxes in pixels.
        labels: per canvas, (k,) int64 Fashion-MNIST classes.
        instance_masks: per canvas, (k, size, size) bool.
        semantic: (n, size, size) int64: 0 background, ``label + 1`` on items.
        version: a string naming the generator and its arguments (for cache keys).
    """

    images: torch.Tensor
    boxes: list[torch.Tensor]
    labels: list[torch.Tensor]
    instance_masks: list[torch.Tensor]
    semantic: torch.Tensor
    version: str

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def size(self) -> int:
        """Canvas side in pixels."""
        return self.images.shape[-1]

    def targets(self, i: int | None = None) -> list[dict[str, torch.Tensor]] | dict[str, torch.Tensor]:
        """torchvision-style targets ``{"boxes", "labels"}`` of canvas ``i`` (all canvases if ``None``)."""
        if i is not None:
            return {"boxes": self.boxes[i], "labels": self.labels[i]}
        return [{"boxes": b, "labels": lab} for b, lab in zip(self.boxes, self.labels, strict=True)]

    def resized(self, size: int) -> Mosaics:
        """The same canvases resampled to ``size`` px (bilinear, antialiased), boxes scaled, masks nearest.

        For input-resolution sweeps of a model trained at another size.
        """
        if size < 8:
            raise ValueError(f"size must be >= 8, got {size}")
        f = size / self.size
        img = F.interpolate(self.images, size=(size, size), mode="bilinear", align_corners=False, antialias=f < 1)
        sem = F.interpolate(self.semantic[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()
        inst = [F.interpolate(m[:, None].float(), size=(size, size), mode="nearest")[:, 0].bool() if len(m) else
                torch.zeros((0, size, size), dtype=torch.bool) for m in self.instance_masks]  # fmt: skip
        return Mosaics(img.clamp(0, 1), [b * f for b in self.boxes], list(self.labels), inst, sem, f"{self.version}-r{size}")

    def items_per_canvas(self) -> float:
        """Mean number of items on a canvas."""
        return float(np.mean([len(b) for b in self.boxes]))


def _overlaps(box: tuple[int, int, int, int], placed: list[tuple[int, int, int, int]], gap: int) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] + gap and b[0] < x1 + gap and y0 < b[3] + gap and b[1] < y1 + gap for b in placed)


def mosaics(
    n: int,
    *,
    size: int = 96,
    max_items: int = 4,
    scales: tuple[int, int] = (16, 48),
    threshold: int = 40,
    seed: int | None = None,
    split: str = "train",
    cache_dir=None,
) -> Mosaics:
    """``n`` deterministic mosaic canvases (see the module docstring).

    Args:
        n: canvases (>= 1).
        size: canvas side in pixels (>= 2 x the largest scale; the notebooks use 96-128).
        max_items: most items per canvas (1-8); each canvas gets 1..max_items, uniformly.
        scales: (smallest, largest) item side in pixels, inclusive.
        threshold: grey level (0-255) above which a pixel of the resized item belongs to it.
        seed: random seed; default 0 for ``"train"`` and :data:`TEST_SEED` for ``"test"``.
        split: ``"train"`` (Fashion-MNIST training items) or ``"test"`` (its test items).
        cache_dir: Fashion-MNIST cache (default: the workbench cache).

    Raises:
        ValueError: a bad ``split``, ``n``, ``size``, ``max_items``, ``scales`` or ``threshold``.
    """
    if split not in _SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(_SPLITS)}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 1 <= max_items <= 8:
        raise ValueError(f"max_items must be in 1..8, got {max_items}")
    lo, hi = int(scales[0]), int(scales[1])
    if not 8 <= lo <= hi:
        raise ValueError(f"scales must be (lo, hi) with 8 <= lo <= hi, got {scales}")
    if size < 2 * hi:
        raise ValueError(f"size must be >= 2 x the largest scale ({2 * hi}), got {size}")
    if not 0 < threshold < 255:
        raise ValueError(f"threshold must be in 1..254, got {threshold}")
    seed = (0 if split == "train" else TEST_SEED) if seed is None else int(seed)
    arrays, _ = load_fashion_mnist_arrays(cache_dir)
    src_x = arrays["x_train" if split == "train" else "x_test"]
    src_y = arrays["y_train" if split == "train" else "y_test"]
    rng = np.random.default_rng([seed, _SPLITS[split]])

    images = np.zeros((n, size, size), np.float32)
    semantic = np.zeros((n, size, size), np.int64)
    boxes, labels, inst = [], [], []
    for i in range(n):
        canvas = rng.normal(0.0, _BG_NOISE, (size, size)).clip(0, 255).astype(np.float32)
        placed, bxs, lbs, masks = [], [], [], []
        k = int(rng.integers(1, max_items + 1))
        for _attempt in range(3 * k):  # an item that does not fit is replaced, so a canvas gets its k items
            if len(bxs) == k:
                break
            j = int(rng.integers(len(src_x)))
            side = int(rng.integers(lo, hi + 1))
            item = F.interpolate(
                torch.from_numpy(src_x[j]).float()[None, None], size=(side, side), mode="bilinear",
                align_corners=False, antialias=side < 28,
            )[0, 0].numpy()  # fmt: skip
            mask = item > threshold
            if not mask.any():
                continue
            rows, cols = np.nonzero(mask)
            r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            for _try in range(20):  # rejection sampling: items never overlap, so masks are exact
                y, x = int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1))
                box = (x + c0, y + r0, x + c1, y + r1)
                if not _overlaps(box, placed, gap=1):
                    break
            else:
                continue
            placed.append(box)
            region = canvas[y : y + side, x : x + side]
            np.maximum(region, item, out=region)
            full = np.zeros((size, size), bool)
            full[y : y + side, x : x + side] = mask
            semantic[i][full] = int(src_y[j]) + 1
            bxs.append(box)
            lbs.append(int(src_y[j]))
            masks.append(full)
        images[i] = canvas / 255.0
        boxes.append(torch.tensor(bxs, dtype=torch.float32).reshape(-1, 4))
        labels.append(torch.tensor(lbs, dtype=torch.int64))
        inst.append(torch.from_numpy(np.stack(masks)) if masks else torch.zeros((0, size, size), dtype=torch.bool))
    version = f"mosaics-v{MOSAICS_FORMAT}-{split}-n{n}-s{size}-k{max_items}-sc{lo}_{hi}-t{threshold}-seed{seed}"
    return Mosaics(torch.from_numpy(images)[:, None], boxes, labels, inst, torch.from_numpy(semantic), version)
