"""Fashion-MNIST mosaics: determinism, splits, boxes and masks (wb.data.mosaics)."""

import pytest
import torch

import workbench as wb
from workbench.data.mosaics import TEST_SEED


@pytest.fixture(scope="module")
def train():
    return wb.data.mosaics(40, size=96, seed=3)


def test_deterministic_and_seeded(train):
    again = wb.data.mosaics(40, size=96, seed=3)
    assert torch.equal(train.images, again.images) and train.version == again.version
    assert all(torch.equal(a, b) for a, b in zip(train.boxes, again.boxes, strict=True))
    other = wb.data.mosaics(40, size=96, seed=4)
    assert not torch.equal(train.images, other.images) and other.version != train.version


def test_split_sizes_and_fixed_test_set(train):
    test = wb.data.mosaics(25, split="test")
    assert len(train) == 40 and len(test) == 25 and test.images.shape == (25, 1, 96, 96)
    assert f"seed{TEST_SEED}" in test.version and "test" in test.version
    assert torch.equal(test.images, wb.data.mosaics(25, split="test").images)
    # same seed, other split: items come from other Fashion-MNIST images
    assert not torch.equal(wb.data.mosaics(5, seed=0, split="train").images, wb.data.mosaics(5, seed=0, split="test").images)


def test_items_per_canvas_in_range(train):
    counts = [len(b) for b in train.boxes]
    assert min(counts) >= 1 and max(counts) <= 4
    assert 1.5 < train.items_per_canvas() < 3.5
    one = wb.data.mosaics(10, max_items=1)
    assert all(len(b) == 1 for b in one.boxes)


def test_boxes_valid_and_items_inside(train):
    for b, lab in zip(train.boxes, train.labels, strict=True):
        assert b.shape[1] == 4 and len(lab) == len(b)
        assert (b[:, 0] < b[:, 2]).all() and (b[:, 1] < b[:, 3]).all()
        assert (b >= 0).all() and (b <= 96).all()
        assert ((b[:, 2:] - b[:, :2]) <= 48).all()
        assert ((lab >= 0) & (lab < 10)).all()


def test_masks_agree_with_boxes_and_semantic(train):
    for i in range(len(train)):
        for box, lab, m in zip(train.boxes[i], train.labels[i], train.instance_masks[i], strict=True):
            ys, xs = torch.nonzero(m, as_tuple=True)
            tight = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
            assert torch.equal(tight, box)  # the box is the tight box of the mask
            assert (train.semantic[i][m] == lab + 1).all()
        covered = train.instance_masks[i].any(0)
        assert (train.semantic[i][~covered] == 0).all()
        assert train.instance_masks[i].sum(0).max() <= 1  # items never overlap


def test_resized_scales_boxes(train):
    small = train.resized(48)
    assert small.images.shape == (40, 1, 48, 48) and small.semantic.shape == (40, 48, 48)
    assert torch.allclose(small.boxes[0], train.boxes[0] / 2) and small.version.endswith("-r48")


@pytest.mark.parametrize(
    "kw, match",
    [({"split": "val"}, "unknown split 'val'; valid: train, test"), ({"size": 64}, "size must be >= 2 x"),
     ({"max_items": 0}, "max_items"), ({"scales": (4, 20)}, "scales")],
)  # fmt: skip
def test_bad_arguments_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        wb.data.mosaics(2, **kw)
