"""Sequence mixers on ``(B, N, D)`` tokens, written to be read: softmax, window and linear
attention, and a Mamba-style selective state-space model (SSM) with three ways to run its scan.

technique: efficient_attention
technique: state_space_models

Every mixer maps ``(B, N, D)`` to ``(B, N, D)``; ``N`` is the sequence length (tokens), ``D`` the
model width. Costs per sequence, ``h`` heads of width ``d = D / h``, window ``w``, SSM state
size ``S`` per channel, inner width ``E``:

* :class:`SoftmaxAttention` -- ``softmax(Q K^T / sqrt(d)) V``: ``2 N^2 D`` MACs for the two
  products and an ``h x N x N`` score matrix (Vaswani et al., NeurIPS 2017). ``impl='math'``
  writes the matrix out; ``impl='sdpa'`` calls ``F.scaled_dot_product_attention``, whose CPU
  kernel tiles it (flash-attention style) so memory stays ``O(N)``, though time stays ``O(N^2)``.
* :class:`WindowAttention` -- the same attention inside non-overlapping windows of ``w``
  tokens (Swin / HaloNet style): ``2 N w D`` MACs, linear in ``N``.
* :class:`LinearAttention` -- ReLU kernel instead of softmax (EfficientViT, Cai et al., ICCV
  2023): ``relu(Q) (relu(K)^T V)`` computes a ``d x d`` summary first, ``2 N d D`` MACs.
* :class:`SelectiveSSM` -- Mamba's selective scan (Gu & Dao, 2023): a per-channel linear
  recurrence ``h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t``, ``y_t = C_t . h_t + D x_t`` whose
  ``dt, B, C`` depend on the input. ``O(N E S)`` element-wise work, almost no MACs. The scan
  runs as a Python loop (``scan='sequential'``), as a Hillis-Steele associative scan in
  ``log2 N`` vectorized passes (``scan='parallel'``, ``O(N log N)`` work), or one token at a
  time from a fixed-size state (:meth:`SelectiveSSM.step`, the decode step).

No fused selective-scan kernel (``mamba_ssm``'s CUDA code) exists for a CPU: the timings of
:class:`SelectiveSSM` are those of plain PyTorch ops, which materialize the ``(B, N, E, S)``
state tensor in memory.

For NCHW feature maps (the MetaFormer token mixers) :class:`WindowAttention2d` partitions the
map into square windows and :class:`Tokens2d` flattens a map into a sequence and back; both
are registered by name in :func:`workbench.layers.metaformer.get_token_mixer`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .metaformer import register_token_mixer

ATTENTION_IMPLS = ("math", "sdpa")
SCANS = ("sequential", "parallel")


def attention_math(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention written out: the ``(..., N, N)`` score matrix exists in memory.

    Args:
        q, k, v: ``(B, heads, N, d)``.
    """
    scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5  # (B, heads, N, N)
    return scores.softmax(dim=-1) @ v


