"""Tensor-backed batch loaders: the whole data set sits in memory as uint8, batches are sliced.

Fashion-MNIST is 55 MB as uint8, so a ``DataLoader`` with per-item PIL transforms would spend most
of its time in Python. Here each batch is one index operation, a dtype conversion and (optionally)
a vectorised random crop + flip, all on tensors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["TensorLoader", "DataBundle", "stratified_indices"]


def stratified_indices(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced subset of ``n`` items, deterministic and nested in ``n``.

    Each class gets ``n // C`` items, the first ``n % C`` classes one more; within a class the
    items are the first of a seeded permutation, so ``subset=1000`` is contained in ``subset=2000``.

    Raises:
        ValueError: ``n`` is not in 1..len(labels), or a class has too few items.
    """
    classes = np.unique(labels)
    if not 1 <= n <= len(labels):
        raise ValueError(f"subset must be in 1..{len(labels)}, got {n}")
    rng = np.random.default_rng(seed)
    picked = []
    for i, c in enumerate(classes):
        k = n // len(classes) + (i < n % len(classes))
        idx = np.flatnonzero(labels == c)
        if k > len(idx):
            raise ValueError(f"subset={n} needs {k} items of class {c}, only {len(idx)} exist")
        picked.append(idx[rng.permutation(len(idx))[:k]])
    return np.sort(np.concatenate(picked))


class TensorLoader:
    """Iterates ``(x, y)`` batches from in-memory uint8 images.

    Args:
        images: (N, C, H, W) uint8 tensor.
        labels: (N,) int64 tensor.
        batch_size: images per batch.
        shuffle: draw a fresh permutation each epoch (training) or keep the order (evaluation).
        drop_last: skip a final short batch (training keeps BatchNorm statistics sane).
        mean, std: normalisation in pixel / 255 units, applied per batch.
        resize: output side in pixels (bilinear, e.g. 32 for models built for CIFAR-sized inputs);
            None keeps the stored size.
        augment: random crop with ``pad`` zero pixels of padding + horizontal flip, per image.
        pad: padding for the random crop, pixels.
        seed: base seed of shuffling and augmentation; epoch ``e`` uses ``(seed, e)``.

    Batches are float32 (B, C, H', W'), normalised. ``len(loader)`` is the number of batches.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int = 256,
        shuffle: bool = False,
        drop_last: bool = False,
        mean: float = 0.0,
        std: float = 1.0,
        resize: int | None = None,
        augment: bool = False,
        pad: int = 2,
        seed: int = 0,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                f"images must be (N, C, H, W) uint8, got {images.dtype} {tuple(images.shape)}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.mean, self.std, self.resize = mean, std, resize
        self.augment, self.pad, self.seed = augment, pad, seed
        self._epoch = 0

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_samples(self) -> int:
        return len(self.labels)

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the batches this loader yields."""
        c, h, w = self.images.shape[1:]
        return (c, self.resize, self.resize) if self.resize else (c, h, w)

    def with_options(self, **changes) -> TensorLoader:
        """A loader over the same tensors with some options changed (``batch_size=512``...)."""
        opts = dict(
            batch_size=self.batch_size, shuffle=self.shuffle, drop_last=self.drop_last,
            mean=self.mean, std=self.std, resize=self.resize, augment=self.augment,
            pad=self.pad, seed=self.seed,
        )  # fmt: skip
        unknown = set(changes) - set(opts)
        if unknown:
            raise KeyError(f"unknown loader option(s) {sorted(unknown)}; valid: {sorted(opts)}")
        return TensorLoader(self.images, self.labels, **{**opts, **changes})

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self._epoch += 1
        return self.epoch(self._epoch - 1)

    def epoch(
        self, epoch: int, seed: int | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of epoch ``epoch``; the same (seed, epoch) always gives the same batches."""
        g = torch.Generator().manual_seed((self.seed if seed is None else seed) * 100_003 + epoch)
        n = len(self.labels)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield self._transform(self.images[idx], g), self.labels[idx]

    def _transform(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.augment:
            x = _random_crop_flip(x, self.pad, g)
        x = x.float().div_(255.0)
        if self.resize and self.resize != x.shape[-1]:
            x = F.interpolate(
                x,
                size=(self.resize, self.resize),
                mode="bilinear",
                align_corners=False,
                antialias=False,
            )
        return x.sub_(self.mean).div_(self.std)


def _random_crop_flip(x: torch.Tensor, pad: int, g: torch.Generator) -> torch.Tensor:
    """Per-image random crop of a zero-padded batch (offsets 0..2*pad) and a coin-flip h-flip."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=g)
    flip = torch.rand(b, generator=g) < 0.5
    cols = torch.arange(w)
    cols = torch.where(flip[:, None], cols.flip(0), cols) + dx[:, None]  # (B, W)
    rows = torch.arange(h) + dy[:, None]  # (B, H)
    bi = torch.arange(b)[:, None, None]
    # padded is (B, C, H+2p, W+2p); gather (B, H, W, C) then back to channels-first
    out = padded.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


@dataclass
class DataBundle:
    """A train/test pair of loaders plus what a model and a results cache need to know.

    Attributes:
        train: training loader (shuffled, maybe augmented).
        test: evaluation loader (fixed order), or None.
        num_classes: classifier outputs.
        class_names: one name per class index.
        version: data identity for cache keys (source, split, digest, subset, resize, augment...).
    """

    train: TensorLoader
    test: TensorLoader | None
    num_classes: int
    class_names: tuple[str, ...]
    version: dict = field(default_factory=dict)

    @property
    def in_chans(self) -> int:
        return self.train.sample_shape[0]

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) of the batches."""
        return self.train.sample_shape
