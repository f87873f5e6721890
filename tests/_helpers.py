"""Small helpers shared by several test modules (imported as ``from _helpers import ...``)."""

from __future__ import annotations

import torch
from torch import nn


def randomize_bn(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics and affine terms (so a wrong fold cannot pass); eval mode."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1.0, 1.0)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


def committed_draw(seed: int, excluded: list[str], n: int = 80) -> list[str]:
    """The README's sample draw: ``n`` catalogue ids, sorted, from those in none of the ``excluded``
    sample files of ``datasets/literature/`` (the code each labelled sample documents)."""
    import csv
    import json
    import random

    from workbench.literature.catalogue import CATALOGUE_PATH, DATA_DIR

    ids = sorted(json.loads(line)["id"] for line in open(CATALOGUE_PATH, encoding="utf-8") if line.strip())
    seen = set()
    for name in excluded:
        seen |= {r["id"] for r in csv.DictReader(open(DATA_DIR / name, encoding="utf-8"))}
    return sorted(random.Random(seed).sample([i for i in ids if i not in seen], n))
