"""Verdict and takeaways of the ``channel_attention`` notebook.

Squeeze-and-Excitation on a feature map $X \\in \\mathbb{R}^{C \\times H \\times W}$:
squeeze $z_c = \\frac{1}{HW}\\sum_{i,j} x_{c,i,j}$; excite $s = \\sigma(W_2\\,\\delta(W_1 z))$ with
$W_1 \\in \\mathbb{R}^{C/r \\times C}$, $W_2 \\in \\mathbb{R}^{C \\times C/r}$; rescale
$\\tilde{x}_c = s_c\\, x_c$. Its $2C^2/r$ weights per block are few MACs (one vector, not a
map) but can be a large share of a small model's parameters.

Rule (:func:`conclude`) on the claim "channel attention costs few MACs but more latency than its
MACs suggest, for an accuracy gain that must beat seed noise":

* cost half holds when every attention's latency overhead exceeds its MAC overhead;
* accuracy half: *gain* when training beats a linear classifier, there are >= 2 seeds and the best
  gain exceeds twice the largest seed std; *no gain* when testable but not; *untestable* otherwise.
* supported = cost and gain; partly supported = cost with no gain or untestable, or gain
  without cost; not supported = neither (testable); inconclusive = no cost effect and untestable.

When the table carries the interquartile range of the latency ratios (``latency_ratio_q1/q3``),
"exceeds" must hold for the lower quartile and "does not exceed" for the upper one; a ratio whose
IQR straddles the MAC overhead makes the cost half *noisy*, which counts like *untestable*
accuracy: the verdict can then be at best "partly supported".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from torch import nn

from .training import accuracy_sentence, max_spread, seeds_of, too_short
from .verdicts import Lesson, finite, seed_spread

CLAIM = (
    "Channel attention (SE, ECA, CBAM) costs few MACs but can hold a large share of a small model's parameters, "
    "and its CPU latency overhead exceeds its MAC overhead; an accuracy gain must beat the seed-to-seed spread."
)
#: The SE paper's mobile rows (Hu et al., Squeeze-and-Excitation Networks, TPAMI 2019, Table 3):
#: ImageNet top-1 error (%) of the re-implemented baseline and with SE, MFLOPs, params (M).
SE_PAPER_MOBILE_ROWS = (
    {
        "model": "MobileNet 1.0",
        "top1_err": 28.4,
        "se_top1_err": 25.3,
        "mflops": 569,
        "se_mflops": 572,
        "params_m": 4.2,
        "se_params_m": 4.7,
    },
    {
        "model": "ShuffleNet 1x (g=3)",
        "top1_err": 32.6,
        "se_top1_err": 31.0,
        "mflops": 140,
        "se_mflops": 142,
        "params_m": 1.8,
        "se_params_m": 2.4,
    },
)
ATTENTION_TYPES = ("SqueezeExcite", "EfficientChannelAttention", "CBAM")


def attention_params(model: nn.Module) -> dict[str, float]:
    """Parameters inside channel-attention modules (SE, ECA, CBAM) vs the whole model.

    Returns:
        ``{"attention_params", "total_params", "share_pct", "modules"}``.
    """
    mods = [m for m in model.modules() if type(m).__name__ in ATTENTION_TYPES]
    att = sum(p.numel() for m in mods for p in m.parameters())
    total = sum(p.numel() for p in model.parameters())
    return {
        "attention_params": att,
        "total_params": total,
        "share_pct": 100 * att / total if total else float("nan"),
        "modules": len(mods),
    }


def overheads(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with overheads (%) relative to its first row (the backbone without attention).

    Adds ``params_overhead_pct, macs_overhead_pct, all_ops_overhead_pct, latency_overhead_pct``
    (from ``latency_ratio``) and ``accuracy_delta`` (points).
    """
    t = table.copy()
    base = t.iloc[0]
    t["params_overhead_pct"] = 100 * (t.params / base.params - 1)
    t["macs_overhead_pct"] = 100 * (t.macs / base.macs - 1)
    if "macs_all_ops" in t:
        t["all_ops_overhead_pct"] = 100 * (t.macs_all_ops / base.macs_all_ops - 1)
    t["latency_overhead_pct"] = 100 * (t.latency_ratio / base.latency_ratio - 1)
    t["accuracy_delta"] = t.accuracy - base.accuracy
    return t


def _short(name: str) -> str:
    return name.split(" + ")[-1]


