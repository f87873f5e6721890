"""Activations chosen by name through one table (timm ``create_act.py`` style).

Names used across the lightweight literature: ``relu`` (MobileNetV1/V2 use ``relu6``),
``hard_swish``/``hard_sigmoid`` (MobileNetV3, Howard et al. 2019), ``silu``/swish
(EfficientNet, Tan & Le 2019), ``gelu`` (ConvNeXt, MetaFormer, ViTs).
"""

from __future__ import annotations

from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hard_swish": nn.Hardswish,
    "hard_sigmoid": nn.Hardsigmoid,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "prelu": nn.PReLU,
    "leaky_relu": nn.LeakyReLU,
    "identity": nn.Identity,
}
_NO_INPLACE = {"gelu", "sigmoid", "prelu", "identity"}


def get_act(name: str | None, inplace: bool = True) -> nn.Module:
    """Build the activation called ``name``; ``None``/``'identity'`` gives ``nn.Identity``.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name is None:
        return nn.Identity()
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(sorted(_ACTIVATIONS))}")
    cls = _ACTIVATIONS[name]
    return cls() if name in _NO_INPLACE else cls(inplace=inplace)


def list_acts() -> list[str]:
    """Names accepted by :func:`get_act`."""
    return sorted(_ACTIVATIONS)
