"""Fashion-MNIST long-range pairs: two items far apart on a blank canvas, label "same class?".

A task that needs a large receptive field: the answer depends on both items at once, and they
sit on opposite sides of the canvas. A network whose receptive field covers one item at a time
pools two independent descriptions ``f(a) + f(b)``, from which a linear classifier cannot tell
"same" from "different" (an XOR over classes); it must mix information across the gap first.

Layout (``canvas = 64``): the two 28 px items lie on opposite sides, left/right or top/bottom (a
coin flip per pair), each jittered inside its half so the gap between them is at least
``min_gap`` pixels. Half of the pairs share a class (labels: 0 = different, 1 = same). Items of
the training canvases come from the Fashion-MNIST training split, those of the test canvases
from its test split. Everything is drawn from ``numpy.random.default_rng(seed)``, so the same
arguments always give the same canvases, and the bundle's ``version`` says which.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from .fashion import FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_fashion_mnist_arrays
from .loaders import DataBundle, TensorLoader

__all__ = ["PAIRS_CLASSES", "PAIRS_FORMAT", "fmnist_pairs", "pair_canvases"]

#: Class names of the pair task, by label.
PAIRS_CLASSES = ("different", "same")
#: Bump when the canvas layout changes, so cached models trained on old canvases are not reused.
PAIRS_FORMAT = 1
_ITEM = 28


def pair_canvases(
    images: np.ndarray,
    labels: np.ndarray,
    n: int,
    *,
    canvas: int = 64,
    min_gap: int = 4,
    classes: tuple[int, ...] | list[int] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` canvases with two items each, half of them of the same class.

    Args:
        images: (N, 28, 28) uint8 source items.
        labels: (N,) their classes.
        n: canvases to draw.
        canvas: canvas side in pixels (>= 56 + ``min_gap``).
        min_gap: least number of blank pixels between the two items along their axis.
        classes: source classes the items are drawn from (>= 2; None: all). Two very different
            classes (trouser, sneaker) make "same class?" an XOR of two easy features.
        seed: seed of every random choice.

    Returns:
        ``(x, y, centres)``: (n, canvas, canvas) uint8 canvases, (n,) int64 labels (1 = same
        class), (n, 4) int64 item centres ``(row_a, col_a, row_b, col_b)`` in pixels.

    Raises:
        ValueError: a canvas too small for two items and the gap, ``n < 1``, or fewer than two
            classes (naming the valid ones).
    """
    if canvas < 2 * _ITEM + min_gap:
        raise ValueError(f"canvas must be >= {2 * _ITEM + min_gap} px for min_gap={min_gap}, got {canvas}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    valid = [int(c) for c in np.unique(labels)]
    classes = valid if classes is None else [int(c) for c in classes]
    if len(set(classes)) < 2 or not set(classes) <= set(valid):
        raise ValueError(f"classes must be >= 2 distinct labels from {valid}, got {classes}")
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(labels == c) for c in classes]
    k = len(by_class)
    same = rng.permutation(np.arange(n) % 2 == 1)  # exactly half the pairs share a class
    cls_a = rng.integers(0, k, n)
    cls_b = np.where(same, cls_a, (cls_a + rng.integers(1, k, n)) % k)
    idx_a = np.array([rng.choice(by_class[c]) for c in cls_a])
    idx_b = np.array([rng.choice(by_class[c]) for c in cls_b])
    # Along the split axis item a starts in [0, slack], item b ends in [canvas - slack, canvas]:
    # the gap between them is canvas - 56 - (offsets), at least min_gap.
    slack = (canvas - 2 * _ITEM - min_gap) // 2
    along_a = rng.integers(0, slack + 1, n)
    along_b = canvas - _ITEM - rng.integers(0, slack + 1, n)
    across_a = rng.integers(0, canvas - _ITEM + 1, n)
    across_b = rng.integers(0, canvas - _ITEM + 1, n)
    vertical = rng.random(n) < 0.5
    swap = rng.random(n) < 0.5  # which item goes first, so position says nothing about class
    x = np.zeros((n, canvas, canvas), np.uint8)
    centres = np.zeros((n, 4), np.int64)
    for i in range(n):
        a, b = (idx_b[i], idx_a[i]) if swap[i] else (idx_a[i], idx_b[i])
        pos = [(along_a[i], across_a[i]), (along_b[i], across_b[i])]
        if not vertical[i]:
            pos = [(r, c) for c, r in pos]  # split left/right: "along" is the column
        for j, (item, (r, c)) in enumerate(zip((a, b), pos, strict=True)):
            x[i, r : r + _ITEM, c : c + _ITEM] = np.maximum(x[i, r : r + _ITEM, c : c + _ITEM], images[item])
            centres[i, 2 * j : 2 * j + 2] = (r + _ITEM // 2, c + _ITEM // 2)
    return x, same.astype(np.int64), centres


def fmnist_pairs(
    n_train: int = 8000,
    n_test: int = 2000,
    *,
    canvas: int = 64,
    min_gap: int = 4,
    classes: tuple[int, ...] | list[int] | None = None,
    batch_size: int = 128,
    seed: int = 0,
    eval_batch_size: int = 512,
    cache_dir: str | os.PathLike | None = None,
) -> DataBundle:
    """The long-range pair task as a versioned :class:`DataBundle` (1 x canvas x canvas, 2 classes).

    Args:
        n_train, n_test: canvases in the training and test loaders.
        canvas: canvas side in pixels.
        min_gap: least blank pixels between the two items.
        classes: Fashion-MNIST classes the items come from (None: all ten).
        batch_size: training batch size; eval_batch_size: test batch size.
        seed: seed of the canvases (the test canvases use ``seed + 1``) and of the loader order.
        cache_dir: Fashion-MNIST cache folder (default as :func:`~workbench.data.fashion_mnist`).

    Returns:
        a bundle whose ``version`` names every argument that changes the canvases, for the bank.
    """
    arrays, info = load_fashion_mnist_arrays(cache_dir)
    xtr, ytr, _ = pair_canvases(arrays["x_train"], arrays["y_train"], n_train, canvas=canvas, min_gap=min_gap, classes=classes, seed=seed)
    xte, yte, _ = pair_canvases(arrays["x_test"], arrays["y_test"], n_test, canvas=canvas, min_gap=min_gap, classes=classes, seed=seed + 1)

    def loader(x: np.ndarray, y: np.ndarray, train: bool) -> TensorLoader:
        return TensorLoader(
            torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y),
            batch_size=batch_size if train else eval_batch_size, shuffle=train,
            drop_last=train and len(y) > batch_size, mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, seed=seed,
        )  # fmt: skip

    version = {
        "dataset": "fmnist_pairs", "format": PAIRS_FORMAT, "data": info.version, "n_train": n_train,
        "n_test": n_test, "canvas": canvas, "min_gap": min_gap,
        "classes": None if classes is None else [int(c) for c in classes], "seed": seed, "batch_size": batch_size,
    }  # fmt: skip
    return DataBundle(loader(xtr, ytr, True), loader(xte, yte, False), 2, PAIRS_CLASSES, version)
