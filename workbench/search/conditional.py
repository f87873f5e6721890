"""Conditional computation, evaluated: early-exit thresholds, the oracle exit, two-model cascades.

Conventions. A policy sends each test image to one exit (or one model of a cascade); its cost
is the cost of the path that image took, so a policy's *mean* cost is
$\\bar{c} = \\sum_k s_k c_k$ with $s_k$ the share of images leaving at exit $k$ and $c_k$ the cost
of reaching and checking it (MACs of segments and heads $0..k$; or the measured batch-1
latency of that path). Confidence is the max-softmax probability; an image leaves at the first
exit whose confidence reaches the threshold $t$ (the last exit takes the rest).

The **oracle** sends each image to the cheapest exit that classifies it correctly (to the first
exit when none does): no threshold policy on the same exits can be more accurate.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..models.early_exit import MultiExit

__all__ = [
    "ExitOutputs",
    "cascade_sweep",
    "exit_heads_task",
    "cost_table",
    "exit_costs",
    "exit_outputs",
    "expert_load",
    "load_imbalance",
    "token_drop_sweep",
    "oracle_exit",
    "policy_exits",
    "threshold_sweep",
    "train_exit_heads",
]


class ExitOutputs:
    """Per-exit confidence and prediction on a test set.

    Attributes:
        confidence: (K, N) max-softmax probability of each exit.
        prediction: (K, N) predicted class of each exit.
        labels: (N,) true classes.
    """

    def __init__(self, confidence: np.ndarray, prediction: np.ndarray, labels: np.ndarray) -> None:
        confidence, prediction, labels = np.asarray(confidence), np.asarray(prediction), np.asarray(labels)
        if confidence.shape != prediction.shape or confidence.ndim != 2 or confidence.shape[1] != len(labels):
            raise ValueError(
                f"confidence {confidence.shape} and prediction {prediction.shape} must be (exits, N) with N = {len(labels)} labels"
            )
        self.confidence, self.prediction, self.labels = confidence, prediction, labels

    @property
    def correct(self) -> np.ndarray:
        """(K, N) bool: exit k classifies image n correctly."""
        return self.prediction == self.labels[None]

    def exit_accuracy(self) -> np.ndarray:
        """(K,) accuracy (%) of every exit taken alone."""
        return 100.0 * self.correct.mean(1)


@torch.inference_mode()
def exit_outputs(net: nn.Module, loader) -> ExitOutputs:
    """Run ``net`` over ``loader``: a :class:`MultiExit` (a list of per-exit logits) or a plain classifier (K = 1)."""
    net.eval()
    conf, pred, labels = [], [], []
    for x, y in loader:
        out = net(x)
        out = [out] if isinstance(out, torch.Tensor) else out
        probs = torch.stack([F.softmax(z.float(), -1) for z in out])  # (K, B, C)
        c, p = probs.max(-1)
        conf.append(c)
        pred.append(p)
        labels.append(y)
    return ExitOutputs(torch.cat(conf, 1).numpy(), torch.cat(pred, 1).numpy(), torch.cat(labels).numpy())


def policy_exits(confidence: np.ndarray, threshold: float) -> np.ndarray:
    """(N,) exit index each image takes: the first with confidence >= ``threshold``, else the last."""
    conf = np.asarray(confidence)
    hit = conf[:-1] >= threshold  # the last exit always takes what is left
    first = np.where(hit.any(0), hit.argmax(0), len(conf) - 1)
    return first


def _costs(costs: Mapping[str, Sequence[float]], k: int) -> dict[str, np.ndarray]:
    out = {name: np.asarray(c, dtype=float) for name, c in costs.items()}
    bad = [n for n, c in out.items() if c.shape != (k,)]
    if bad:
        raise ValueError(f"cost {bad[0]!r} needs one value per exit ({k}), got {out[bad[0]].shape}")
    return out


def threshold_sweep(outputs: ExitOutputs, costs: Mapping[str, Sequence[float]], thresholds: Sequence[float]) -> pd.DataFrame:
    """Accuracy and mean cost of the max-softmax exit policy at each threshold.

    Args:
        outputs: :func:`exit_outputs`.
        costs: ``{column: per-exit cost}``, e.g. ``{"macs": [...], "latency_ratio": [...]}``;
            each value is the cost of an image that leaves at that exit.
        thresholds: confidence thresholds (>= 1 never exits early).

    Returns:
        One row per threshold: ``threshold, accuracy`` (%), ``mean_<cost>`` per cost, and
        ``exit_<k>_pct`` (share of images leaving at exit k, %).
    """
    k = len(outputs.confidence)
    cs = _costs(costs, k)
    rows = []
    for t in thresholds:
        ex = policy_exits(outputs.confidence, t)
        n = np.arange(len(ex))
        row = {"threshold": float(t), "accuracy": 100.0 * outputs.correct[ex, n].mean()}
        share = np.bincount(ex, minlength=k) / len(ex)
        row |= {f"mean_{name}": float(share @ c) for name, c in cs.items()}
        row |= {f"exit_{j}_pct": 100.0 * share[j] for j in range(k)}
        rows.append(row)
    return pd.DataFrame(rows)


def oracle_exit(outputs: ExitOutputs, costs: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """The oracle's accuracy (%) and mean costs: each image at its cheapest correct exit.

    Costs must grow with the exit index (later exits include the earlier path), so "cheapest
    correct" is "first correct"; images no exit gets right leave at the first exit.
    """
    k = len(outputs.confidence)
    cs = _costs(costs, k)
    correct = outputs.correct
    ex = np.where(correct.any(0), correct.argmax(0), 0)
    share = np.bincount(ex, minlength=k) / len(ex)
    return {"accuracy": 100.0 * correct.any(0).mean()} | {f"mean_{n}": float(share @ c) for n, c in cs.items()}


def cascade_sweep(small: ExitOutputs, large: ExitOutputs, cost_small: Mapping[str, float], cost_large: Mapping[str, float],
                  thresholds: Sequence[float]) -> pd.DataFrame:  # fmt: skip
    """A small -> large cascade: every image runs the small model, uncertain ones also the large.

    Args:
        small, large: single-exit :class:`ExitOutputs` (K = 1) on the same test images.
        cost_small, cost_large: ``{column: cost of one image}`` of each model.
        thresholds: the small model's confidence below which an image is deferred.

    Returns:
        One row per threshold: ``threshold, accuracy`` (%), ``deferred_pct``, ``mean_<cost>``
        ($c_s + d\\,c_l$ for a deferred share $d$).
    """
    if not np.array_equal(small.labels, large.labels):
        raise ValueError("the cascade's two models must be evaluated on the same test images")
    if set(cost_small) != set(cost_large):
        raise ValueError(f"cost columns differ: {sorted(cost_small)} vs {sorted(cost_large)}")
    rows = []
    for t in thresholds:
        defer = small.confidence[0] < t
        correct = np.where(defer, large.correct[0], small.correct[0])
        d = defer.mean()
        row = {"threshold": float(t), "accuracy": 100.0 * correct.mean(), "deferred_pct": 100.0 * d}
        row |= {f"mean_{n}": cost_small[n] + d * cost_large[n] for n in cost_small}
        rows.append(row)
    return pd.DataFrame(rows)


def build_exits(backbone: nn.Module, cuts: tuple[int, ...], num_classes: int = 10) -> MultiExit:
    """A :class:`MultiExit` around ``backbone`` (it copies it: the bank's model stays untouched)."""
    return MultiExit(backbone, tuple(cuts), num_classes)


def train_exit_heads(net: MultiExit, *, subset: int, epochs: int, lr: float, batch_size: int, seed: int) -> dict:
    """Train the exit heads on the frozen backbone with the summed cross-entropy of all early exits.

    The backbone (and its own head) keep the model bank's weights; only the early heads learn,
    with AdamW and a cosine schedule on ``subset`` Fashion-MNIST training images.

    Returns:
        ``{"loss": [per-epoch mean summed loss], "seconds": s}`` (JSON-able, for
        :func:`workbench.bank.cached_train`).
    """
    import time

    from ..data import fashion_mnist

    train = fashion_mnist("train", subset=subset, batch_size=batch_size)
    frozen = [*net.backbone.parameters(), *net.segments.parameters()]
    for p in frozen:
        p.requires_grad_(False)
    net.eval()  # frozen BN statistics too (the heads have no BN)
    opt = torch.optim.AdamW(net.heads.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * len(train))
    losses, t0 = [], time.perf_counter()
    for epoch in range(epochs):
        total, seen = 0.0, 0
        for x, y in train.epoch(epoch, seed):
            feats = []
            with torch.no_grad():
                h = x
                for seg in net.segments[:-1]:
                    h = seg(h)
                    feats.append(h)
            loss = sum(F.cross_entropy(head(f), y) for head, f in zip(net.heads, feats, strict=True))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, seen = total + loss.item() * len(y), seen + len(y)
        losses.append(total / seen)
    for p in frozen:
        p.requires_grad_(True)
    return {"loss": losses, "seconds": time.perf_counter() - t0}


def exit_heads_task(backbone: nn.Module, cuts: Sequence[int], *, subset: int, epochs: int, lr: float,
                    batch_size: int = 256, seed: int = 0) -> dict:  # fmt: skip
    """``build`` and ``train`` for :func:`workbench.bank.cached_train` of the exit heads.

    Usage: ``wb.bank.cached_train("exit_heads", **exit_heads_task(...), settings={"backbone":
    bank_result.path.name, ...}, seed=seed)``; the settings must name the backbone's bank entry
    (its weights are not part of the code fingerprint).
    """
    return {
        "build": functools.partial(build_exits, backbone, tuple(cuts)),
        "train": functools.partial(train_exit_heads, subset=subset, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed),
    }


def exit_costs(net: MultiExit, *, rounds: int = 10, threads: int | None = None) -> pd.DataFrame:
    """Per-exit cost of the deploy form (BN folded): MACs and interleaved batch-1 latency.

    Returns:
        One row per exit: ``exit, macs`` (segments and heads up to it, the checks' softmax not
        counted as MACs), ``latency_ratio`` (to the full path, the last exit) and its IQR
        bounds ``latency_ratio_q1/q3``.
    """
    from ..layers import reparameterize_model
    from ..measure import compare_latency, count_macs
    from ..models.early_exit import ExitPath

    deploy = reparameterize_model(net)
    size = tuple(net.default_input_size)
    paths = {f"exit {k}": ExitPath(deploy, k) for k in range(net.num_exits)}
    names = list(paths)[::-1]  # the full path first: it is the latency baseline
    lat = compare_latency({n: paths[n] for n in names}, size, rounds=rounds, threads=threads).set_index("name")
    return pd.DataFrame(
        {
            "exit": range(net.num_exits),
            "macs": [count_macs(p, size).macs for p in paths.values()],
            "latency_ratio": [lat.ratio[n] for n in paths],
            "latency_ratio_q1": [lat.ratio_q1[n] for n in paths],
            "latency_ratio_q3": [lat.ratio_q3[n] for n in paths],
        }
    )


def token_drop_sweep(model: nn.Module, loader, keep_rates: Sequence[float], *, after: int = 0, rounds: int = 10,
                     threads: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Accuracy, MACs and batch-1 latency of a :class:`~workbench.models.cond_vit.CondViT` per keep rate.

    Args:
        model: the trained ViT (left with its own keep setting).
        loader: test batches.
        keep_rates: shares of patch tokens kept after block ``after``; the first is the latency
            baseline (use 1.0 first).
        after: the block after which tokens are dropped.

    Returns:
        One row per keep rate: ``keep_rate, tokens`` (patch tokens kept), ``accuracy`` (%),
        ``macs``, ``latency_ratio`` (to the first keep rate).
    """
    from ..layers.token_drop import kept_tokens
    from ..measure import compare_latency, count_macs
    from ..train import evaluate

    size = tuple(model.default_input_size)
    copies = {f"keep {r:g}": copy.deepcopy(model).set_token_keep(r, after).eval() for r in keep_rates}
    lat = compare_latency(copies, size, rounds=rounds, threads=threads).set_index("name")
    return pd.DataFrame(
        {
            "keep_rate": list(keep_rates),
            "tokens": [kept_tokens(model.num_patches, r) for r in keep_rates],
            "accuracy": [evaluate(m, loader).accuracy for m in copies.values()],
            "macs": [count_macs(m, size).macs for m in copies.values()],
            "latency_ratio": [lat.ratio[n] for n in copies],
        }
    )


@torch.inference_mode()
def expert_load(model: nn.Module, loader) -> pd.DataFrame:
    """Token-slots each expert of each MoE layer takes on ``loader`` (eval mode).

    Returns:
        One row per (layer, expert): ``layer, expert, tokens, share_pct`` (of the layer's slots),
        empty for a model without MoE layers.
    """
    from ..layers.moe import MoEMLP

    layers = [m for m in model.modules() if isinstance(m, MoEMLP)]
    for m in layers:
        m.reset_load()
    model.eval()
    for x, _ in loader:
        model(x)
    rows = [
        {"layer": i, "expert": e, "tokens": int(c), "share_pct": 100.0 * float(c) / float(m.load.sum())}
        for i, m in enumerate(layers)
        for e, c in enumerate(m.load.tolist())
    ]
    return pd.DataFrame(rows, columns=["layer", "expert", "tokens", "share_pct"])


def load_imbalance(load: pd.DataFrame) -> float:
    """The worst layer's max / mean expert load (1.0 = balanced; NaN without MoE layers)."""
    from ..layers.moe import load_stats

    if load.empty:
        return float("nan")
    return max(load_stats(g.tokens.to_numpy())["max_over_mean"] for _, g in load.groupby("layer"))


def cost_table(models: Mapping[str, nn.Module], input_size: tuple[int, ...] = (1, 28, 28)) -> pd.DataFrame:
    """``name, params, macs`` of untrained models (MACs of the traced forward: only routed experts count).

    ``expert_params`` is the share of the parameters inside MoE experts (0 for a dense model).
    """
    from ..layers.moe import MoEMLP
    from ..measure import count_macs

    rows = []
    for name, m in models.items():
        total = sum(p.numel() for p in m.parameters())
        experts = sum(p.numel() for mod in m.modules() if isinstance(mod, MoEMLP) for p in mod.experts.parameters())
        rows.append({"name": name, "params": total, "expert_params_pct": 100.0 * experts / total, "macs": count_macs(m, input_size).macs})
    return pd.DataFrame(rows)
