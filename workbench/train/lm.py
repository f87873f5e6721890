"""Training tiny language models on a :class:`~workbench.data.text.TextCorpus` (for ``cached_train``).

Next-character prediction with cross-entropy on random windows of the training split; AdamW with
a linear warm-up and cosine decay; the validation loss (nats per character) is evaluated on
fixed, evenly spaced windows of the validation split, so two models see exactly the same text.
Bits per character are ``nats / ln 2``; perplexity is ``exp(nats)``.

Used through :func:`lm_trainer`, whose closure is what ``wb.bank.cached_train`` keys::

    trainer = wb.train.lm.lm_trainer(corpus, steps=300)
    r = wb.bank.cached_train("tiny_lm_deep", build=wb.train.lm.lm_builder(kw), train=trainer,
                             settings={**trainer.settings, "model": kw}, seed=0)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..data.text import TextCorpus
from ..models import create_model

__all__ = ["eval_windows", "evaluate_lm", "lm_builder", "lm_trainer", "train_lm"]


def eval_windows(tokens: torch.Tensor, seq_len: int, max_windows: int | None = None) -> torch.Tensor:
    """Non-overlapping ``(N, seq_len + 1)`` windows of ``tokens`` (evenly spaced when capped)."""
    n = (len(tokens) - 1) // seq_len
    if n < 1:
        raise ValueError(f"{len(tokens)} tokens are too few for windows of {seq_len}")
    starts = torch.arange(n) * seq_len
    if max_windows is not None and n > max_windows:
        starts = starts[torch.linspace(0, n - 1, max_windows).long()]
    return torch.stack([tokens[s : s + seq_len + 1] for s in starts.tolist()])


@torch.no_grad()
def evaluate_lm(model: nn.Module, tokens: torch.Tensor, *, seq_len: int = 64, max_windows: int | None = 256,
                batch_size: int = 64) -> float:  # fmt: skip
    """Mean next-token cross-entropy (nats per token) of ``model`` on windows of ``tokens``.

    Every position of a window is scored, so early positions (short context) count too: the
    same windows for every model keep the comparison fair.
    """
    was = model.training
    model.eval()
    windows = eval_windows(tokens, seq_len, max_windows)
    total, count = 0.0, 0
    for i in range(0, len(windows), batch_size):
        w = windows[i : i + batch_size]
        logits = model(w[:, :-1])
        total += F.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten(), reduction="sum").item()
        count += w[:, 1:].numel()
    model.train(was)
    return total / count


def _lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def train_lm(model: nn.Module, corpus: TextCorpus, *, steps: int = 300, batch_size: int = 32, seq_len: int = 64,
             lr: float = 3e-3, weight_decay: float = 0.05, warmup: int = 30, eval_every: int = 100,
             eval_windows_n: int = 128, seed: int | None = None) -> dict:  # fmt: skip
    """Train ``model`` in place; return a JSON-able history.

    Args:
        model: a language model taking ``(B, T)`` token ids, returning ``(B, T, vocab)`` logits.
        corpus: the text (``corpus.train`` to learn from, ``corpus.val`` to score).
        steps: optimizer steps (each ``batch_size`` random windows of ``seq_len`` tokens).
        lr: peak learning rate; warmup: linear warm-up steps, then cosine decay to 0.
        weight_decay: AdamW decay on matrices (not on norms).
        eval_every: validation every this many steps (and at the end).
        eval_windows_n: validation windows (fixed, evenly spaced).
        seed: the batch-sampling seed; ``None`` draws it from torch's global RNG (so
            ``cached_train(..., seed=s)``, which seeds that RNG, also varies the batches).

    Returns:
        ``{"step": [...], "train_loss": [...], "val_loss": [...], "val_bpc": [...],
        "final_val_loss", "final_val_bpc", "params", "tokens_seen", "seconds", "steps_per_s"}``
        (losses in nats per character; ``train_loss`` is the mean since the previous eval).
    """
    if steps < 1 or batch_size < 1 or seq_len < 2:
        raise ValueError(f"need steps >= 1, batch_size >= 1, seq_len >= 2; got {steps}, {batch_size}, {seq_len}")
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95))  # fmt: skip
    gen = torch.Generator().manual_seed(int(torch.randint(2**31 - 1, (1,))) if seed is None else seed)
    data = corpus.train
    hist: dict = {"step": [], "train_loss": [], "val_loss": [], "val_bpc": []}
    running, n_run = 0.0, 0
    model.train()
    t0 = time.perf_counter()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, steps, lr, warmup)
        ix = torch.randint(0, len(data) - seq_len - 1, (batch_size,), generator=gen)
        w = torch.stack([data[i : i + seq_len + 1] for i in ix.tolist()])
        loss = F.cross_entropy(model(w[:, :-1]).flatten(0, 1), w[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running, n_run = running + loss.item(), n_run + 1
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            val = evaluate_lm(model, corpus.val, seq_len=seq_len, max_windows=eval_windows_n)
            hist["step"].append(step + 1)
            hist["train_loss"].append(running / n_run)
            hist["val_loss"].append(val)
            hist["val_bpc"].append(val / math.log(2))
            running, n_run = 0.0, 0
    secs = time.perf_counter() - t0
    model.eval()
    return {**hist, "final_val_loss": hist["val_loss"][-1], "final_val_bpc": hist["val_bpc"][-1],
            "params": sum(p.numel() for p in model.parameters()), "tokens_seen": steps * batch_size * seq_len,
            "seconds": secs, "steps_per_s": steps / secs}  # fmt: skip


def lm_trainer(corpus: TextCorpus, **options) -> Callable[[nn.Module], dict]:
    """``train(model) -> history`` for ``wb.bank.cached_train``, with ``.settings`` to key it by.

    Args:
        corpus: the text corpus.
        **options: :func:`train_lm` keyword arguments (steps, batch_size, seq_len, lr, ...).
    """

    def train(model: nn.Module) -> dict:
        return train_lm(model, corpus, **options)

    train.settings = {"data": corpus.key, **options}
    return train


def lm_builder(kwargs: dict) -> Callable[[], nn.Module]:
    """``build()`` for ``cached_train``: ``create_model("tiny_lm", **kwargs)`` (key ``kwargs`` in settings)."""

    def build() -> nn.Module:
        return create_model("tiny_lm", **kwargs)

    return build
