"""Super-resolution data from photographs shipped inside installed wheels (no download).

scikit-image's ``skimage/data/`` folder and scikit-learn's ``load_sample_image`` carry real
photos. They are split once, by image, so no evaluation photo is ever a training patch source:

* ``SR_EVAL_IMAGES`` (5 RGB photos) -> :func:`sr_eval_set`: the HR image centre-cropped to a
  multiple of 12 (so x2, x3 and x4 divide it, the "modcrop" of SR papers), its bicubic LR, and
  the bicubic upscale of that LR (the baseline every SR paper reports).
* ``SR_TRAIN_IMAGES`` (10 other photos/textures; grayscale ones repeated to RGB) ->
  :func:`sr_patches`: deterministic aligned LR/HR patch pairs with random flips and rotations.

Degradation: PIL's bicubic resize (Keys kernel with a = -0.5, antialiased when shrinking, 8-bit
output). The SR literature uses MATLAB ``imresize`` (also a = -0.5 and antialiased), so the kernel
is the same but edge handling and rounding differ slightly; published Set5/Set14 PSNRs are
therefore not exactly reproducible with this pipeline (expect differences of order 0.1 dB).
torch's ``interpolate(mode='bicubic')`` uses a = -0.75 and is further from MATLAB, so it is not
used here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .metrics import rgb_to_y

__all__ = [
    "SR_EVAL_IMAGES",
    "SR_TRAIN_IMAGES",
    "SRImage",
    "load_photo",
    "bicubic_resize",
    "sr_eval_set",
    "sr_patches",
    "image_to_tensor",
]

SR_EVAL_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "china")
SR_TRAIN_IMAGES = (
    "flower", "hubble_deep_field", "immunohistochemistry", "camera", "brick",
    "grass", "gravel", "coins", "moon", "cell",
)  # fmt: skip
_SKLEARN_IMAGES = {"china": "china.jpg", "flower": "flower.jpg"}
SCALES = (2, 3, 4)


@functools.cache
def load_photo(name: str) -> np.ndarray:
    """An (H, W, 3) uint8 RGB photo from skimage.data or sklearn's sample images (read-only).

    Raises:
        KeyError: ``name`` is neither a shipped skimage image nor ``'china'``/``'flower'``.
    """
    if name in _SKLEARN_IMAGES:
        from sklearn.datasets import load_sample_image

        img = load_sample_image(_SKLEARN_IMAGES[name])
    else:
        import skimage.data

        valid = (*SR_EVAL_IMAGES, *SR_TRAIN_IMAGES)
        # only images present in the wheel: others (e.g. 'kidney') would trigger a pooch download
        if name not in valid:
            raise KeyError(f"unknown photo {name!r}; valid: {', '.join(valid)}")
        img = getattr(skimage.data, name)()
    img = np.asarray(img, dtype=np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    img = np.ascontiguousarray(img[..., :3])
    img.flags.writeable = False
    return img


def bicubic_resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an (H, W, 3) uint8 image with PIL bicubic (antialiased when shrinking) -> uint8."""
    return np.asarray(Image.fromarray(np.asarray(img)).resize((width, height), Image.BICUBIC))


def _modcrop(img: np.ndarray, multiple: int = 12) -> np.ndarray:
    h, w = (s - s % multiple for s in img.shape[:2])
    top, left = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    return img[top : top + h, left : left + w]


@dataclass(frozen=True)
class SRImage:
    """One evaluation image at one scale; arrays are (H, W, 3) uint8 RGB.

    Attributes:
        name: photo name.
        scale: upscaling factor.
        hr: ground truth, H and W divisible by 12.
        lr: bicubic downscale of ``hr`` by ``scale``.
        bicubic: bicubic upscale of ``lr`` back to ``hr``'s size (the baseline).
    """

    name: str
    scale: int
    hr: np.ndarray
    lr: np.ndarray
    bicubic: np.ndarray


def _check_scale(scale: int) -> None:
    if scale not in SCALES:
        raise ValueError(f"unsupported scale {scale}; valid: {', '.join(map(str, SCALES))}")


