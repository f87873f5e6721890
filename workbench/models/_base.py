"""The classifier interface every zoo CNN/ViT shares (timm's ``forward_features``/``forward_head``).

A model is ``forward_features`` (image -> feature map or tokens), then ``forward_head``:
``pool`` (global average plus whatever the architecture does to the pooled vector) ->
``head_drop`` -> ``classifier``. Subclasses write ``forward_features`` and, where their head
differs, ``pool``; distillation heads (EfficientFormer, RepViT) override ``forward_head``.
Fine-tuning and feature extraction use the same calls on every model:
``model.forward_head(f, pre_logits=True)`` gives the vector the classifier sees, and
``model.reset_classifier(10)`` swaps the classifier for a new task.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def trunc_normal_init(model: nn.Module, std: float = 0.02) -> None:
    """The ConvNeXt-family init (official code and timm): every conv and linear weight from a
    truncated normal of ``std``, every bias zero; modules visited in ``model.modules()`` order."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def drop_path_rates(stages: Sequence, drop_path_rate: float) -> list[float]:
    """Stochastic-depth probability of every block, rising linearly from 0 to ``drop_path_rate``.

    The schedule of Huang et al. (ECCV 2016) as the ViT-era models use it (timm's ``dpr``): one
    entry per block over all stages, in order; builders ``pop(0)`` one per block.

    Args:
        stages: architecture rows, each with a ``depth`` (blocks in the stage).
        drop_path_rate: probability for the last block.
    """
    return torch.linspace(0, drop_path_rate, sum(s.depth for s in stages)).tolist()


class Classifier(nn.Module):
    """Base of the zoo's image classifiers.

    Subclasses set, in ``__init__``: ``num_features`` (channels the classifier sees),
    ``head_drop`` (dropout module) and ``classifier`` (through :meth:`init_head` or directly),
    and either a ``stem`` and ``stages`` (the default :meth:`forward_features`) or
    their own :meth:`forward_features`.

    Attributes:
        num_classes: classifier outputs.
        num_features: width of the pooled vector the classifier sees.
        default_input_size: (C, H, W) the model expects; set by
            :func:`workbench.models.create_model` from the registry entry.
    """

    num_classes: int
    num_features: int
    default_input_size: tuple[int, int, int]

    def init_head(self, num_features: int, num_classes: int, drop_rate: float = 0.0) -> None:
        """Create ``head_drop`` and ``classifier`` (a ``Linear(num_features, num_classes)``)."""
        self.num_features = num_features
        self.num_classes = num_classes
        self.head_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.classifier = self.make_classifier(num_classes)

    def make_classifier(self, num_classes: int) -> nn.Module:
        """The final layer for ``num_classes`` outputs (a linear layer on the pooled vector)."""
        return nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> features: a (B, C', h, w) map or (B, N, C') tokens.

        The default is the layout most of the zoo shares, ``self.stages(self.stem(x))``;
        models with another trunk override it.
        """
        return self.stages(self.stem(x))

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Features -> (B, num_features): global average over space (or over tokens)."""
        return x.mean((2, 3)) if x.ndim == 4 else x.mean(1)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Features -> (B, num_classes) logits, or the classifier's input if ``pre_logits``."""
        x = self.head_drop(self.pool(x))
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, num_classes) logits."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final layer."""
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final layer by a freshly initialized one with ``num_classes`` outputs.

        Raises:
            ValueError: ``num_classes < 1``.
        """
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.classifier = self.make_classifier(num_classes)


class DistilledClassifier(Classifier):
    """A :class:`Classifier` with an optional distillation head (DeiT-style training).

    EfficientFormer and RepViT are trained with a second classifier fed by a teacher's labels;
    at inference the two heads' logits are averaged (as timm does at eval). Subclasses call
    :meth:`init_dist_head` after :meth:`~Classifier.init_head` and combine the heads in
    ``forward_head``.

    Attributes:
        classifier_dist: the distillation head, ``None`` when dropped (``distillation=False``).
    """

    classifier_dist: nn.Module | None

    def init_dist_head(self, distillation: bool) -> None:
        """Create ``classifier_dist`` like the classifier, or set it to ``None``."""
        self.classifier_dist = self.make_classifier(self.num_classes) if distillation else None

    def reset_classifier(self, num_classes: int) -> None:
        """New classifier (and distillation head, if kept) with ``num_classes`` outputs."""
        super().reset_classifier(num_classes)
        if self.classifier_dist is not None:
            self.classifier_dist = self.make_classifier(num_classes)