class SoftmaxAttention(nn.Module):
    """Global multi-head softmax attention on ``(B, N, D)`` tokens (no bias, no mask).

    Args:
        dim: token width ``D``.
        head_dim: channels per head (``heads = max(D // head_dim, 1)``).
        impl: ``'math'`` (:func:`attention_math`) or ``'sdpa'`` (fused
            ``F.scaled_dot_product_attention``); the weights are the same.
    """

    def __init__(self, dim: int, head_dim: int = 32, impl: str = "sdpa") -> None:
        super().__init__()
        if impl not in ATTENTION_IMPLS:
            raise ValueError(f"unknown attention impl {impl!r}; valid: {', '.join(ATTENTION_IMPLS)}")
        self.impl = impl
        self.head_dim = min(head_dim, dim)
        self.num_heads = max(dim // self.head_dim, 1)
        inner = self.num_heads * self.head_dim
        self.qkv = nn.Linear(dim, 3 * inner, bias=False)
        self.proj = nn.Linear(inner, dim, bias=False)

    def split_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, N, D)`` -> q, k, v, each ``(B, heads, N, head_dim)``."""
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return qkv.unbind(0)

    def merge_heads(self, o: torch.Tensor) -> torch.Tensor:
        """``(B, heads, N, head_dim)`` -> projected ``(B, N, D)``."""
        b, _, n, _ = o.shape
        return self.proj(o.transpose(1, 2).reshape(b, n, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_heads(x)
        o = F.scaled_dot_product_attention(q, k, v) if self.impl == "sdpa" else attention_math(q, k, v)
        return self.merge_heads(o)


class WindowAttention(nn.Module):
    """:class:`SoftmaxAttention` inside non-overlapping windows of ``window`` tokens.

    The sequence is zero-padded at the end to a multiple of ``window``, the windows become the
    batch, and the padding is cropped off again. Tokens never see past their window: the
    receptive field grows only with depth (or with shifted windows, not done here).

    Args:
        dim, head_dim, impl: as :class:`SoftmaxAttention`.
        window: tokens per window ``w``.
    """

    def __init__(self, dim: int, window: int = 64, head_dim: int = 32, impl: str = "sdpa") -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be >= 1 token, got {window}")
        self.window = window
        self.attn = SoftmaxAttention(dim, head_dim, impl)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        pad = (-n) % self.window
        x = F.pad(x, (0, 0, 0, pad))  # (B, N + pad, D)
        x = self.attn(x.reshape(-1, self.window, d))  # (B * windows, w, D)
        return x.reshape(b, n + pad, d)[:, :n]


class LinearAttention(nn.Module):
    """ReLU linear attention (EfficientViT, Cai et al. 2023): softmax replaced by a kernel.

    With ``phi = relu``: ``o_i = phi(q_i) (sum_j phi(k_j)^T v_j) / (phi(q_i) . sum_j phi(k_j))``.
    Computing ``phi(K)^T V`` first (a ``d x d`` matrix per head) makes the cost linear in ``N``.

    Args:
        dim: token width ``D``.
        head_dim: channels per head.
        eps: keeps the normalizer away from zero (all-zero ReLU rows).
    """

    def __init__(self, dim: int, head_dim: int = 32, eps: float = 1e-6) -> None:
        super().__init__()
        self.qkv_heads = SoftmaxAttention(dim, head_dim)  # reuse its projections and head split
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv_heads.split_heads(x)  # (B, heads, N, d)
        q, k = F.relu(q), F.relu(k)
        kv = k.transpose(-2, -1) @ v  # (B, heads, d, d): independent of N
        num = q @ kv  # (B, heads, N, d)
        den = q @ k.sum(dim=-2, keepdim=True).transpose(-2, -1)  # (B, heads, N, 1)
        return self.qkv_heads.merge_heads(num / (den + self.eps))


def softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + exp(x))`` written with ops every MAC counter knows (stable for large ``|x|``)."""
    return F.relu(x) + torch.log(1 + torch.exp(-x.abs()))


