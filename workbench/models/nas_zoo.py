"""Networks found by architecture search: SPNASNet, ProxylessNAS-mobile, Once-for-All subnets.

* SPNASNet -- Stamoulis et al., "Single-Path NAS: Designing Hardware-Efficient ConvNets in
  less than 4 Hours", ECML-PKDD 2019 (Fig. 3, the Pixel-1 model): MnasNet-B1's stem, head and
  first block with a searched kernel/expansion table. The table is timm's ``spnasnet_100``
  (from the authors' TF code): parameters identical, outputs identical on shared weights
  (``tests/test_models_nas.py``).
* ProxylessNAS-mobile -- Cai et al., "ProxylessNAS: Direct Neural Architecture Search on
  Target Task and Hardware", ICLR 2019 (Fig. 4), from the official net config: 4,080,512 params
  and 320.4 M MACs at 224 px, as the official training log reports (4.08 M, 320.4 M).
* Once-for-All subnets -- Cai et al., "Once-for-All: Train One Network and Specialize it for
  Efficient Deployment", ICLR 2020: the two CPU-specialized models of the official release, 4.16 M
  params / 143 M MACs at 144 px (10 ms budget) and 4.93 M / 364 M at 208 px (17 ms budget).

All are :class:`~workbench.models.mobilenet.MobileNet` instances like MnasNet and FBNet-C
(:mod:`workbench.models.efficientnet`): stem conv 3x3/2 -> stages -> 1x1 conv head -> pool ->
dropout -> FC, no SE; SPNASNet uses ReLU, the others ReLU6 and are built from an
:class:`~workbench.models.mb_space.MBArch` (the search space of the NAS notebooks).
"""

from __future__ import annotations

from dataclasses import replace

from ._factory import register_model
from .efficientnet import MNASNET_B1
from .mb_space import MBArch, MBStage, create_mbnet
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


#: ProxylessNAS-mobile (Cai et al., ICLR 2019, Fig. 4), ported from the official net config
#: (mit-han-lab/proxylessnas ``proxyless_mobile.config``): its two zero layers (skipped blocks)
#: of stage 1 dropped, so stage 1 has depth 2.
PROXYLESSNAS_MOBILE = MBArch(
    (
        MBStage(32, 2, (5, 3), (3, 3)),
        MBStage(40, 2, (7, 3, 5, 5), (3, 3, 3, 3)),
        MBStage(80, 2, (7, 5, 5, 5), (6, 3, 3, 3)),
        MBStage(96, 1, (5, 5, 5, 5), (6, 3, 3, 3)),
        MBStage(192, 2, (7, 7, 7, 7), (6, 6, 3, 3)),
        MBStage(320, 1, (7,), (6,)),
    )
)

#: Two subnets Once-for-All specialized for a CPU latency budget, ported from the official
#: ``ofa_specialized/cpu_lat-{10,17}ms_*/net.config`` (han-cai/files): members of
#: :data:`~workbench.models.mb_space.PROXYLESS_SPACE`, built at width 1.3 (their configs' 40-channel stem, 416-wide last
#: stage and 1664 head are this builder's widths at 1.3), evaluated at 144 and 208 px.
OFA_CPU_10MS = MBArch(
    (
        MBStage(24, 2, (5, 3), (4, 3)),
        MBStage(40, 2, (3, 3), (3, 3)),
        MBStage(80, 2, (7, 3, 7), (3, 3, 3)),
        MBStage(96, 1, (5, 5), (3, 4)),
        MBStage(192, 2, (5, 3), (3, 4)),
        MBStage(320, 1, (3,), (4,)),
    )
)
OFA_CPU_17MS = MBArch(
    (
        MBStage(24, 2, (3, 3), (3, 4)),
        MBStage(40, 2, (5, 3), (3, 4)),
        MBStage(80, 2, (3, 7, 3), (6, 3, 3)),
        MBStage(96, 1, (5, 5, 3), (3, 4, 6)),
        MBStage(192, 2, (3, 5, 3), (6, 4, 3)),
        MBStage(320, 1, (3,), (4,)),
    )
)

_PROXYLESS = "Cai et al., ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware, ICLR 2019"
_OFA = "Cai et al., Once-for-All: Train One Network and Specialize it for Efficient Deployment, ICLR 2020"


@register_model(paper=_PROXYLESS, tags=("mobile_cnn", "nas"))
def proxylessnas_mobile(**kwargs) -> MobileNet:
    """ProxylessNAS-mobile (``PROXYLESSNAS_MOBILE``): 4.08 M params, 320 M MACs at 224 px (official: 4.08 M, 320.4 M)."""
    return create_mbnet(PROXYLESSNAS_MOBILE, **kwargs)


@register_model(default_input_size=(3, 144, 144), paper=_OFA, tags=("mobile_cnn", "nas"))
def ofa_cpu_10ms(width_mult: float | None = None, **kwargs) -> MobileNet:
    """Once-for-All subnet for a 10 ms CPU budget (``OFA_CPU_10MS`` at width 1.3, 144 px; paper: 71.1 % top-1)."""
    return create_mbnet(OFA_CPU_10MS, width_mult=1.3 if width_mult is None else width_mult, **kwargs)


@register_model(default_input_size=(3, 208, 208), paper=_OFA, tags=("mobile_cnn", "nas"))
def ofa_cpu_17ms(width_mult: float | None = None, **kwargs) -> MobileNet:
    """Once-for-All subnet for a 17 ms CPU budget (``OFA_CPU_17MS`` at width 1.3, 208 px; paper: 75.7 % top-1)."""
    return create_mbnet(OFA_CPU_17MS, width_mult=1.3 if width_mult is None else width_mult, **kwargs)