def conclude(
    table: pd.DataFrame,
    *,
    se_share: Mapping[str, float] | None = None,
    attn_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    epochs: int = 0,
    images: int = 0,
) -> Lesson:
    """The channel-attention verdict and takeaways.

    Args:
        table: :func:`overheads` of the trained variants, first row without attention; names
            end in ``" + <attention>"``.
        se_share: :func:`attention_params` of the backbone with SE, optional.
        attn_kwargs: attention -> the ``attn_kwargs`` it was built with (for the confound note).
        epochs, images: the training schedule.
    """
    if len(table) < 2:
        raise ValueError(
            f"conclude needs the baseline and at least one attention, got {list(table.name)}"
        )
    att = table.iloc[1:]
    base = table.latency_ratio.iloc[0]
    lo = (
        100 * (att.latency_ratio_q1 / base - 1)
        if "latency_ratio_q1" in att
        else att.latency_overhead_pct
    )
    hi = (
        100 * (att.latency_ratio_q3 / base - 1)
        if "latency_ratio_q3" in att
        else att.latency_overhead_pct
    )
    if (lo > att.macs_overhead_pct).all():
        cost_state = "exceeds"
    elif (hi < att.macs_overhead_pct).any():
        cost_state = "does not always exceed"
    else:
        cost_state = "is within the latency noise of"
    n, spread = seeds_of(table), max_spread(table)
    best = att.loc[att.accuracy_delta.idxmax()]
    if too_short(table) or n < 2 or not finite(spread):
        acc = "untestable"
    else:
        acc = "gain" if best.accuracy_delta > 2 * spread else "no gain"
    verdict = {
        ("exceeds", "gain"): "supported", ("exceeds", "no gain"): "partly supported", ("exceeds", "untestable"): "partly supported",
        ("does not always exceed", "gain"): "partly supported", ("does not always exceed", "no gain"): "not supported",
        ("does not always exceed", "untestable"): "inconclusive",
        ("is within the latency noise of", "gain"): "partly supported", ("is within the latency noise of", "no gain"): "inconclusive",
        ("is within the latency noise of", "untestable"): "inconclusive",
    }[(cost_state, acc)]  # fmt: skip
    why_acc = {
        "gain": f"best accuracy gain {best.accuracy_delta:+.2f} points ({_short(best['name'])}) exceeds twice the {seed_spread(spread, n)}",
        "no gain": f"best accuracy gain {best.accuracy_delta:+.2f} points ({_short(best['name'])}) is within twice the {seed_spread(spread, n)}",
        "untestable": "accuracy untestable: "
        + ("training too short" if too_short(table) else seed_spread(spread, n)),
    }[acc]
    cost = "; ".join(
        f"{_short(r['name'])} {r.latency_overhead_pct:+.1f}% latency vs {r.macs_overhead_pct:+.1f}% MACs"
        for _, r in att.iterrows()
    )
    evidence = f"Latency overhead {cost_state} MAC overhead ({cost}); {why_acc}."

    takeaways = []
    if se_share:
        size = "a large" if se_share["share_pct"] >= 10 else "a small"
        takeaways.append(
            f"SE holds {se_share['attention_params']:,} of the backbone's {se_share['total_params']:,} parameters "
            f"({se_share['share_pct']:.1f}%, {se_share['modules']} modules): {size} share. With 10 classes the classifier is tiny, "
            f"so the SE weights (2C^2/r per block) weigh much more than in a 1000-class ImageNet model."
        )
    for _, r in att.iterrows():
        takeaways.append(
            f"{_short(r['name'])}: {r.params_overhead_pct:+.2f}% params, {r.macs_overhead_pct:+.2f}% MACs, "
            f"{r.latency_overhead_pct:+.1f}% latency (BN folded, interleaved) vs the backbone without attention."
        )
    names = {_short(n) for n in table.name}
    if attn_kwargs and {"se", "cbam"} <= names and {"se", "cbam"} <= set(attn_kwargs):
        se_r, cb_r = attn_kwargs["se"].get("rd_ratio"), attn_kwargs["cbam"].get("rd_ratio")
        same = se_r is not None and se_r == cb_r
        takeaways.append(
            f"CBAM vs SE: reduction ratio {cb_r} vs {se_r} ({'aligned' if same else 'NOT aligned: part of any difference is the ratio'}); "
            "the gates still differ (SE here: ReLU + hard-sigmoid as in MobileNetV3; CBAM: sigmoid of avg- plus max-pooled "
            "descriptors, then a spatial gate), so CBAM - SE measures the whole module, not the spatial gate alone."
        )
    takeaways.append(accuracy_sentence(table, epochs=epochs, images=images))
    if acc != "untestable":
        takeaways.append(
            f"Best gain {best.accuracy_delta:+.2f} points ({_short(best['name'])}) against a {seed_spread(spread, n)}."
        )

    key_numbers: dict[str, Any] = {}
    if se_share:
        key_numbers["SE share of parameters"] = {
            "value": round(se_share["share_pct"], 1),
            "unit": "%",
        }
    for _, r in att.iterrows():
        key_numbers[f"{_short(r['name'])}: latency / MACs overhead"] = (
            f"{r.latency_overhead_pct:+.1f}% / {r.macs_overhead_pct:+.1f}%"
        )
    key_numbers["seed spread"] = (
        {"value": round(spread, 2), "unit": "points"}
        if n >= 2 and finite(spread)
        else seed_spread(spread, n)
    )
    key_numbers["training"] = (
        "too short: accuracy ignored"
        if too_short(table)
        else f"{epochs} epochs on {images:,} images"
    )
    if acc != "untestable":
        key_numbers["best accuracy delta"] = {
            "value": round(float(best.accuracy_delta), 2),
            "unit": f"points ({_short(best['name'])})",
        }
    return Lesson(CLAIM, verdict, evidence, tuple(takeaways), key_numbers)


