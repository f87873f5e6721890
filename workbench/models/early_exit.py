"""Early exits on a trained backbone: small classifier heads after intermediate stages.

:class:`MultiExit` wraps a zoo classifier whose trunk is one ``nn.Sequential`` (``features``, as
in :class:`~workbench.models.reference_cnn.ReferenceCNN`) and attaches a head after chosen layer
indices. The backbone's own head is the last exit. Heads are trained on the frozen backbone
(:func:`workbench.search.conditional.train_exit_heads`), so the backbone stays the model bank's.

A head is ``AdaptiveAvgPool2d(pool) -> flatten -> Linear``: at an early, wide map a global average
throws away where things are, and a 4x4 pool keeps it for $16C \\cdot K$ weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["ExitPath", "MultiExit"]


class MultiExit(nn.Module):
    """A backbone with exits after ``features[cut]`` for each ``cut`` in ``cuts``, plus its own head.

    Args:
        backbone: a classifier with ``features`` (an ``nn.Sequential`` trunk) and ``forward_head``.
        cuts: increasing indices into ``backbone.features``; an exit reads the output of that layer.
        num_classes: head outputs.
        pool: side of the pooled map each exit head sees.

    Raises:
        ValueError: no ``features`` trunk, or cuts not increasing inside it.
    """

    def __init__(self, backbone: nn.Module, cuts: tuple[int, ...], num_classes: int = 10, pool: int = 4) -> None:
        super().__init__()
        feats = getattr(backbone, "features", None)
        if not isinstance(feats, nn.Sequential):
            raise ValueError(f"{type(backbone).__name__} has no nn.Sequential 'features' trunk to cut")
        if not cuts or list(cuts) != sorted(set(cuts)) or cuts[0] < 0 or cuts[-1] >= len(feats) - 1:
            raise ValueError(f"cuts {list(cuts)} must be increasing indices in 0..{len(feats) - 2}")
        # a copy whose trunk moves into ``segments``: each layer is registered once, so BN folding
        # (which replaces a BN by Identity in its parent Sequential) cannot miss or repeat one
        backbone = copy.deepcopy(backbone)
        feats = backbone.features
        self.cuts, self.default_input_size = tuple(cuts), getattr(backbone, "default_input_size", (1, 28, 28))
        with torch.no_grad():
            chans = [self._channels(feats[: c + 1]) for c in cuts]
        bounds = (0, *(c + 1 for c in cuts), len(feats))
        self.segments = nn.ModuleList(feats[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        backbone.features = nn.Identity()
        self.backbone = backbone
        self.heads = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Linear(c * pool * pool, num_classes)) for c in chans
        )

    def _channels(self, prefix: nn.Module) -> int:
        was = prefix.training
        out = prefix.eval()(torch.zeros(1, *self.default_input_size))
        prefix.train(was)
        return out.shape[1]

    @property
    def num_exits(self) -> int:
        """Exits including the backbone's own head."""
        return len(self.heads) + 1

    def head(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Logits of exit ``k`` (0-based) from the output of segment ``k``."""
        return self.heads[k](x) if k < len(self.heads) else self.backbone.forward_head(x)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits of every exit, first to last: a list of ``num_exits`` (B, classes) tensors."""
        outs = []
        for k, seg in enumerate(self.segments):
            x = seg(x)
            outs.append(self.head(k, x))
        return outs


class ExitPath(nn.Module):
    """What one input that leaves at exit ``k`` costs: segments 0..k, heads 0..k, the checks in between.

    The batch-1 latency of this module is the per-sample latency of an image that exits at ``k``
    under a confidence threshold (earlier heads run, their max-softmax is compared, and the image
    goes on). Its forward returns exit ``k``'s logits.
    """

    def __init__(self, net: MultiExit, k: int, threshold: float = 2.0) -> None:
        super().__init__()
        if not 0 <= k < net.num_exits:
            raise ValueError(f"exit {k} not in 0..{net.num_exits - 1}")
        self.net, self.k = net, k
        self.threshold = threshold  # > 1: the checks never stop early, so the path is always k long
        self.default_input_size = net.default_input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for j in range(self.k + 1):
            x = self.net.segments[j](x)
            logits = self.net.head(j, x)
            if j < self.k and bool(logits.softmax(-1).amax() >= self.threshold):
                break  # never taken (threshold > 1) but paid for: the check and its host sync
        return logits
