"""Knowledge distillation (``wb.compress.distill``): the loss, stored vs online targets, label-free KD."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from test_train import synthetic_bundle
from torch import nn

import workbench as wb
from workbench.compress import distill_module as kd
from workbench.lessons import distillation as lesson_mod


def _net(width: int = 4, classes: int = 4, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes),
    ).eval()  # fmt: skip


# --- the loss -------------------------------------------------------------------------------------


def test_kd_loss_alpha_zero_is_cross_entropy_and_alpha_one_reads_no_label():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    y = torch.randint(0, 5, (8,), generator=g)
    assert torch.allclose(kd.kd_loss(s, None, y, alpha=0.0), F.cross_entropy(s, y))
    # alpha=1: labels are not needed, and the value is T^2 KL(p_t || p_s) at temperature T
    T = 3.0
    manual = T**2 * (F.softmax(t / T, 1) * (F.log_softmax(t / T, 1) - F.log_softmax(s / T, 1))).sum(1).mean()
    assert torch.allclose(kd.kd_loss(s, t, None, temperature=T, alpha=1.0), manual, atol=1e-6)
    # mixing is linear in alpha
    mix = kd.kd_loss(s, t, y, temperature=T, alpha=0.25)
    assert torch.allclose(mix, 0.25 * manual + 0.75 * F.cross_entropy(s, y), atol=1e-6)
    # the soft term vanishes when the student copies the teacher
    assert float(kd.kd_loss(t, t, None, alpha=1.0)) == pytest.approx(0.0, abs=1e-6)


def test_kd_loss_unlabelled_rows_get_no_cross_entropy():
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    y = torch.tensor([0, 1, -1, 2, -1, -1])
    got = kd.kd_loss(s, t, y, alpha=0.0)
    known = y >= 0
    want = F.cross_entropy(s[known], y[known], reduction="sum") / 6
    assert torch.allclose(got, want)
    assert float(kd.kd_loss(s, t, torch.full((6,), -1), alpha=0.0)) == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(temperature=0.0), "temperature"), (dict(alpha=1.5), "alpha"), (dict(alpha=0.5, labels=None), "labels")],
)
def test_kd_loss_bad_arguments(kwargs, match):
    s = torch.zeros(2, 3)
    args = dict(labels=torch.tensor([0, 1]), temperature=4.0, alpha=0.9) | kwargs
    with pytest.raises(ValueError, match=match):
        kd.kd_loss(s, s, args.pop("labels"), **args)


# --- stored targets -------------------------------------------------------------------------------


def test_teacher_targets_follow_the_stored_image_order():
    data = synthetic_bundle(n_train=48)
    teacher = _net(seed=3)
    extra = wb.compress.unlabeled(synthetic_bundle(n_train=32, seed=5))
    store = wb.compress.teacher_targets(teacher, data, unlabeled_images=extra, features=True, batch_size=20)
    assert store.logits.shape == (80, 4) and store.features.shape == (80, 4)
    x = (data.train.images.float() / 255 - 0.5) / 0.3
    x_extra = (extra.images.float() / 255 - 0.5) / 0.3
    with torch.no_grad():
        want = teacher(torch.cat([x, x_extra]))
    assert torch.allclose(store.logits, want, atol=1e-5)
    # accuracy counts only the labelled images
    labelled = 100 * float((want[:48].argmax(1) == data.train.labels).float().mean())
    assert store.accuracy == pytest.approx(labelled)
    assert store.megabytes == pytest.approx(80 * 8 * 4 / 1e6)
    assert teacher.training is False


def test_unlabeled_drops_every_label():
    data = synthetic_bundle()
    u = wb.compress.unlabeled(data)
    assert u.images is data.train.images and bool((u.labels == -1).all())


# --- distill ----------------------------------------------------------------------------------------


def _run(student, teacher, data, **kw):
    base = dict(epochs=2, lr=0.05, threads=1, precision="fp32", channels_last=False, seed=0)
    return wb.compress.distill(student, teacher, data, **(base | kw))


def test_distill_copies_the_student_and_trains_it():
    data = synthetic_bundle(n_train=96)
    student, teacher = _net(seed=1), _net(width=8, seed=2)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    res = _run(student, teacher, data, alpha=0.5)
    assert all(torch.equal(before[k], v) for k, v in student.state_dict().items())  # not modified
    assert res.model is not student and not res.model.training
    changed = any(not torch.equal(before[k], v) for k, v in res.model.state_dict().items())
    assert changed and math.isfinite(res.accuracy) and res.seconds > 0
    assert res.config["mode"] == "online" and res.config["images"] == 96 and res.config["labelled"] == 96


def test_stored_targets_train_the_same_student_as_the_online_teacher():
    data = synthetic_bundle(n_train=64)
    student, teacher = _net(seed=1), _net(width=8, seed=2)
    store = wb.compress.teacher_targets(teacher, data, batch_size=64)
    online = _run(student, teacher, data, alpha=0.9, temperature=2.0)
    stored = _run(student, None, data, alpha=0.9, temperature=2.0, targets=store)
    assert stored.config["mode"] == "stored"
    for (k, a), b in zip(online.model.state_dict().items(), stored.model.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-4), k


def test_alpha_changes_the_result():
    """Guards against a loss that ignores alpha (label-free and mixed KD must differ)."""
    data = synthetic_bundle(n_train=64)
    student, teacher = _net(seed=1), _net(width=8, seed=2)
    store = wb.compress.teacher_targets(teacher, data)
    a = _run(student, None, data, alpha=0.5, targets=store).model.state_dict()
    b = _run(student, None, data, alpha=1.0, targets=store).model.state_dict()
    assert any(not torch.allclose(a[k].float(), b[k].float()) for k in a)


def test_label_free_kd_never_reads_a_label():
    data = synthetic_bundle(n_train=64)
    teacher = _net(width=8, seed=2)
    extra = wb.compress.unlabeled(synthetic_bundle(n_train=64, seed=9))
    store = wb.compress.teacher_targets(teacher, data, unlabeled_images=extra)
    res = _run(_net(seed=1), None, data, alpha=1.0, unlabeled_images=extra, targets=store)
    assert res.config["images"] == 128 and res.config["labelled"] == 64
    # scrambling the labelled set's labels changes nothing when alpha = 1
    scrambled = wb.data.DataBundle(
        wb.data.TensorLoader(data.train.images, data.train.labels.flip(0), batch_size=16, shuffle=True, drop_last=True, mean=0.5, std=0.3),
        data.test, num_classes=4, class_names=tuple("abcd"),
    )  # fmt: skip
    res2 = _run(_net(seed=1), None, scrambled, alpha=1.0, unlabeled_images=extra, targets=store)
    for a, b in zip(res.model.state_dict().values(), res2.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_feature_kd_trains_a_projector_and_needs_a_linear_head():
    data = synthetic_bundle(n_train=64)
    res = _run(_net(seed=1), _net(width=8, seed=2), data, alpha=0.5, feature_weight=1.0)
    assert math.isfinite(res.accuracy)
    assert not any(isinstance(m, nn.Linear) and m.out_features == 8 for m in res.model.modules())  # projector dropped
    no_head = nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(ValueError, match="no nn.Linear"):
        wb.compress.embedding_layer(no_head)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(teacher=None, alpha=0.9), "needs a teacher"),
        (dict(alpha=0.0, unlabeled_images="extra"), "cannot use them"),
        (dict(targets="short"), "rows"),
        (dict(feature_weight=1.0, targets="store"), "features=True"),
        (dict(feature_weight=-1.0), "feature_weight"),
        (dict(alpha=2.0), "alpha"),
        (dict(epochs=0), "epochs"),
    ],
)
def test_distill_bad_input_names_the_problem(kwargs, match):
    data = synthetic_bundle(n_train=48)
    teacher = _net(width=8, seed=2)
    extra = wb.compress.unlabeled(synthetic_bundle(n_train=16, seed=4))
    objects = {"extra": extra, "short": wb.compress.teacher_targets(teacher, synthetic_bundle(n_train=16)),
               "store": wb.compress.teacher_targets(teacher, data)}  # fmt: skip
    kwargs = {k: objects.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    t = kwargs.pop("teacher", teacher)
    with pytest.raises(ValueError, match=match):
        _run(_net(seed=1), t, data, **kwargs)


def test_distill_table_gain_and_gap_closed():
    data = synthetic_bundle(n_train=32)

    def fake(acc, seconds=1.0):
        h = wb.train.History(test_acc=[acc], seconds=[seconds])
        cfg = dict(mode="stored", temperature=4.0, alpha=0.9, feature_weight=0.0, images=32, labelled=32)
        return kd.DistillResult(_net(), h, seconds, 32 / seconds, cfg)

    del data
    table = wb.compress.distill_table({"CE": [fake(80.0), fake(82.0)], "KD": [fake(84.0), fake(84.0)]}, teacher_accuracy=91.0)
    kd_row = table.set_index("name").loc["KD"]
    assert kd_row.gain == pytest.approx(3.0) and kd_row.gap_closed_pct == pytest.approx(30.0)
    assert table.set_index("name").loc["CE"].accuracy_std == pytest.approx(math.sqrt(2.0))
    one = wb.compress.distill_table({"CE": [fake(80.0)]})
    assert math.isnan(one.accuracy_std.iloc[0]) and math.isnan(one.gap_closed_pct.iloc[0])


# --- the verdict rule -----------------------------------------------------------------------------


def _table(**acc):
    """A distill_table-like frame: name -> (mean, std, seeds)."""
    import pandas as pd

    rows = [dict(name=k, accuracy=m, accuracy_std=s, seeds=n, seconds=sec, images=img, labelled=lab)
            for k, (m, s, n, sec, img, lab) in acc.items()]  # fmt: skip
    return pd.DataFrame(rows)


def _standard(ce=85.0, kd=86.5, lf=85.5, ssld=86.0, std=0.3, seeds=2):
    return _table(**{
        "CE": (ce, std, seeds, 10.0, 20000, 20000), "KD": (kd, std, seeds, 10.0, 20000, 20000),
        "KD label-free": (lf, std, seeds, 10.0, 20000, 20000), "KD label-free + 40k unlabelled": (ssld, std, seeds, 30.0, 60000, 20000),
    })  # fmt: skip


def test_verdict_supported_when_every_part_holds():
    les = lesson_mod.conclude(_standard(), teacher_accuracy=90.0, online_seconds=60.0, stored_seconds=10.0,
                              store_seconds=20.0, online_accuracy=86.4, stored_accuracy=86.5)  # fmt: skip
    assert les.verdict == "supported", les.evidence


def test_verdict_kd_gain_within_seed_spread_is_not_a_gain():
    les = lesson_mod.conclude(_standard(kd=85.2, ssld=84.0, std=0.5), teacher_accuracy=90.0, online_seconds=60.0,
                              stored_seconds=10.0, store_seconds=20.0, online_accuracy=85.2, stored_accuracy=85.2)  # fmt: skip
    assert les.verdict == "partly supported"
    assert "KD fails" in les.evidence


def test_verdict_one_seed_says_no_spread_and_short_training_is_inconclusive():
    one = lesson_mod.conclude(_standard(seeds=1, std=float("nan")), teacher_accuracy=90.0, online_seconds=60.0,
                              stored_seconds=10.0, store_seconds=20.0, online_accuracy=86.4, stored_accuracy=86.5)  # fmt: skip
    assert "1 seed, no spread" in " ".join(one.takeaways) and "nan" not in one.evidence
    short = lesson_mod.conclude(_standard(ce=60.0, kd=62.0, lf=61.0, ssld=61.0), teacher_accuracy=70.0, online_seconds=60.0,
                                stored_seconds=10.0, store_seconds=20.0, online_accuracy=62.0, stored_accuracy=62.0)  # fmt: skip
    assert short.verdict == "inconclusive"


def test_verdict_needs_the_named_rows():
    with pytest.raises(ValueError, match="CE"):
        lesson_mod.conclude(_table(KD=(1, 0, 1, 1, 1, 1)), teacher_accuracy=90.0, online_seconds=1, stored_seconds=1,
                            store_seconds=1, online_accuracy=1, stored_accuracy=1)  # fmt: skip


def test_first_rows_of_a_store_train_like_a_store_of_the_labelled_images_only():
    data = synthetic_bundle(n_train=48)
    teacher = _net(width=8, seed=2)
    extra = wb.compress.unlabeled(synthetic_bundle(n_train=16, seed=4))
    both = wb.compress.teacher_targets(teacher, data, unlabeled_images=extra, features=True)
    alone = wb.compress.teacher_targets(teacher, data, features=True)
    head = both.first(48)
    assert torch.allclose(head.logits, alone.logits, atol=1e-6) and torch.allclose(head.features, alone.features, atol=1e-6)
    with pytest.raises(ValueError, match="holds 64"):
        both.first(65)


def test_heldout_images_are_disjoint_from_the_labelled_subset_and_balanced():
    import numpy as np

    labelled = wb.data.fashion_mnist(subset=2000, test_subset=100, seed=3)
    rest = wb.data.fashion_mnist_heldout(2000, 1000, seed=3)
    assert rest.num_samples == 1000
    assert np.bincount(rest.labels.numpy(), minlength=10).tolist() == [100] * 10
    a = {bytes(x) for x in labelled.train.images.numpy().reshape(2000, -1)}
    b = {bytes(x) for x in rest.images.numpy().reshape(1000, -1)}
    assert not a & b  # no image is both labelled and "unlabelled" (Fashion-MNIST has no duplicates here)
    everything = wb.data.fashion_mnist_heldout(2000, seed=3)
    assert everything.num_samples == 58000
    with pytest.raises(ValueError, match="58000"):
        wb.data.fashion_mnist_heldout(2000, 58001, seed=3)


def test_verdict_separates_extra_images_from_extra_steps():
    t = _standard()
    import pandas as pd

    t = pd.concat([t, _table(**{"KD label-free, same steps": (85.2, 0.3, 2, 20.0, 20000, 20000)})], ignore_index=True)
    les = lesson_mod.conclude(t, teacher_accuracy=90.0, online_seconds=60.0, stored_seconds=10.0, store_seconds=20.0,
                              online_accuracy=86.4, stored_accuracy=86.5)  # fmt: skip
    line = next(x for x in les.takeaways if x.startswith("Extra steps alone"))
    assert "85.20 %" in line and "+0.80 points" in line
