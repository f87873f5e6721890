"""Single-Path NAS: an MBConv network found by architecture search (issue 14's zoo part).

* SPNASNet -- Stamoulis et al., "Single-Path NAS: Designing Hardware-Efficient ConvNets in
  less than 4 Hours", ECML-PKDD 2019 (Fig. 3, the Pixel-1 model): MnasNet-B1's stem, head and
  first block with a searched kernel/expansion table. The table is timm's ``spnasnet_100``
  (from the authors' TF code): parameters identical, outputs identical on shared weights
  (``tests/test_models_nas.py``).

A :class:`~workbench.models.mobilenet.MobileNet` like MnasNet and FBNet-C
(:mod:`workbench.models.efficientnet`): stem conv 3x3/2 -> stages -> 1x1 conv head -> pool ->
dropout -> FC, ReLU throughout, no SE.
"""

from __future__ import annotations

from dataclasses import replace

from ._factory import register_model
from .efficientnet import MNASNET_B1
from .mobilenet import MobileNet, R, create_mobilenet, stage_table

SPNASNET = replace(
    MNASNET_B1,
    stages=stage_table(
        [R("ds", 3, 1, 16, skip=False)],
        [R("ir", 3, 2, 24, e=3, n=3)],
        [R("ir", 5, 2, 40, e=6), R("ir", 3, 1, 40, e=3, n=3)],
        [R("ir", 5, 2, 80, e=6), R("ir", 3, 1, 80, e=3, n=3)],
        [R("ir", 5, 1, 96, e=6), R("ir", 5, 1, 96, e=3, n=3)],
        [R("ir", 5, 2, 192, e=6, n=4)],
        [R("ir", 3, 1, 320, e=6, skip=False)],
    ),
)

_SPNAS = (
    "Stamoulis et al., Single-Path NAS: Designing Hardware-Efficient ConvNets in less than "
    "4 Hours, ECML-PKDD 2019"
)


@register_model(reference="timm:spnasnet_100", paper=_SPNAS, tags=("mobile_cnn", "nas"))
def spnasnet_100(**kwargs) -> MobileNet:
    """Single-Path NAS (Pixel-1 model, 4.42 M params, 224 px); timm ``spnasnet_100``."""
    return create_mobilenet(SPNASNET, 1.0, **kwargs)
