"""Real data, offline: Fashion-MNIST (fetched once into a verified cache) and SR photos.

``wb.data.fashion_mnist(...)`` gives tensor loaders; ``wb.data.sr_eval_set(scale)`` and
``wb.data.sr_patches(scale, n)`` give super-resolution evaluation images and training patches from
photos shipped inside scikit-image / scikit-learn; ``psnr`` / ``ssim`` follow the SR papers'
Y-channel convention. See ``datasets/README.md`` for sources, licences and the split rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .fashion import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    CacheInfo,
    cache_info,
    fashion_mnist,
    fashion_mnist_heldout,
    fetch_fashion_mnist,
    load_fashion_mnist_arrays,
)
from .loaders import DataBundle, TensorLoader, stratified_indices
from .metrics import psnr, rgb_to_y, ssim
from .sr_images import (
    SR_EVAL_IMAGES,
    SR_TRAIN_IMAGES,
    SRImage,
    bicubic_resize,
    image_to_tensor,
    load_photo,
    sr_eval_set,
    sr_patches,
)

__all__ = [
    "FASHION_MNIST_CLASSES", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "CacheInfo", "cache_info",
    "fashion_mnist", "fashion_mnist_heldout", "fetch_fashion_mnist", "load_fashion_mnist_arrays", "DataBundle",
    "TensorLoader", "stratified_indices", "psnr", "rgb_to_y", "ssim", "SR_EVAL_IMAGES",
    "SR_TRAIN_IMAGES", "SRImage", "bicubic_resize", "image_to_tensor", "load_photo",
    "sr_eval_set", "sr_patches", "DATASETS", "fetch",
]  # fmt: skip

# Data sets that need fetching, by the name the CLI uses. The SR photos ship inside wheels.
DATASETS: dict[str, Callable[..., CacheInfo]] = {"fashion-mnist": fetch_fashion_mnist}


def fetch(
    name: str,
    *,
    force: bool = False,
    cache_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
) -> CacheInfo:
    """Fetch a data set by name into the local cache (a fast no-op when already cached).

    Raises:
        KeyError: unknown ``name`` (naming the valid ones).
    """
    key = name.lower().replace("_", "-")
    if key not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    return DATASETS[key](cache_dir, force=force, log=log)

# large_kernels notebook: the long-range pair task
from .pairs import PAIRS_CLASSES, fmnist_pairs, pair_canvases  # noqa: E402

__all__ += ["PAIRS_CLASSES", "fmnist_pairs", "pair_canvases"]

# detection and segmentation notebooks: Fashion-MNIST mosaics with boxes and masks
from .mosaics import MOSAICS_FORMAT, Mosaics, mosaics  # noqa: E402

__all__ += ["MOSAICS_FORMAT", "Mosaics", "mosaics"]
# tiny_lm notebook (issue 15, item 4): the seed abstracts as a character-level corpus, split by paper
from .text import TEXT_CORPUS_VERSION, TextCorpus, text_corpus  # noqa: E402

__all__ += ["TEXT_CORPUS_VERSION", "TextCorpus", "text_corpus"]