def variants(
    backbone: str,
    attentions: list[str] | tuple[str, ...],
    *,
    se_rd_ratio: float,
    eca_k_size: int,
    cbam_rd_ratio: float,
    cbam_spatial_kernel: int,
) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{"<backbone> + <attention>": (backbone, create_model kwargs)}`` for each attention.

    The notebook trains exactly these, and :func:`bank_entries` declares them to the report
    runner, so the two can never disagree.
    """
    attn_kwargs = {
        "none": {}, "se": {"rd_ratio": se_rd_ratio}, "eca": {"k_size": eca_k_size},
        "cbam": {"rd_ratio": cbam_rd_ratio, "spatial_kernel": cbam_spatial_kernel},
    }  # fmt: skip
    unknown = [a for a in attentions if a not in attn_kwargs]
    if unknown:
        raise ValueError(f"unknown attention {unknown[0]!r}; valid: {', '.join(attn_kwargs)}")
    base = {"small_input": True}
    return {
        f"{backbone} + {a}": (backbone, _native_or(backbone, base, {"attn": a, "attn_kwargs": attn_kwargs[a]}))
        for a in attentions
    }


def _native_or(backbone: str, base: dict[str, Any], attn: dict[str, Any]) -> dict[str, Any]:
    """``base`` alone when ``attn`` builds the backbone's own network, else ``base | attn``.

    The backbone's own SE (e.g. MobileNetV3's, ratio 0.25) asked for explicitly is the network
    other notebooks train under the plain name; giving it the same create_model kwargs gives it
    the same model-bank entry, so it is trained once. "Same network" is checked, not assumed:
    equal module tree and equal initial weights under one seed.
    """
    import torch

    from ..models import create_model

    def build(kw):
        torch.manual_seed(0)
        return create_model(backbone, num_classes=10, in_chans=1, **kw)

    try:
        native, asked = build(base), build(base | attn)
    except ValueError:  # e.g. a backbone without SE blocks: create_model says why when trained
        return base | attn
    same = repr(native) == repr(asked) and all(
        a.shape == b.shape and torch.equal(a, b)
        for a, b in zip(native.state_dict().values(), asked.state_dict().values(), strict=True)
    ) and list(native.state_dict()) == list(asked.state_dict())
    return base if same else base | attn


def bank_entries(params: Mapping[str, Any]) -> list:
    """Model-bank entries the notebook needs for its effective ``params`` (built before it runs)."""
    from ..bank import BankEntry

    vs = variants(
        params["backbone"], params["attentions"], se_rd_ratio=params["se_rd_ratio"],
        eca_k_size=params["eca_k_size"], cbam_rd_ratio=params["cbam_rd_ratio"],
        cbam_spatial_kernel=params["cbam_spatial_kernel"],
    )  # fmt: skip
    return [BankEntry(name, params["recipe"], seed, kw) for name, kw in vs.values() for seed in params["seeds"]]
