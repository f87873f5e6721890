"""Training loop: determinism, evaluation, callbacks, results cache, SR training, plots.

Only ``test_fit_learns_real_fashion_mnist`` needs the real Fashion-MNIST cache (``workbench data
fetch fashion-mnist``); it skips when the cache is absent. The rest use synthetic tensors.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from torch import nn

import workbench.data as wbd
from workbench import train
from workbench.plots.training import confusion_matrix, training_curves


def synthetic_bundle(
    n_train: int = 96, n_test: int = 40, classes: int = 4, seed: int = 0
) -> wbd.DataBundle:
    """Images whose mean brightness encodes the class, so a tiny net can learn them."""
    g = torch.Generator().manual_seed(seed)

    def make(n):
        y = torch.arange(n) % classes
        base = (y * (200 // classes) + 20).view(n, 1, 1, 1)
        x = (base + torch.randint(0, 30, (n, 1, 8, 8), generator=g)).clamp(0, 255).to(torch.uint8)
        return x, y

    xtr, ytr = make(n_train)
    xte, yte = make(n_test)
    return wbd.DataBundle(
        wbd.TensorLoader(xtr, ytr, batch_size=16, shuffle=True, drop_last=True, mean=0.5, std=0.3),
        wbd.TensorLoader(xte, yte, batch_size=32, mean=0.5, std=0.3),
        num_classes=classes, class_names=tuple("abcd"[:classes]), version={"synthetic": seed},
    )  # fmt: skip


def tiny_net(classes: int = 4) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, classes),
    )  # fmt: skip


def seeded_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return tiny_net()


def test_fit_is_deterministic_for_a_seed():
    data = synthetic_bundle()
    kw = dict(epochs=2, lr=0.05, seed=3, threads=1, progress=False)
    h1 = train.fit(seeded_net(), data, **kw)
    h2 = train.fit(seeded_net(), data, **kw)
    assert (
        h1.train_loss == h2.train_loss
        and h1.test_acc == h2.test_acc
        and h1.test_loss == h2.test_loss
    )
    h3 = train.fit(seeded_net(), data, **{**kw, "seed": 4})
    assert h3.train_loss != h1.train_loss
    df = h1.to_frame()
    assert list(df["epoch"]) == [1, 2] and {
        "train_acc",
        "test_acc",
        "images_per_s",
        "seconds",
    } <= set(df)
    assert h1.final_acc == h1.test_acc[-1] and h1.best_acc == max(h1.test_acc)


def test_eval_every_skips_middle_epochs_but_never_the_last():
    data = synthetic_bundle()
    kw = dict(lr=0.05, seed=3, threads=1, progress=False)
    every = train.fit(seeded_net(), data, epochs=3, **kw)
    h = train.fit(seeded_net(), data, epochs=3, eval_every=2, **kw)
    assert [math.isnan(a) for a in h.test_acc] == [True, False, False]
    assert h.train_loss == every.train_loss, "evaluation must not change training"
    assert h.test_acc[1:] == every.test_acc[1:] and h.eval_seconds[0] == pytest.approx(0, abs=1e-3)
    assert h.best_acc == max(every.test_acc[1:])
    last = train.fit(seeded_net(), data, epochs=3, eval_every=3, **kw)
    assert [math.isnan(a) for a in last.test_acc] == [True, True, False] and last.final_acc == every.final_acc
    with pytest.raises(ValueError, match="eval_every"):
        train.fit(seeded_net(), data, eval_every=0, progress=False)


def test_fit_learns_and_schedules():
    data = synthetic_bundle()
    torch.manual_seed(0)
    h = train.fit(tiny_net(), data, epochs=6, lr=0.1, optimizer="adamw", schedule="cosine", weight_decay=0.0,
                  seed=0, threads=1, progress=False)  # fmt: skip
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.final_acc >= 75.0  # 4 well-separated classes; chance is 25 %
    assert h.lr[-1] == pytest.approx(0.0, abs=1e-9)  # cosine ends at 0
    with pytest.raises(ValueError, match="sgd, adamw"):
        train.fit(tiny_net(), data, optimizer="lamb", progress=False)
    with pytest.raises(ValueError, match="onecycle"):
        train.fit(tiny_net(), data, schedule="step", progress=False)


def test_max_batches_callbacks_and_loss_fn():
    data = synthetic_bundle()

    class Counter:
        def __init__(self):
            self.steps, self.epochs, self.started, self.ended = 0, 0, 0, 0

        def on_fit_start(self, state):
            self.started += 1

        def on_step(self, state):
            assert state.loss is not None and state.global_step == self.steps
            self.steps += 1

        def on_epoch_end(self, state, history):
            self.epochs += 1
            assert len(history.epoch) == self.epochs

        def on_fit_end(self, state, history):
            self.ended += 1

    calls = []

    def loss_fn(model, x, y, out):
        calls.append(len(y))
        return nn.functional.cross_entropy(out, y)

    cb, only_step = Counter(), type("OnlyStep", (), {"n": 0, "on_step": lambda self, s: None})()
    h = train.fit(seeded_net(), data, epochs=2, max_batches=3, loss_fn=loss_fn, callbacks=(cb, only_step),
                  progress=False, threads=1)  # fmt: skip
    assert (cb.started, cb.steps, cb.epochs, cb.ended) == (1, 6, 2, 1)
    assert calls == [16] * 6
    assert h.images_per_s[0] > 0 and not math.isnan(h.test_acc[0])


def test_evaluate_confusion_matrix():
    data = synthetic_bundle(n_test=37)
    model = seeded_net().eval()
    r = train.evaluate(model, data)
    assert r.n == 37 and r.confusion.sum() == 37 and r.confusion.shape == (4, 4)
    assert r.accuracy == pytest.approx(100 * np.trace(r.confusion) / 37)
    assert r.confusion.sum(1).tolist() == [10, 9, 9, 9]
    np.testing.assert_allclose(
        r.per_class_accuracy, 100 * np.diag(r.confusion) / r.confusion.sum(1)
    )
    assert r.class_names == ("a", "b", "c", "d") and len(r.to_frame()) == 4
    # the loss is the mean cross-entropy over all images
    x = torch.cat([b[0] for b in data.test])
    y = torch.cat([b[1] for b in data.test])
    with torch.no_grad():
        assert r.loss == pytest.approx(float(nn.functional.cross_entropy(model(x), y)), rel=1e-5)


def test_checkpoint_roundtrip(tmp_path):
    a, b = seeded_net(0), seeded_net(1)
    train.save_checkpoint(a, tmp_path / "a.pt")
    train.load_checkpoint(b, tmp_path / "a.pt")
    assert all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_cached_fit_hits_second_time(tmp_path, monkeypatch):
    data = synthetic_bundle()
    calls = []
    real_fit = train.fit
    monkeypatch.setattr(train, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    kw = dict(build=tiny_net, cache_dir=tmp_path, epochs=1, lr=0.05, progress=False, threads=1)
    r1 = train.cached_fit("tiny", data, **kw)
    r2 = train.cached_fit("tiny", data, **{**kw, "progress": True})  # progress is not in the key
    assert not r1.cache_hit and r2.cache_hit and len(calls) == 1 and r1.path == r2.path
    assert (
        r2.history.train_loss == r1.history.train_loss
        and r2.history.meta["params"] == r1.history.meta["params"]
    )
    assert all(
        torch.equal(p, q)
        for p, q in zip(r1.model.state_dict().values(), r2.model.state_dict().values(), strict=True)
    )
    r3 = train.cached_fit("tiny", data, **{**kw, "lr": 0.01})
    assert not r3.cache_hit and r3.path != r1.path and len(calls) == 2
    r4 = train.cached_fit("tiny", data, refresh=True, **kw)
    assert not r4.cache_hit and len(calls) == 3
    with pytest.raises(ValueError, match="tag"):
        train.cached_fit("tiny", data, callbacks=(object(),), **kw)


def test_fit_learns_real_fashion_mnist():
    if wbd.cache_info() is None:
        pytest.skip("real Fashion-MNIST cache absent: run `workbench data fetch fashion-mnist`")
    from workbench.models import create_model

    data = wbd.fashion_mnist(subset=3000, test_subset=1000, batch_size=64)
    torch.manual_seed(0)
    h = train.fit(
        create_model("reference_cnn", num_classes=10), data, epochs=2, lr=0.1, threads=1, progress=False, channels_last=True
    )
    assert h.final_acc > 65.0  # chance is 10 %; the full run reaches ~90 %


class TinySR(nn.Module):
    def __init__(self, scale: int = 2, chans: int = 3):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(chans, 8, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(8, chans * scale**2, 3, padding=1), nn.PixelShuffle(scale))  # fmt: skip

    def forward(self, x):
        return self.body(x)


def test_fit_sr_and_evaluate_sr():
    torch.manual_seed(0)
    model = TinySR()
    h = train.fit_sr(
        model, 2, epochs=1, steps_per_epoch=3, batch_size=4, lr_patch=12, threads=1, progress=False
    )
    assert len(h.psnr) == 1 and h.meta["channels"] == "rgb" and h.train_loss[0] > 0
    assert 25 < h.bicubic_psnr < 40 and 0.7 < h.bicubic_ssim < 1
    df = train.evaluate_sr(model, 2)
    assert list(df["image"]) == list(wbd.SR_EVAL_IMAGES)
    assert df.psnr.mean() == pytest.approx(h.psnr[-1])
    y_model = TinySR(chans=1)
    dfy = train.evaluate_sr(y_model, 2)  # channels inferred from the first conv
    assert dfy.bicubic_psnr.mean() == pytest.approx(h.bicubic_psnr)  # same Y-channel baseline
    with pytest.raises(ValueError, match="HR size"):
        train.evaluate_sr(TinySR(scale=3), 2)


def test_training_plots():
    data = synthetic_bundle()
    h = train.fit(seeded_net(), data, epochs=2, progress=False, threads=1)
    fig = training_curves({"a": h, "b": h}, title="t")
    assert isinstance(fig, go.Figure) and len(fig.data) == 8
    r = train.evaluate(seeded_net().eval(), data)
    cm = confusion_matrix(r)
    z = np.asarray(cm.data[0].z)
    np.testing.assert_allclose(np.nansum(z, 1)[r.confusion.sum(1) > 0], 100.0)
    assert list(cm.data[0].x) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError):
        confusion_matrix(np.zeros((2, 3)))


# ---------------------------------------------------------------- validation and robustness


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(lr=float("nan")), "lr"), (dict(lr=float("inf")), "lr"), (dict(lr=0.0), "lr"),
        (dict(lr=-0.1), "lr"), (dict(max_batches=0), "max_batches"), (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"), (dict(optimizer="lamb"), "sgd, adamw"),
        (dict(schedule="step"), "constant, cosine, onecycle"), (dict(precision="fp16"), "fp32, bf16"),
        (dict(device="tpu"), "auto"),
    ],
)  # fmt: skip
def test_fit_rejects_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        train.fit(seeded_net(), synthetic_bundle(), progress=False, **kw)


def test_nan_loss_stops_training_with_epoch_and_step():
    steps = []

    def loss_fn(model, x, y, out):
        steps.append(1)
        loss = nn.functional.cross_entropy(out, y)
        return loss * float("nan") if len(steps) == 3 else loss

    net = seeded_net()
    with pytest.raises(FloatingPointError, match="epoch 1, step 3"):
        train.fit(net, synthetic_bundle(), epochs=2, loss_fn=loss_fn, progress=False, threads=1)
    assert len(steps) == 3  # stopped at once
    assert all(torch.isfinite(p).all() for p in net.parameters())  # the NaN step was not applied


def test_nan_loss_is_never_cached(tmp_path):
    data = synthetic_bundle()

    def inf_loss(model, x, y, out):
        return nn.functional.cross_entropy(out, y) * float("inf")

    kw = dict(build=tiny_net, cache_dir=tmp_path, epochs=1, progress=False, threads=1)
    with pytest.raises(FloatingPointError):
        train.cached_fit("tiny", data, loss_fn=inf_loss, tag="inf", **kw)
    assert not list(tmp_path.glob("*/history.json")) and not list(tmp_path.glob("*/model.pt"))
    r = train.cached_fit("tiny", data, loss_fn=lambda m, x, y, o: nn.functional.cross_entropy(o, y),
                         tag="inf", **kw)  # fmt: skip
    assert not r.cache_hit


def test_torch_onecycle_crashes_on_four_steps_and_ours_does_not():
    # the bug as reported: torch's OneCycleLR with 4 total steps and a 25 % warm-up divides by 0
    opt = torch.optim.SGD(tiny_net().parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(ZeroDivisionError):
        torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=4, pct_start=0.25)
    h = train.fit(seeded_net(), synthetic_bundle(n_train=64), epochs=1, max_batches=4, progress=False, threads=1)
    assert len(h.epoch) == 1 and math.isfinite(h.train_loss[0])


@pytest.mark.parametrize("total", [1, 2, 3, 4, 5, 8, 100])
def test_onecycle_any_length_peaks_at_lr_and_anneals(total):
    opt = train.build_optimizer(tiny_net(), "sgd", 0.1)
    sched = train.build_schedule(opt, "onecycle", 0.1, total)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(total):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    used = lrs[:total]  # the rate of each optimizer step (the last entry is past the schedule)
    assert all(math.isfinite(v) and v > 0 for v in used)
    if total == 1:
        assert used == [pytest.approx(0.1)]
    else:
        assert used[0] < 0.01 and used[-1] < 0.01  # warm start, annealed end
    if total >= 3:
        assert max(used) > 0.05  # it does reach (near) the peak


def test_device_auto(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert train.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        train.resolve_device("cuda")
    h = train.fit(seeded_net(), synthetic_bundle(), device="auto", progress=False, threads=1)
    assert h.meta["device"] == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert train.resolve_device("auto").type == "cuda"


def test_bf16_autocast_trains():
    h = train.fit(seeded_net(), synthetic_bundle(), epochs=2, precision="bf16", progress=False, threads=1)
    assert h.meta["precision"] == "bf16" and all(math.isfinite(v) for v in h.train_loss)
    assert h.train_loss[-1] < h.train_loss[0]


def test_fit_sr_rejects_bad_arguments():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        train.fit_sr(TinySR(), 2, steps_per_epoch=0, progress=False)
    with pytest.raises(ValueError, match="lr"):
        train.fit_sr(TinySR(), 2, lr=float("nan"), progress=False)


# ---------------------------------------------------------------- cache keys


@pytest.fixture
def temp_model(tmp_path):
    import _temp_models

    name = "tmp_cache_net"
    yield lambda scale=1.0: _temp_models.load(tmp_path / "tmp_cache_net.py", name, scale)
    _temp_models.unload(name)


def test_cached_fit_key_components_each_miss(tmp_path, temp_model):
    data = synthetic_bundle()
    cache = tmp_path / "cache"
    base = dict(cache_dir=cache, epochs=1, lr=0.05, progress=False, threads=1, seed=0)
    mod = temp_model(1.0)
    first = train.cached_fit("tmp_cache_net", data, **base)
    assert not first.cache_hit
    assert train.cached_fit("tmp_cache_net", data, **base).cache_hit  # same inputs -> hit

    other = wbd.DataBundle(data.train, data.test, num_classes=4, class_names=tuple("abcd"),
                           version={"synthetic": 0, "edited": True})  # fmt: skip

    def bundle_other_build():
        return mod.TempNet()

    variants = {
        "seed": dict(seed=1),
        "fit args": dict(lr=0.01),
        "overrides": dict(overrides={"unused": 1}),
        "data version": dict(data=other),
        "build": dict(build=mod.build),
        "other build": dict(build=bundle_other_build),
    }
    paths = {first.path}
    for what, change in variants.items():
        kw = {**base, **change}
        d = kw.pop("data", data)
        r = train.cached_fit("tmp_cache_net", d, **kw)
        assert not r.cache_hit, f"changing {what} must miss"
        assert r.path not in paths, what
        paths.add(r.path)
    # the model's code: same shapes, forward scaled by 3 -> a different key, a retrain
    temp_model(3.0)
    edited = train.cached_fit("tmp_cache_net", data, **base)
    assert not edited.cache_hit and edited.path not in paths
    temp_model(1.0)  # back to the original code: the original entry again
    assert train.cached_fit("tmp_cache_net", data, **base).path == first.path
