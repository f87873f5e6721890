"""A sparse mixture-of-experts MLP: top-k token routing, capacity, and two ways to balance the load.

technique: mixture_of_experts

Each token $x$ gets router scores $s = \\text{softmax}(W_r x)$ over $E$ experts; it is sent to the
$k$ highest-scoring experts and their outputs are mixed with the renormalised scores of the
chosen ones. Only $k$ of the $E$ expert MLPs run per token, so the *total* parameters grow with
$E$ while the *active* MACs per token stay those of $k$ experts (plus the router's $E \\cdot d$).

Balancing (``balance``):

* ``"aux"`` -- the Switch Transformer / GShard auxiliary loss
  $\\mathcal{L}_{aux} = \\alpha E \\sum_i f_i P_i$ ($f_i$: share of the token-slots routed to expert
  $i$, $P_i$: its mean router probability); minimal ($=\\alpha$) at a uniform load. It is added to
  the training loss through :class:`AddAuxLoss`, so a plain cross-entropy training loop (the
  model bank's) trains it without knowing about it.
* ``"bias"`` -- auxiliary-loss-free balancing (Wang et al. 2024, used by DeepSeek-V3): a
  per-expert bias $b_i$ is added to the scores *for the top-k choice only* (the mixing weights
  stay the unbiased scores), and after every training step $b_i \\mathrel{+}= u \\cdot
  \\text{sign}(\\bar{c} - c_i)$ for the load $c_i$ of expert $i$: overloaded experts are pushed
  down, idle ones up, and no gradient interferes with the task loss.
* ``"none"`` -- neither (the collapse baseline).

``capacity_factor`` caps each expert at $\\lceil cf \\cdot kN/E \\rceil$ token-slots per batch
(Switch); slots beyond it are dropped (that expert contributes nothing to the token; the block's
residual carries it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BALANCE_MODES", "AddAuxLoss", "MoEMLP", "load_stats", "switch_aux_loss"]

BALANCE_MODES = ("aux", "bias", "none")


class AddAuxLoss(torch.autograd.Function):
    """Identity on ``x`` whose backward also sends gradient 1 to the scalar ``loss``.

    ``y = AddAuxLoss.apply(x, loss)`` makes ``loss`` part of whatever loss is later computed from
    ``y`` (the trick of DeepSeek's MoE code): the training loop needs no extra term.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        ctx.needs = loss.requires_grad
        ctx.dtype, ctx.device = loss.dtype, loss.device
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        g = torch.ones((), dtype=ctx.dtype, device=ctx.device) if ctx.needs else None
        return grad, g


def switch_aux_loss(probs: torch.Tensor, chosen: torch.Tensor, num_experts: int) -> torch.Tensor:
    """The Switch/GShard balance loss $E \\sum_i f_i P_i$ (1.0 at a perfectly uniform load).

    Args:
        probs: (N, E) router probabilities.
        chosen: (N, k) indices of the chosen experts.
        num_experts: E.
    """
    counts = torch.zeros(num_experts, device=probs.device, dtype=probs.dtype)
    counts.scatter_add_(0, chosen.reshape(-1), torch.ones(chosen.numel(), device=probs.device, dtype=probs.dtype))
    f = counts / chosen.numel()
    return num_experts * (f * probs.mean(0)).sum()


def load_stats(counts) -> dict[str, float]:
    """Load-balance statistics of per-expert token counts.

    Returns:
        ``{"max_over_mean"}`` (1.0 = perfectly balanced, E = everything on one expert),
        ``"cv"`` (std / mean of the counts, population std), ``"idle_experts"`` (experts that got
        no token) and ``"tokens"`` (token-slots counted).
    """
    c = torch.tensor([float(v) for v in counts], dtype=torch.float64)
    mean = c.mean()
    if c.numel() == 0 or mean <= 0:
        raise ValueError(f"load_stats needs positive counts over >= 1 expert, got {c.tolist()}")
    return {
        "max_over_mean": float(c.max() / mean),
        "cv": float(c.std(unbiased=False) / mean),
        "idle_experts": int((c == 0).sum()),
        "tokens": int(c.sum()),
    }


class MoEMLP(nn.Module):
    """A sparse MoE feed-forward layer: ``num_experts`` two-layer GELU MLPs, top-k routing.

    Args:
        dim: token width $d$ (input and output).
        hidden: hidden width of each expert.
        num_experts: E.
        top_k: experts per token (1 <= k <= E).
        balance: one of :data:`BALANCE_MODES`.
        aux_weight: $\\alpha$ of the ``"aux"`` loss (Switch uses 0.01).
        bias_rate: $u$ of the ``"bias"`` update (DeepSeek-V3 uses 0.001).
        capacity_factor: token-slots per expert as a multiple of the even share $kN/E$; None: no
            cap (no token is dropped).

    Attributes:
        load: (E,) token-slots each expert processed, summed since :meth:`reset_load`.
        dropped: token-slots dropped by the capacity cap since :meth:`reset_load`.
        expert_bias: (E,) the ``"bias"`` mode's balancing bias (a buffer, saved with the weights).
        aux_loss: the last forward's weighted auxiliary loss (0 when ``balance != "aux"``).
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        num_experts: int = 4,
        top_k: int = 1,
        *,
        balance: str = "aux",
        aux_weight: float = 0.01,
        bias_rate: float = 1e-3,
        capacity_factor: float | None = None,
    ) -> None:
        super().__init__()
        if balance not in BALANCE_MODES:
            raise ValueError(f"unknown balance {balance!r}; valid: {', '.join(BALANCE_MODES)}")
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"top_k={top_k} must be in 1..num_experts={num_experts}")
        if capacity_factor is not None and capacity_factor <= 0:
            raise ValueError(f"capacity_factor={capacity_factor} must be > 0 or None")
        self.num_experts, self.top_k, self.balance = num_experts, top_k, balance
        self.aux_weight, self.bias_rate, self.capacity_factor = aux_weight, bias_rate, capacity_factor
        self.router = nn.Linear(dim, num_experts, bias=False)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)) for _ in range(num_experts)
        )
        self.register_buffer("expert_bias", torch.zeros(num_experts))
        self.register_buffer("load", torch.zeros(num_experts), persistent=False)
        self.register_buffer("dropped", torch.zeros(()), persistent=False)
        self.aux_loss = torch.zeros(())

    def reset_load(self) -> None:
        """Zero the load counters (:attr:`load`, :attr:`dropped`)."""
        self.load.zero_()
        self.dropped.zero_()

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router probabilities (N, E), chosen experts (N, k) and their mixing weights (N, k)."""
        probs = F.softmax(self.router(x).float(), dim=-1)
        # the bias steers the choice only; the weights come from the unbiased scores
        select = probs + self.expert_bias if self.balance == "bias" else probs
        chosen = select.topk(self.top_k, dim=-1).indices
        weights = probs.gather(1, chosen)
        weights = weights / weights.sum(-1, keepdim=True)
        return probs, chosen, weights

    def capacity(self, tokens: int) -> int | None:
        """Token-slots one expert may take in a batch of ``tokens`` tokens (None: unlimited)."""
        if self.capacity_factor is None:
            return None
        return math.ceil(self.capacity_factor * tokens * self.top_k / self.num_experts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])  # (N tokens, d)
        probs, chosen, weights = self.route(x)
        cap = self.capacity(len(x))
        out = torch.zeros_like(x)
        counts = torch.zeros(self.num_experts, device=x.device)
        dropped = 0
        for e, expert in enumerate(self.experts):
            token, slot = (chosen == e).nonzero(as_tuple=True)
            counts[e] = len(token)
            if cap is not None and len(token) > cap:  # first come, first served (Switch)
                dropped += len(token) - cap
                token, slot = token[:cap], slot[:cap]
            if len(token):
                y = expert(x[token]) * weights[token, slot, None]
                out.index_add_(0, token, y.to(out.dtype))
        with torch.no_grad():
            self.load += counts
            self.dropped += dropped
        if self.training and self.balance == "aux":
            self.aux_loss = self.aux_weight * switch_aux_loss(probs, chosen, self.num_experts)
            out = AddAuxLoss.apply(out, self.aux_loss)
        elif self.training and self.balance == "bias":
            with torch.no_grad():  # the loss-free update: push overloaded experts down
                self.expert_bias += self.bias_rate * torch.sign(counts.mean() - counts)
        return out.reshape(shape)

    def extra_repr(self) -> str:
        return (
            f"experts={self.num_experts}, top_k={self.top_k}, balance={self.balance!r}, "
            f"capacity_factor={self.capacity_factor}"
        )