def scan_sequential(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``h_t = a_t * h_{t-1} + b_t`` (``h_{-1} = 0``) one step at a time: ``N`` dependent steps.

    Args:
        a, b: ``(B, N, ...)``, the recurrence runs over dim 1.

    Returns:
        every ``h_t``, shape of ``b``.
    """
    h = torch.zeros_like(b[:, 0])
    hs = []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1), strict=True):  # unbind: one backward, not N
        h = a_t * h + b_t
        hs.append(h)
    return torch.stack(hs, dim=1)


def scan_parallel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The same recurrence as :func:`scan_sequential` in ``ceil(log2 N)`` vectorized passes.

    Hillis-Steele inclusive scan of the associative operator
    ``(a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2)`` (Blelloch 1990; Martin & Cundy, ICLR 2018):
    after the pass with offset ``s`` every position holds the composition of the last ``2s``
    steps. ``O(N log N)`` element-wise work instead of ``O(N)``, but each pass is one big
    tensor op, and no exponential of a cumulative sum is formed (that overflows for long ``N``).
    """
    s = 1
    while s < b.shape[1]:
        # compose each step with the one s positions earlier; the first s are already final
        b = torch.cat([b[:, :s], a[:, s:] * b[:, :-s] + b[:, s:]], dim=1)
        a = torch.cat([a[:, :s], a[:, s:] * a[:, :-s]], dim=1)
        s *= 2
    return b


_SCANS = {"sequential": scan_sequential, "parallel": scan_parallel}


class SelectiveSSM(nn.Module):
    """Mamba-style selective state-space mixer (Gu & Dao, "Mamba", 2023, Algorithm 2).

    ``x -> in_proj -> (u, z)``; ``u -> causal depthwise conv1d -> SiLU``; from ``u`` per token:
    step ``dt = softplus(W_dt u)`` (``E`` values), input matrix ``B_t`` and output matrix ``C_t``
    (``S`` values each). With ``A = -exp(A_log)`` (``E x S``, negative so the state decays):

    ``h_t = exp(dt_t A) * h_{t-1} + dt_t B_t u_t``  (zero-order-hold ``A``, Euler ``B``),
    ``y_t = C_t . h_t + D u_t``, output ``out_proj(y * SiLU(z))``.

    Args:
        dim: token width ``D``.
        d_state: state size ``S`` per inner channel (16 in Mamba).
        expand: inner width ``E = expand * D`` (Mamba: 2; 1 matches attention's ``4 D^2`` params).
        d_conv: causal conv kernel (4 in Mamba).
        dt_rank: rank of the ``dt`` projection (Mamba: ``ceil(D / 16)``).
        scan: ``'sequential'`` or ``'parallel'`` (see the module docstring).
    """

    def __init__(
        self,
        dim: int,
        d_state: int = 16,
        expand: int = 1,
        d_conv: int = 4,
        dt_rank: int | None = None,
        scan: str = "parallel",
    ) -> None:
        super().__init__()
        if scan not in _SCANS:
            raise ValueError(f"unknown scan {scan!r}; valid: {', '.join(SCANS)}")
        self.scan = scan
        e = expand * dim
        self.d_inner, self.d_state, self.d_conv = e, d_state, d_conv
        self.dt_rank = dt_rank or math.ceil(dim / 16)
        self.in_proj = nn.Linear(dim, 2 * e, bias=False)
        self.conv = nn.Conv1d(e, e, d_conv, groups=e, padding=d_conv - 1)
        self.x_proj = nn.Linear(e, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, e)
        # S4D-real init: A_n = -(n + 1), so channels decay at different rates
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(e, 1))
        self.D = nn.Parameter(torch.ones(e))
        self.out_proj = nn.Linear(e, dim, bias=False)

    def _select(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Input-dependent ``dt (.., E)``, ``B (.., S)``, ``C (.., S)`` from ``u (.., E)``."""
        dt, b, c = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return softplus(self.dt_proj(dt)), b, c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        u, z = self.in_proj(x).chunk(2, dim=-1)  # (B, N, E) each
        u = F.silu(self.conv(u.transpose(1, 2))[..., :n].transpose(1, 2))  # causal: crop the tail
        dt, b, c = self._select(u)
        # The scan runs in fp32 even under bf16 autocast: products of many decays lose bits fast.
        dt, b, c, u32 = dt.float(), b.float(), c.float(), u.float()
        a = torch.exp(dt.unsqueeze(-1) * -torch.exp(self.A_log))  # (B, N, E, S) decays in (0, 1)
        bu = (dt * u32).unsqueeze(-1) * b.unsqueeze(2)  # (B, N, E, S)
        h = _SCANS[self.scan](a, bu)  # (B, N, E, S): the whole state history in memory
        y = (h * c.unsqueeze(2)).sum(-1) + self.D * u32  # (B, N, E)
        return self.out_proj((y * F.silu(z.float())).to(x.dtype))

    def init_state(self, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero decode state: the last ``d_conv`` conv inputs ``(B, E, d_conv)`` and ``h (B, E, S)``."""
        p = self.A_log
        return (p.new_zeros(batch, self.d_inner, self.d_conv), p.new_zeros(batch, self.d_inner, self.d_state))

    def step(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One decode step: ``x (B, D)`` and the state -> ``y (B, D)`` and the new state.

        Its cost does not depend on how many tokens came before: the state has a fixed size,
        where attention's key/value cache grows by one token per step.
        """
        u, z = self.in_proj(x).chunk(2, dim=-1)  # (B, E)
        window = torch.cat([state[0][:, :, 1:], u.unsqueeze(-1)], dim=-1)  # last d_conv inputs
        u = F.silu((window * self.conv.weight[:, 0]).sum(-1) + self.conv.bias)
        dt, b, c = self._select(u)
        a = torch.exp(dt.unsqueeze(-1) * -torch.exp(self.A_log))  # (B, E, S)
        h = a * state[1] + (dt * u).unsqueeze(-1) * b.unsqueeze(1)
        y = (h * c.unsqueeze(1)).sum(-1) + self.D * u
        return self.out_proj(y * F.silu(z)), (window, h)


def ssd_chunked(x: torch.Tensor, log_a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, tril: torch.Tensor) -> torch.Tensor:
    """Mamba-2's state-space-duality scan: matmuls inside chunks, a short recurrence between them.

    The recurrence ``H_t = a_t H_{t-1} + b_t x_t^T``, ``y_t = H_t^T c_t`` (scalar decay ``a_t``
    per head, state ``S x P`` per head) unrolls to ``y_t = sum_{s<=t} (c_t . b_s) (prod_{s<r<=t} a_r) x_s``:
    a causal "attention" whose mask is the decay ``L[t, s] = exp(cs_t - cs_s)`` with
    ``cs = cumsum(log a)`` (Dao & Gu, "Transformers are SSMs", ICML 2024). Inside a chunk of
    ``T`` tokens that form is ``T^2`` matmul work; between chunks only the ``S x P`` states
    are passed on, so the total is ``O(N T)``, linear in ``N``.

    Args:
        x: ``(B, N, heads, P)`` inputs (already scaled by ``dt``).
        log_a: ``(B, N, heads)`` log decays (``<= 0``).
        b, c: ``(B, N, S)`` input and output matrices (shared by the heads).
        tril: ``(T, T)`` lower-triangular ones; ``T`` is the chunk length.

    Returns:
        ``(B, N, heads, P)``.
    """
    bs, n, nh, p = x.shape
    t = tril.shape[0]
    pad = (-n) % t
    x, log_a, b, c = (F.pad(v, (0,) * (2 * v.dim() - 4) + (0, pad)) for v in (x, log_a, b, c))
    k = (n + pad) // t  # chunks
    x = x.reshape(bs, k, t, nh, p).transpose(2, 3)  # (B, K, heads, T, P)
    la = log_a.reshape(bs, k, t, nh).transpose(2, 3)  # (B, K, heads, T)
    b, c = b.reshape(bs, k, t, -1), c.reshape(bs, k, t, -1)  # (B, K, T, S)
    cs = la @ tril.T  # cumulative log decay inside each chunk (a matmul: cumsum by ones)
    seg = cs.unsqueeze(-1) - cs.unsqueeze(-2)  # (B, K, heads, T, T): log prod_{s<r<=t} a_r
    decay = torch.exp(seg.masked_fill(tril == 0, float("-inf")))  # causal: zero above the diagonal
    y = ((c @ b.transpose(-2, -1)).unsqueeze(2) * decay) @ x  # within-chunk part
    # state each chunk leaves behind: sum_s exp(cs_T - cs_s) b_s x_s^T -> (B, K, heads, S, P)
    to_end = torch.exp(cs[..., -1:] - cs)  # (B, K, heads, T)
    states = (b.unsqueeze(2) * to_end.unsqueeze(-1)).transpose(-2, -1) @ x
    h = torch.zeros_like(states[:, 0])
    carried = []
    for j in range(k):  # K = N / T dependent steps instead of N
        carried.append(h)
        h = torch.exp(cs[:, j, :, -1:]).unsqueeze(-1) * h + states[:, j]
    carried = torch.stack(carried, dim=1)  # state entering each chunk
    y = y + torch.exp(cs).unsqueeze(-1) * (c.unsqueeze(2) @ carried)  # decayed carried-in state
    return y.transpose(2, 3).reshape(bs, k * t, nh, p)[:, :n]


class SSD(nn.Module):
    """Mamba-2-style mixer (Dao & Gu, ICML 2024): a selective SSM run as chunked matmuls.

    Like :class:`SelectiveSSM` the step ``dt``, ``B`` and ``C`` depend on the token; unlike it the
    decay is one scalar per head (``a_t = exp(-dt_t exp(A_log))``), which is what lets
    :func:`ssd_chunked` run the scan as matrix products: no ``(B, N, E, S)`` tensor is
    materialized, so it trains fast on a CPU without a fused kernel.

    Args:
        dim: token width ``D``.
        d_state: state size ``S``.
        head_dim: channels ``P`` per head (``heads = E / P``).
        expand: inner width ``E = expand * D``.
        chunk: chunk length ``T`` (64 as in Mamba-2's CPU-friendly setting; short sequences use one chunk).
        d_conv: causal depthwise conv kernel.
    """

    def __init__(
        self, dim: int, d_state: int = 16, head_dim: int = 16, expand: int = 1, chunk: int = 64, d_conv: int = 4
    ) -> None:
        super().__init__()
        e = expand * dim
        self.d_inner, self.d_state, self.head_dim = e, d_state, head_dim
        self.heads = max(e // head_dim, 1)
        self.in_proj = nn.Linear(dim, 2 * e + 2 * d_state + self.heads, bias=False)  # u, z, B, C, dt
        self.conv = nn.Conv1d(e, e, d_conv, groups=e, padding=d_conv - 1)
        self.dt_bias = nn.Parameter(torch.zeros(self.heads))
        self.A_log = nn.Parameter(torch.log(torch.linspace(1, 16, self.heads)))
        self.D = nn.Parameter(torch.ones(self.heads))
        self.out_proj = nn.Linear(e, dim, bias=False)
        self.register_buffer("tril", torch.ones(chunk, chunk).tril(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bs, n, _ = x.shape
        e, s, hp = self.d_inner, self.d_state, (self.heads, self.head_dim)
        u, z, b, c, dt = self.in_proj(x).split([e, e, s, s, self.heads], dim=-1)
        u = F.silu(self.conv(u.transpose(1, 2))[..., :n].transpose(1, 2))  # (B, N, E)
        dt = softplus(dt + self.dt_bias)  # (B, N, heads)
        t = min(self.tril.shape[0], n)
        u_h = u.reshape(bs, n, *hp)
        y = ssd_chunked(u_h * dt.unsqueeze(-1), -dt * torch.exp(self.A_log), b, c, self.tril[:t, :t])
        y = (y + self.D.view(-1, 1) * u_h).reshape(bs, n, e)
        return self.out_proj(y * F.silu(z))


# --- adapters for NCHW feature maps (MetaFormer token mixers) ---------------------------------


class Tokens2d(nn.Module):
    """Run a ``(B, N, C)`` sequence mixer on a ``(B, C, H, W)`` map in raster order."""

    def __init__(self, mixer: nn.Module) -> None:
        super().__init__()
        self.mixer = mixer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = self.mixer(x.flatten(2).transpose(1, 2))  # (B, H*W, C)
        return t.transpose(1, 2).reshape(b, c, h, w)


class LinearAttention2d(Tokens2d):
    """:class:`LinearAttention` over all ``H * W`` positions of an NCHW map."""

    def __init__(self, dim: int, head_dim: int = 32) -> None:
        super().__init__(LinearAttention(dim, head_dim))


class SSD2d(Tokens2d):
    """:class:`SSD` over an NCHW map read in raster order."""

    def __init__(self, dim: int, d_state: int = 16, head_dim: int = 16) -> None:
        super().__init__(SSD(dim, d_state, head_dim))


class SelectiveSSM2d(Tokens2d):
    """:class:`SelectiveSSM` over an NCHW map read in raster order (one direction, as NetMamba)."""

    def __init__(self, dim: int, d_state: int = 16, expand: int = 1) -> None:
        super().__init__(SelectiveSSM(dim, d_state, expand))


class WindowAttention2d(nn.Module):
    """Softmax attention inside non-overlapping ``window x window`` squares of an NCHW map.

    The map is zero-padded at the bottom/right to a multiple of the window (Swin's window
    partition, without the shift). Global attention on ``N = HW`` tokens costs ``2 N^2 C``
    MACs; windows of ``w^2`` tokens cost ``2 N w^2 C``: linear in the number of pixels.
    """

    def __init__(self, dim: int, window: int = 7, head_dim: int = 32) -> None:
        super().__init__()
        self.window = window
        self.attn = SoftmaxAttention(dim, head_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        ws = self.window
        x = F.pad(x, (0, (-w) % ws, 0, (-h) % ws))
        ph, pw = x.shape[2:]
        x = x.reshape(b, c, ph // ws, ws, pw // ws, ws).permute(0, 2, 4, 3, 5, 1)  # (B, nH, nW, ws, ws, C)
        t = self.attn(x.reshape(-1, ws * ws, c))  # windows as the batch
        x = t.reshape(b, ph // ws, pw // ws, ws, ws, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, ph, pw)
        return x[:, :, :h, :w]


class CascadedGroupMixer(nn.Module):
    """EfficientViT-MSRA's cascaded group attention in 7 x 7 windows as a MetaFormer mixer.

    :class:`workbench.layers.efficientvit.LocalWindowAttention` with the EfficientViT-M
    settings (``key_dim`` 16, ``attn_ratio`` = ``dim / heads / key_dim``), sized for ``dim``.
    """

    def __init__(self, dim: int, num_heads: int = 2, key_dim: int = 16, window: int = 7) -> None:
        super().__init__()
        from .efficientvit import LocalWindowAttention  # efficientvit -> metaformer: import late

        self.attn = LocalWindowAttention(
            dim, key_dim, num_heads, attn_ratio=dim / num_heads / key_dim, resolution=window,
            window_resolution=window, kernels=(5,) * num_heads,
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x)


# The MetaFormer table learns the mixers of this module (token_mixers notebook).
for _name, _cls in (
    ("window_attention", WindowAttention2d),
    ("linear_attention", LinearAttention2d),
    ("cascaded_group_attention", CascadedGroupMixer),
    ("ssm", SelectiveSSM2d),
    ("ssd", SSD2d),
):
    register_token_mixer(_name, _cls)
