"""Model registry and factory: ``create_model(name, **overrides)``, ``list_models(pattern)``.

Entry points are thin functions registered with :func:`register_model`, named as timm names
them (``<family>_<width x 100>``). Besides our own zoo, ``'timm:<name>'`` and
``'torchvision:<name>'`` build reference implementations (never with weights: nothing here
downloads at run time) so they can be profiled beside ours.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from ..registry import Registry


@dataclass(frozen=True)
class ModelEntry:
    """A registered entry point plus what the measurement layer needs to know about it.

    Attributes:
        fn: builds the model from keyword overrides.
        default_input_size: (C, H, W) at which the paper reports params/MACs.
        task: ``'classification'`` or ``'super_resolution'``.
        reference: the same architecture in timm/torchvision (``'timm:mobilenetv2_100'``), for
            cross-checks; ``None`` if neither has it.
        paper: short citation of the paper the architecture comes from.
        tags: literature families (slugs of :mod:`workbench.literature.families`, e.g.
            ``'channel_attention'``) of the techniques the architecture uses, so one name finds
            the block module, the models, the notebook and the report card. Networks that use
            no lightweight technique (yardsticks) carry :data:`BASELINE_TAG` instead.
    """

    fn: Callable[..., nn.Module]
    default_input_size: tuple[int, int, int] = (3, 224, 224)
    task: str = "classification"
    reference: str | None = None
    paper: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


#: the one tag that is not a literature family: plain yardstick networks (e.g. ``reference_cnn``)
BASELINE_TAG = "baseline"

MODELS: Registry[ModelEntry] = Registry("model")


def register_model(
    fn: Callable[..., nn.Module] | None = None,
    *,
    default_input_size: tuple[int, int, int] = (3, 224, 224),
    task: str = "classification",
    reference: str | None = None,
    paper: str = "",
    tags: tuple[str, ...] = (),
):
    """Register an entry point under its function name; use bare or with keyword metadata."""

    def deco(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.register(f.__name__, ModelEntry(f, tuple(default_input_size), task, reference, paper, tuple(tags)))
        return f

    return deco(fn) if fn is not None else deco



def register_variant(name: str, build: Callable[..., nn.Module], *args, doc: str = "", **meta) -> None:
    """Register ``name`` as ``build(*args, **overrides)``: one row of a family's variant table.

    Families whose variants differ only in the arguments of one factory (a spec and a width,
    a config name) register them from a table with this instead of one ``def`` each.

    Args:
        name: registry name (``'mobilenetv2_100'``).
        build: the family's factory; ``args`` select the variant.
        *args: positional arguments that define the variant.
        doc: the entry point's one-line docstring.
        **meta: :func:`register_model` metadata (``reference``, ``paper``, ``tags``, ...).
    """

    def entry(**kwargs) -> nn.Module:
        return build(*args, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = doc or None
    register_model(entry, **meta)


def list_tags() -> list[str]:
    """Literature-family tags carried by at least one registered model."""
    return sorted({t for n in MODELS.list() for t in MODELS.get(n).tags})


def list_models(pattern: str | None = None, *, task: str | None = None, tag: str | None = None) -> list[str]:
    """Registered model names, optionally filtered by a shell pattern, task and/or tag.

    Args:
        pattern: shell pattern or substring of the name.
        task: ``'classification'`` or ``'super_resolution'``.
        tag: a literature family the model uses (``'channel_attention'``), see :func:`list_tags`.

    Raises:
        ValueError: ``tag`` is carried by no registered model (the message lists the valid tags).
    """
    names = MODELS.list(pattern)
    if task is not None:
        names = [n for n in names if MODELS.get(n).task == task]
    if tag is not None:
        if tag not in list_tags():
            raise ValueError(f"unknown model tag {tag!r}; valid: {', '.join(list_tags())}")
        names = [n for n in names if tag in MODELS.get(n).tags]
    return names


def model_entry(name: str) -> ModelEntry:
    """The :class:`ModelEntry` for a registered name (``KeyError`` with suggestions if unknown)."""
    return MODELS.get(name)


def _reference_model(name: str, kwargs: dict) -> nn.Module:
    source, _, ref = name.partition(":")
    kwargs = dict(kwargs)
    kwargs.pop("small_input", None)
    if kwargs.get("width_mult") is None:
        kwargs.pop("width_mult", None)
    if source == "timm":
        import timm

        if not timm.list_models(ref):
            raise KeyError(f"timm has no model {ref!r}")
        if "in_chans" not in kwargs:
            kwargs["in_chans"] = 3
        model = timm.create_model(ref, pretrained=False, **kwargs)
        cfg = getattr(model, "pretrained_cfg", {}) or {}
        size = tuple(cfg.get("input_size", (3, 224, 224)))
        model.default_input_size = (kwargs["in_chans"], size[1], size[2])
        return model
    if source == "torchvision":
        import torchvision

        kwargs.pop("in_chans", None)
        if ref not in torchvision.models.list_models():
            valid = torchvision.models.list_models()
            close = difflib.get_close_matches(ref, valid, n=8, cutoff=0.5)
            if close:
                raise KeyError(f"torchvision has no model {ref!r}; similar: {', '.join(close)}")
            raise KeyError(f"torchvision has no model {ref!r}; valid: {', '.join(valid)}")
        model = torchvision.models.get_model(ref, weights=None, **kwargs)
        model.default_input_size = (3, 299, 299) if ref.startswith("inception") else (3, 224, 224)
        return model
    raise KeyError(f"unknown model source {source!r}; use 'timm:<name>' or 'torchvision:<name>'")


def _check_args(num_classes: int | None, in_chans: int | None, width_mult: float | None) -> None:
    # Refused here, at the boundary, so no entry point builds a conv with 0 channels or
    # overflows in make_divisible(inf).
    if width_mult is not None and not (math.isfinite(width_mult) and width_mult > 0):
        raise ValueError(f"width_mult must be a finite number > 0, got {width_mult}")
    if num_classes is not None and num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if in_chans is not None and in_chans < 1:
        raise ValueError(f"in_chans must be >= 1, got {in_chans}")


def create_model(
    name: str,
    num_classes: int | None = None,
    in_chans: int | None = None,
    width_mult: float | None = None,
    small_input: bool = False,
    **overrides,
) -> nn.Module:
    """Build a model by registry name.

    Args:
        name: a registered name (``workbench models``), or ``'timm:<name>'`` /
            ``'torchvision:<name>'`` for a reference implementation without weights.
        num_classes: classifier outputs (default: the entry's, 1000 for ImageNet models).
        in_chans: input channels (default 3; 1 for grayscale Fashion-MNIST).
        width_mult: channel multiplier applied as the paper does; ``None`` keeps the name's width.
        small_input: adapt stem/downsampling to 28-32 px inputs.
        **overrides: forwarded to the entry point (e.g. ``act='relu'``, ``se_layer='eca'``).

    Returns:
        The model, in train mode, with ``model.default_input_size`` = (C, H, W).

    Raises:
        KeyError: unknown name (with the closest valid names).
        ValueError: non-finite or non-positive ``width_mult``, ``num_classes < 1`` or
            ``in_chans < 1``.
    """
    _check_args(num_classes, in_chans, width_mult)
    kwargs = dict(overrides)
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if in_chans is not None:
        kwargs["in_chans"] = in_chans
    if ":" in name:
        if width_mult is not None:
            kwargs["width_mult"] = width_mult
        return _reference_model(name, kwargs)
    entry = MODELS.get(name)
    if width_mult is not None:
        kwargs["width_mult"] = width_mult
    if small_input:
        kwargs["small_input"] = True
    model = entry.fn(**kwargs)
    if not hasattr(model, "default_input_size"):
        c = in_chans if in_chans is not None else entry.default_input_size[0]
        size = (32, 32) if small_input else entry.default_input_size[1:]
        model.default_input_size = (c, *size)
    model.registry_name = name
    return model