@functools.cache
def sr_eval_set(scale: int = 2, names: tuple[str, ...] = SR_EVAL_IMAGES) -> tuple[SRImage, ...]:
    """The fixed evaluation set at ``scale`` (cached in memory).

    Raises:
        ValueError: scale not in 2, 3, 4, or a name that is also a training image.
    """
    _check_scale(scale)
    overlap = set(names) & set(SR_TRAIN_IMAGES)
    if overlap:
        raise ValueError(f"evaluation images {sorted(overlap)} are training images")
    out = []
    for name in names:
        hr = _modcrop(load_photo(name))
        h, w = hr.shape[:2]
        lr = bicubic_resize(hr, h // scale, w // scale)
        out.append(SRImage(name, scale, hr, lr, bicubic_resize(lr, h, w)))
    return tuple(out)


@functools.cache
def _train_pairs(scale: int, names: tuple[str, ...]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    pairs = []
    for name in names:
        hr = _modcrop(load_photo(name), scale)
        pairs.append((hr, bicubic_resize(hr, hr.shape[0] // scale, hr.shape[1] // scale)))
    return tuple(pairs)


def sr_patches(
    scale: int,
    n: int,
    *,
    lr_patch: int = 24,
    seed: int = 0,
    channels: str = "rgb",
    names: tuple[str, ...] = SR_TRAIN_IMAGES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` aligned (LR, HR) training patches, deterministic for ``seed``.

    Each patch picks an image with probability proportional to its area, a uniform LR position,
    and one of the 8 flips/rotations (applied to both LR and HR).

    Args:
        scale: 2, 3 or 4.
        n: number of patch pairs.
        lr_patch: LR patch side in pixels; HR patches are ``lr_patch * scale``.
        seed: patches for seed ``s`` are always the same (use ``seed + epoch`` for fresh ones).
        channels: ``'rgb'`` (3 channels) or ``'y'`` (BT.601 luma / 255, 1 channel).
        names: source photos; must not include evaluation images.

    Returns:
        ``lr`` (n, C, lr_patch, lr_patch) and ``hr`` (n, C, lr_patch*scale, lr_patch*scale),
        float32 in [0, 1].
    """
    _check_scale(scale)
    if channels not in ("rgb", "y"):
        raise ValueError(f"unknown channels {channels!r}; valid: rgb, y")
    if set(names) & set(SR_EVAL_IMAGES):
        raise ValueError(
            f"training photos overlap the evaluation set: {sorted(set(names) & set(SR_EVAL_IMAGES))}"
        )
    pairs = _train_pairs(scale, tuple(names))
    areas = np.array([lr.shape[0] * lr.shape[1] for _, lr in pairs], dtype=np.float64)
    rng = np.random.default_rng(seed)
    which = rng.choice(len(pairs), size=n, p=areas / areas.sum())
    lrs, hrs = [], []
    for i in which:
        hr, lr = pairs[i]
        top = int(rng.integers(0, lr.shape[0] - lr_patch + 1))
        left = int(rng.integers(0, lr.shape[1] - lr_patch + 1))
        lp = lr[top : top + lr_patch, left : left + lr_patch]
        hp = hr[top * scale : (top + lr_patch) * scale, left * scale : (left + lr_patch) * scale]
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        lp, hp = np.rot90(lp, k), np.rot90(hp, k)
        if flip:
            lp, hp = lp[:, ::-1], hp[:, ::-1]
        lrs.append(lp)
        hrs.append(hp)
    return _to_tensor(np.stack(lrs), channels), _to_tensor(np.stack(hrs), channels)


def _to_tensor(batch: np.ndarray, channels: str) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, C, H, W) float32 in [0, 1] (Y: luma / 255)."""
    if channels == "y":
        return torch.from_numpy((rgb_to_y(batch) / 255.0).astype(np.float32))[:, None]
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))).float().div_(255.0)


def image_to_tensor(img: np.ndarray, channels: str = "rgb") -> torch.Tensor:
    """One (H, W, 3) uint8 image -> (1, C, H, W) float32 in [0, 1], as :func:`sr_patches` gives."""
    return _to_tensor(np.asarray(img)[None], channels)
