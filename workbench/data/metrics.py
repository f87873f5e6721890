"""Image-quality metrics as the super-resolution literature reports them: PSNR and SSIM on Y.

Convention (SRCNN, FSRCNN, ESPCN, EDSR, BasicSR's ``test_y_channel``): convert RGB to the luma
channel Y of ITU-R BT.601 in the "studio swing" range [16, 235] that MATLAB's ``rgb2ycbcr``
produces, crop ``border`` pixels (= the scale factor) from every side, and compute the metric with
a peak of 255. Y is not rounded (as BasicSR; MATLAB scripts that round Y differ by ~0.01 dB).

SSIM is Wang et al. 2004: 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, statistics
over the window without sample-size correction, averaged over the "valid" positions (no padding),
as the reference MATLAB ``ssim_index`` and ``skimage.metrics.structural_similarity(...,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`` compute it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import correlate1d

__all__ = ["rgb_to_y", "psnr", "ssim"]

# BT.601 luma for R, G, B in [0, 1] -> Y in [16, 235] (MATLAB rgb2ycbcr)
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])


def rgb_to_y(img: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """BT.601 luma Y in [16, 235] (float64) of (..., 3) RGB values in [0, data_range]."""
    img = np.asarray(img, dtype=np.float64)
    if img.shape[-1:] != (3,):
        raise ValueError(f"expected RGB images with channels last (..., 3), got shape {img.shape}")
    return 16.0 + img @ _Y_WEIGHTS / data_range


def _prepare(
    a, b, border: int, y_channel: bool, data_range: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Both images as float64 (H, W, C) on a 0..peak scale, Y-converted and border-cropped."""
    a, b = (np.asarray(v, dtype=np.float64) for v in (a, b))
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    if a.ndim != 3:
        raise ValueError(f"expected (H, W) or (H, W, C) images, got shape {a.shape}")
    peak = data_range
    if y_channel and a.shape[-1] == 3:
        a, b = rgb_to_y(a, data_range)[..., None], rgb_to_y(b, data_range)[..., None]
        peak = 255.0
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return a, b, peak


def psnr(a, b, *, border: int = 0, y_channel: bool = True, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(peak^2 / MSE)``.

    Args:
        a, b: images of the same shape, (H, W) or (H, W, C), values in [0, ``data_range``].
        border: pixels cropped from each side before comparing (SR convention: the scale).
        y_channel: for RGB inputs, compare BT.601 Y (peak 255) instead of all channels.
        data_range: the inputs' peak value (255 for uint8, 1.0 for [0, 1] floats).

    Returns:
        PSNR in dB; ``inf`` for identical images.
    """
    a, b, peak = _prepare(a, b, border, y_channel, data_range)
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    g = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * sigma**2))
    return g / g.sum()


def _filter_valid(t: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter of (..., H, W), keeping only 'valid' (unpadded) positions."""
    r = len(g) // 2
    t = correlate1d(correlate1d(t, g, axis=-1), g, axis=-2)
    return t[..., r:-r, r:-r]


def ssim(a, b, *, border: int = 0, y_channel: bool = True, data_range: float = 255.0) -> float:
    """Structural similarity (Wang et al. 2004), mean over valid window positions and channels.

    Args:
        a, b: images of the same shape, (H, W) or (H, W, C), values in [0, ``data_range``].
        border: pixels cropped from each side before comparing (SR convention: the scale).
        y_channel: for RGB inputs, compare BT.601 Y instead of averaging over channels.
        data_range: the inputs' peak value.

    Returns:
        SSIM in [-1, 1]; 1.0 for identical images.
    """
    a, b, peak = _prepare(a, b, border, y_channel, data_range)
    x, y = a.transpose(2, 0, 1), b.transpose(2, 0, 1)  # (C, H, W)
    g = _gaussian_1d()
    if min(x.shape[-2:]) < len(g):
        raise ValueError(f"images must be at least 11x11 after the border crop, got {x.shape[-2:]}")
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    # float64 throughout: var = E[x^2] - E[x]^2 cancels badly in float32 at a 255 scale
    mu_x, mu_y, xx, yy, xy = _filter_valid(np.stack([x, y, x * x, y * y, x * y]), g)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return float(s.mean())
