"""Named training recipes for the model bank: every field with a one-line reason.

A recipe is part of every bank key (all its fields), so changing one retrains the models that
use it. Accuracies and times a recipe reaches are printed by ``workbench bank list``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from ..registry import Registry
from ..train.loop import OPTIMIZERS, PRECISIONS, SCHEDULES

__all__ = ["RECIPES", "Recipe", "get_recipe"]


@dataclass(frozen=True)
class Recipe:
    """How a bank model is trained on Fashion-MNIST.

    Attributes:
        name: registry name.
        summary: one sentence: what the recipe is for.
        subset: training images (stratified subset of the 60k split; None: all).
        test_subset: test images (stratified subset of the 10k split; None: all).
        augment: random crop (2 px padding) + horizontal flip on the training images.
        optimizer: ``'sgd'`` (Nesterov) or ``'adamw'``.
        lr: peak learning rate.
        schedule: ``'onecycle'``, ``'cosine'`` or ``'constant'``.
        epochs: passes over the training images.
        batch_size: training images per step.
        weight_decay: on weights with ndim > 1.
        label_smoothing: for cross-entropy.
        precision: ``'fp32'`` or ``'bf16'`` (autocast; weights stay fp32).
        channels_last: NHWC memory format.
        eval_every: evaluate on the test split every this many epochs and after the last (not
            part of the key: it changes the recorded curve, never the weights).
        reasons: field -> one-line reason for its value.
    """

    name: str
    summary: str
    subset: int | None
    test_subset: int | None
    augment: bool
    optimizer: str
    lr: float
    schedule: str
    epochs: int
    batch_size: int
    weight_decay: float
    label_smoothing: float
    precision: str
    channels_last: bool
    eval_every: int = 1
    reasons: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for attr, valid in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("precision", PRECISIONS)):
            if getattr(self, attr) not in valid:
                raise ValueError(f"recipe {self.name!r}: unknown {attr} {getattr(self, attr)!r}; valid: {', '.join(valid)}")
        missing = [f for f in self.key() if f not in self.reasons and f not in ("name", "summary")]
        if missing:
            raise ValueError(f"recipe {self.name!r}: no reason given for {', '.join(missing)}")

    def key(self) -> dict:
        """Every field that changes the trained weights (the bank key's recipe part)."""
        return {k: v for k, v in asdict(self).items() if k not in ("reasons", "summary", "eval_every")}

    def fit_kwargs(self) -> dict:
        """Arguments for :func:`workbench.train.fit`."""
        return dict(
            epochs=self.epochs, lr=self.lr, optimizer=self.optimizer, schedule=self.schedule,
            weight_decay=self.weight_decay, label_smoothing=self.label_smoothing,
            precision=self.precision, channels_last=self.channels_last, eval_every=self.eval_every,
        )  # fmt: skip

    def with_changes(self, **changes) -> Recipe:
        """This recipe with some training fields changed (a new name, hence a new bank key).

        Values equal to the recipe's own are not changes: the recipe itself is returned, so
        callers passing the recipe's settings explicitly still share its entries.

        Raises:
            ValueError: a name that is not a recipe field (naming the valid ones).
        """
        fields = [k for k in self.key() if k != "name"]
        bad = [k for k in changes if k not in fields]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a recipe field; valid: {', '.join(fields)}")
        diff = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not diff:
            return self
        name = f"{self.name}+" + ",".join(f"{k}={v}" for k, v in sorted(diff.items()))
        return replace(self, name=name, **diff)

    def describe(self) -> str:
        """One line per field: value and reason (for notebooks and ``workbench bank``)."""
        lines = [f"{self.name}: {self.summary}"]
        for k, v in (self.key() | {"eval_every": self.eval_every}).items():
            if k != "name":
                lines.append(f"  {k} = {v!r}: {self.reasons.get(k, '')}")
        return "\n".join(lines)


RECIPES: Registry[Recipe] = Registry("recipe")

# Precision default: `workbench bench train` (interleaved 768-image blocks, 7 rounds, 1 thread, on
# a shared, loaded 2-core machine) measured channels_last + bf16 autocast at 2.1x (reference_cnn)
# and 2.2x (mobilenetv2_050 small input) the fp32 eager images/s, every round above 1.7x; bf16
# alone 2.0x / 1.8x. fp32 stays one field away (a different key, so the two never mix).
_DEFAULT_PRECISION = "bf16"

_COMMON = dict(
    optimizer="sgd", schedule="onecycle", label_smoothing=0.0, channels_last=True,
)  # fmt: skip
_REASONS = {
    "optimizer": "SGD-Nesterov: the classic small-CNN choice, no extra state to tune",
    "schedule": "OneCycle reaches a given accuracy in the fewest epochs (Smith 2018)",
    "label_smoothing": "off: 10 classes, short runs; smoothing helps long runs mostly",
    "channels_last": "NHWC: oneDNN's preferred layout for CPU convolutions",
    "precision": "bf16 autocast: ~2x fp32 images/s on this AVX512-BF16 CPU (bench train); fp32 available",
}


def _register(r: Recipe) -> Recipe:
    RECIPES.register(r.name, r)
    return r


_register(Recipe(
    name="smoke", summary="a few seconds of training: for tests and the smoke profile only",
    subset=512, test_subset=256, augment=False, lr=0.1, epochs=1, batch_size=64,
    weight_decay=5e-4, precision="fp32", **_COMMON,
    reasons=_REASONS | {
        "subset": "enough batches to exercise the loop, seconds on one core",
        "test_subset": "the accuracy is only a smoke signal",
        "augment": "off: nothing to gain in one epoch",
        "lr": "the usual peak for SGD + BN at batch 64-256",
        "epochs": "tests need the code path, not the accuracy",
        "batch_size": "eight steps per epoch on 512 images",
        "weight_decay": "standard for small CNNs",
        "precision": "fp32: tests compare exact numbers; bf16 is tested separately",
    },
))  # fmt: skip

_register(Recipe(
    name="fmnist_short", summary="the default profile's recipe: 40k images x 2 epochs at batch 64, minutes per model",
    subset=40_000, test_subset=None, augment=False, lr=0.1, epochs=2, batch_size=64,
    weight_decay=5e-4, precision=_DEFAULT_PRECISION, eval_every=2, **_COMMON,
    reasons=_REASONS | {
        "eval_every": "test once, at the end: a full 10k evaluation per epoch cost ~12 % of the bank's time",
        "subset": "twice the images of the earlier 20k x 4 for the same 80k seen; 8k x 3 stayed below a linear classifier (~84 %)",
        "test_subset": "the full 10k test split: the +-0.3-point resolution comparisons need",
        "augment": "off: 2 epochs are too few for crop+flip to pay off",
        "lr": "the usual peak for SGD + BN at batch 64-256",
        "epochs": "two passes over 40k: the same 80k images as 20k x 4, more of them distinct",
        "batch_size": ("short runs need steps. MobileNetV1-0.5, 80k images seen: 20k x 4 at batch 256 88.4 %, at 128 "
                       "89.4 %; 40k x 2 at 128 89.9 %, at 64 91.7 % (MobileNetV2-0.5 89.6 -> 91.2 %, MobileNetV3-S-0.75 "
                       "90.2 -> 91.7 %); seconds per model about the same"),
        "weight_decay": "standard for small CNNs",
    },
))  # fmt: skip

_register(Recipe(
    name="fmnist_full", summary="the full 60k split x 5 epochs: the benchmark targets' recipe",
    subset=None, test_subset=None, augment=False, lr=0.1, epochs=5, batch_size=256,
    weight_decay=4e-5, precision=_DEFAULT_PRECISION, eval_every=5, **_COMMON,
    reasons=_REASONS | {
        "eval_every": "test once, at the end: the benchmark times training, not curves",
        "subset": "all 60k training images",
        "test_subset": "the full 10k test split",
        "augment": "off: 5 epochs are too few for crop+flip to pay off",
        "lr": "the usual peak for SGD + BN at batch 256",
        "epochs": "MobileNetV2-0.5 measured 93.6 % after 5 epochs",
        "batch_size": "fewer, larger steps use two cores better than 128",
        "weight_decay": "the MobileNetV2 paper's value for thin networks",
    },
))  # fmt: skip


_register(Recipe(
    name="fmnist_fast", summary="the full 60k split x 3 epochs: the MobileNetV2-0.5 time target's recipe",
    subset=None, test_subset=None, augment=False, lr=0.1, epochs=3, batch_size=256,
    weight_decay=4e-5, precision=_DEFAULT_PRECISION, eval_every=3, **_COMMON,
    reasons=_REASONS | {
        "subset": "all 60k training images",
        "test_subset": "the full 10k test split",
        "augment": "off: 3 epochs are too few for crop+flip to pay off",
        "lr": "the usual peak for SGD + BN at batch 256",
        "epochs": "5 epochs (fmnist_full) took 766 s for MobileNetV2-0.5; 3 fit the 600 s target",
        "batch_size": "fewer, larger steps use two cores better than 128",
        "weight_decay": "the MobileNetV2 paper's value for thin networks",
        "eval_every": "test once, at the end: the benchmark times training, not curves",
    },
))  # fmt: skip


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A :class:`Recipe` by name (or the recipe itself).

    Raises:
        KeyError: unknown name, naming the valid ones.
    """
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise KeyError(f"unknown recipe {recipe!r}; valid: {', '.join(RECIPES)}")
    return RECIPES.get(recipe)


# --- large_kernels and design_spaces notebooks --------------------------------------------------
_register(Recipe(
    name="lk_short", summary="large_kernels: minutes of AdamW on the long-range pairs (and an 8k Fashion-MNIST control)",
    subset=8_000, test_subset=2_000, augment=False, optimizer="adamw", lr=1e-3, schedule="onecycle",
    epochs=4, batch_size=64, weight_decay=0.05, label_smoothing=0.0, precision=_DEFAULT_PRECISION,
    channels_last=False,
    reasons=_REASONS | {
        "subset": "used by the 28 px control only (the pair task brings its own canvases)",
        "test_subset": "a +-1-point resolution is enough for a kernel-size effect",
        "augment": "off: flips and crops would move the items the pair task is about",
        "optimizer": "AdamW, as ConvNeXt is trained: LayerNorm nets train poorly with plain SGD",
        "lr": "at 3e-3 a 15x15 model sat at chance for 4 epochs, here it reached 99 % (measured)",
        "epochs": "the same/different relation left chance only after ~400 steps (measured)",
        "batch_size": "more steps per epoch for the relation to emerge",
        "weight_decay": "ConvNeXt's value",
        "channels_last": "off: NHWC slowed the 13x13 depthwise backward (bench, 1 thread)",
    },
))  # fmt: skip

_register(Recipe(
    name="space_short", summary="design_spaces: seconds per sampled network (10k images x 3 epochs), low-fidelity on purpose",
    subset=10_000, test_subset=2_000, augment=False, lr=0.1, epochs=3, batch_size=128,
    weight_decay=5e-4, precision=_DEFAULT_PRECISION, **_COMMON,
    reasons=_REASONS | {
        "subset": "dozens of networks must train in minutes",
        "test_subset": "the EDF compares populations, not single points",
        "augment": "off: nothing to gain in 3 epochs",
        "lr": "the usual peak for SGD + BN at batch 128",
        "epochs": "2 epochs left sampled nets at 74-82 %, below a linear classifier (measured)",
        "batch_size": "more steps than 256 in a short run",
        "weight_decay": "standard for small CNNs",
    },
))  # fmt: skip

# --- notebooks cheap_operators and reparameterization (issue 12) ---------------------------------
_register(Recipe(
    name="fmnist_small", summary="12k images x 3 epochs at batch 64: for depthwise/multi-branch nets that train at a few hundred images/s",
    subset=12_000, test_subset=5_000, augment=False, lr=0.1, epochs=3, batch_size=64,
    weight_decay=5e-4, precision=_DEFAULT_PRECISION, **_COMMON,
    reasons=_REASONS | {
        "subset": "cheapnet variants train at 300-1000 images/s on one core: 36k images keep a run near a minute",
        "test_subset": "half the test split halves evaluation; binomial std ~0.4 points at 90 %",
        "augment": "off: 3 epochs are too few for crop+flip to pay off",
        "lr": "the usual peak for SGD + BN at batch 64-256",
        "epochs": "3 short epochs of 188 steps each still land small CNNs above a linear classifier",
        "batch_size": ("short runs need steps: at 64 (vs 128) MobileNetV3-S-0.75 reached 88.9 vs 88.0 %, with CBAM 87.2 vs "
                       "84.8 %, each in about the same seconds or fewer"),
        "weight_decay": "standard for small CNNs",
    },
))  # fmt: skip


# token_mixers / attention_scaling notebooks: attention-style nets want AdamW, and 7 mixers x 2
# seeds must fit a few CPU-minutes.
_register(Recipe(
    name="fmnist_mixers", summary="token-mixer comparisons: 15k images x 2 epochs with AdamW, about a minute per tiny model",
    subset=15_000, test_subset=5_000, augment=False, optimizer="adamw", lr=5e-3, schedule="onecycle",
    epochs=2, batch_size=64, weight_decay=0.05, label_smoothing=0.0, precision=_DEFAULT_PRECISION,
    channels_last=True,
    reasons=_REASONS | {
        "subset": "7 mixers x 2 seeds must train in a few CPU-minutes; 10k x 2 left tiny MetaFormers at 76-81 %",
        "test_subset": "5k test images: +-0.5-point resolution, half the evaluation time of 10k",
        "augment": "off: 2 epochs are too few for crop+flip to pay off",
        "optimizer": "AdamW: attention and LayerNorm nets train poorly with plain SGD in few steps",
        "lr": "5e-3 beat 2e-3 by 4-5 points after 2 epochs on 10k (sequence_tiny, metaformer_tiny)",
        "epochs": "two passes: each extra epoch costs as much as 7 more models",
        "batch_size": "64: short runs need steps more than large batches",
        "weight_decay": "the DeiT / MetaFormer AdamW value",
    },
))  # fmt: skip

_register(Recipe(
    name="fmnist_mixers_full", summary="the full profile of the token-mixer notebooks: all 60k images x 3 epochs with AdamW",
    subset=None, test_subset=None, augment=False, optimizer="adamw", lr=5e-3, schedule="onecycle",
    epochs=3, batch_size=128, weight_decay=0.05, label_smoothing=0.0, precision=_DEFAULT_PRECISION,
    channels_last=True,
    reasons=_REASONS | {
        "subset": "all 60k training images: fmnist_mixers' 15k x 2 leaves tiny mixers below a linear classifier",
        "test_subset": "the full 10k test split",
        "augment": "off: 3 epochs are too few for crop+flip to pay off",
        "optimizer": "AdamW: attention and LayerNorm nets train poorly with plain SGD in few steps",
        "lr": "as fmnist_mixers",
        "epochs": "three passes over 60k: ~12x fmnist_mixers' images",
        "batch_size": "128: enough steps (1,400) at 60k images",
        "weight_decay": "the DeiT / MetaFormer AdamW value",
    },
))  # fmt: skip

# once_for_all notebook (issue 14, item 3): the same architectures as the supernet's children,
# trained from scratch on a short schedule (3 budgets x 2 seeds must fit a few CPU-minutes)
_register(Recipe(
    name="ofa_scratch", summary="once_for_all: 10k images x 2 epochs per searched subnet, trained from scratch",
    subset=10_000, test_subset=5_000, augment=False, lr=0.1, epochs=2, batch_size=128,
    weight_decay=5e-5, precision=_DEFAULT_PRECISION, **_COMMON,
    reasons=_REASONS | {
        "subset": "six depthwise subnets (3 budgets x 2 seeds) at a few hundred images/s must fit ~3 CPU-minutes",
        "test_subset": "the same 5k test images the supernet's children are scored on",
        "augment": "off: 2 epochs are too few for crop+flip to pay off",
        "lr": "the usual peak for SGD + BN at batch 128",
        "epochs": "2 passes: short on purpose, the card compares it with the supernet's images",
        "batch_size": "156 steps at 10k x 2",
        "weight_decay": "OFA's 3e-5 to 4e-5 range for mobile nets (no strong regularisation at 2 epochs)",
    },
))  # fmt: skip
