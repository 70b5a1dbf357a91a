"""Sparse Mixture-of-Experts: router, top-k dispatch, load balancing.

One :class:`Router` serves two granularities: tokens (rows of a ``(N, D)`` matrix, as in a
transformer's feed-forward) and whole images/regions (one pooled feature vector per image, as
in MoE-Fusion's gates). :func:`dispatch` then runs each expert only on the rows routed to it
(gather -> expert -> weighted scatter-add), so compute grows with ``top_k``, not with the
number of experts. Routing follows seed 000 eq. 1-3 (softmax scores, top-k, renormalise) with
Shazeer et al.'s (2017) noisy gating and ``cv^2`` load-balancing loss (seed 002 section 6.3);
the auxiliary-loss-free bias update (Wang et al. 2024) is an option.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class Routing:
    """Result of routing ``N`` rows to ``E`` experts.

    ``indices``/``weights``: ``(N, k)`` chosen experts and their renormalised weights;
    ``probs``: ``(N, E)`` softmax scores (differentiable, used for importance);
    ``load``: ``(E,)`` (soft when noisy gating is on, else counted) rows per expert.
    """

    indices: Tensor
    weights: Tensor
    probs: Tensor
    load: Tensor

    @property
    def num_experts(self) -> int:
        return self.probs.shape[1]

    def importance(self) -> Tensor:
        """Sum of each expert's gate probability over the rows, ``(E,)``."""
        return self.probs.sum(0)

    def utilisation(self) -> Tensor:
        """Fraction of routed slots that went to each expert, ``(E,)`` (no gradient)."""
        counts = torch.bincount(self.indices.reshape(-1), minlength=self.num_experts).float()
        return counts / counts.sum().clamp_min(1.0)

    def dense_gates(self) -> Tensor:
        """``(N, E)`` gate matrix with zeros for experts that were not selected."""
        gates = torch.zeros_like(self.probs)
        return gates.scatter(1, self.indices, self.weights)


def cv_squared(x: Tensor, eps: float = 1e-10) -> Tensor:
    """Squared coefficient of variation ``var(x) / mean(x)^2``; 0 when all entries are equal."""
    if x.numel() <= 1:
        return x.new_zeros(())
    x = x.float()
    return x.var(unbiased=False) / (x.mean() ** 2 + eps)


def load_balance_loss(routing: Routing) -> Tensor:
    """Shazeer et al.'s balance loss ``cv^2(importance) + cv^2(load)`` (seed 002 eq. 6.3).

    Zero for a perfectly balanced assignment and growing with imbalance; multiply by the
    weight from the training config (MoE-Fusion: 0.01 local, 0.02 global).
    """
    return cv_squared(routing.importance()) + cv_squared(routing.load)


class Router(nn.Module):
    """Top-k softmax router ``W_r in R^{D x E}`` with optional noisy gating.

    The gate weights start at zero, so every expert gets the same score and load starts
    balanced. With ``noisy`` (training only) the logits are ``x W_g + eps * softplus(x W_noise)``
    and the load estimate is Shazeer's differentiable probability of being in the top k.
    With ``bias_update > 0`` the auxiliary-loss-free scheme adds a per-expert bias to the
    scores used for *selection* only; :meth:`update_bias` nudges it towards balance.
    """

    def __init__(self, dim: int, num_experts: int, top_k: int, *, noisy: bool = False, bias_update: float = 0.0) -> None:
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"top_k must be in 1..{num_experts}, got {top_k}")
        self.num_experts, self.top_k, self.noisy, self.bias_update = num_experts, top_k, noisy, bias_update
        self.gate = nn.Linear(dim, num_experts, bias=False)
        nn.init.zeros_(self.gate.weight)
        self.noise = nn.Linear(dim, num_experts, bias=False) if noisy else None
        if self.noise is not None:
            nn.init.zeros_(self.noise.weight)
        self.register_buffer("selection_bias", torch.zeros(num_experts), persistent=bias_update > 0)

    def forward(self, x: Tensor) -> Routing:
        """Route rows ``x`` of shape ``(N, D)``."""
        if x.ndim != 2:
            raise ValueError(f"router expects (N, D) rows, got shape {tuple(x.shape)}")
        clean = self.gate(x)
        logits, noise_std = clean, None
        if self.noise is not None and self.training:
            noise_std = F.softplus(self.noise(x)) + 1e-2
            logits = clean + torch.randn_like(clean) * noise_std
        probs = logits.softmax(-1)
        selection = probs + self.selection_bias if self.bias_update > 0 else probs
        _, indices = selection.topk(self.top_k, dim=-1)
        top = probs.gather(1, indices)
        weights = top / top.sum(-1, keepdim=True).clamp_min(1e-9)
        if noise_std is not None and self.top_k < self.num_experts:
            load = self._soft_load(clean, logits, noise_std)
        else:
            load = torch.bincount(indices.reshape(-1), minlength=self.num_experts).to(probs.dtype)
        return Routing(indices, weights, probs, load)

    def _soft_load(self, clean: Tensor, noisy: Tensor, noise_std: Tensor) -> Tensor:
        """Shazeer's smooth load: P(expert stays in the top k under fresh noise), summed."""
        top_vals, _ = noisy.topk(self.top_k + 1, dim=-1)
        kth_in, kth_out = top_vals[:, self.top_k - 1 : self.top_k], top_vals[:, self.top_k : self.top_k + 1]
        is_in = noisy > kth_out  # experts currently in the top k compare against the (k+1)-th
        threshold = torch.where(is_in, kth_out, kth_in)
        # the standard normal CDF as torch.distributions.Normal computes it, without its argument
        # check: a diverging run's NaN reaches the loss (and its clear error) instead of raising here
        return (0.5 * (1 + torch.erf((clean - threshold) / noise_std / math.sqrt(2)))).sum(0)

    @torch.no_grad()
    def update_bias(self, routing: Routing) -> None:
        """Auxiliary-loss-free balancing: raise under-loaded experts' bias, lower over-loaded."""
        if self.bias_update <= 0:
            return
        counts = torch.bincount(routing.indices.reshape(-1), minlength=self.num_experts).float()
        self.selection_bias += self.bias_update * torch.sign(counts.mean() - counts)


def dispatch(x: Tensor, routing: Routing, experts: Sequence[nn.Module]) -> Tensor:
    """Run each expert on the rows routed to it and combine with the routing weights.

    ``x``: ``(N, ...)`` rows (tokens or whole images); experts map ``(n, ...) -> (n, ...)``
    with any output trailing shape. Returns ``(N, ...)`` = sum over the k chosen experts of
    ``weight * expert(row)``. Experts no row chose are not run at all.
    """
    out: Tensor | None = None
    for e, expert in enumerate(experts):
        rows, slot = (routing.indices == e).nonzero(as_tuple=True)
        if rows.numel() == 0:
            continue
        y = expert(x if rows.numel() == x.shape[0] and bool((rows == torch.arange(x.shape[0], device=rows.device)).all()) else x.index_select(0, rows))
        w = routing.weights[rows, slot].to(y.dtype).view(-1, *([1] * (y.ndim - 1)))
        if out is None:
            out = y.new_zeros((x.shape[0], *y.shape[1:]))
        out = out.index_add(0, rows, y * w)
    if out is None:  # only possible with zero rows
        out = experts[0](x)
    return out


class GLUExpert(nn.Module):
    """SwiGLU feed-forward expert: ``W2 (silu(x W1) * x W3)``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


@dataclass
class MoEStats:
    """What an MoE layer reports after a forward pass: its balance loss and utilisation."""

    loss: Tensor
    utilisation: Tensor
    routing: Routing


class MoEGLU(nn.Module):
    """Token-level MoE feed-forward: ``routed`` GLU experts (top-k) plus ``shared`` always-on ones.

    Input ``(..., D)``; the leading dimensions are flattened into tokens. After each forward
    ``self.stats`` holds the load-balance loss and expert utilisation of that call.
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        routed: int = 4,
        shared: int = 1,
        top_k: int = 2,
        *,
        noisy: bool = False,
        bias_update: float = 0.0,
    ) -> None:
        super().__init__()
        self.router = Router(dim, routed, top_k, noisy=noisy, bias_update=bias_update)
        self.experts = nn.ModuleList(GLUExpert(dim, hidden) for _ in range(routed))
        self.shared = nn.ModuleList(GLUExpert(dim, hidden) for _ in range(shared))
        self.stats: MoEStats | None = None

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])
        routing = self.router(tokens)
        y = dispatch(tokens, routing, self.experts)
        for expert in self.shared:
            y = y + expert(tokens)
        if self.training:
            self.router.update_bias(routing)
        self.stats = MoEStats(load_balance_loss(routing), routing.utilisation(), routing)
        return y.reshape(shape)


def moe_losses(module: nn.Module) -> Tensor:
    """Sum of the balance losses of every MoE layer inside ``module`` from its last forward."""
    total = None
    for m in module.modules():
        stats = getattr(m, "stats", None)
        if isinstance(stats, MoEStats):
            total = stats.loss if total is None else total + stats.loss
    if total is None:
        return torch.zeros(())
    return total



class ImageMoE(nn.Module):
    """Image-level MoE: one routing decision per image (or region) from pooled features.

    ``x``: ``(B, C, H, W)`` is what the experts receive; ``gate_input`` (default ``x``) is
    average-pooled to ``pool x pool`` and flattened for the router, so any image size works
    (the official MoE-Fusion flattened a fixed 640x480 map into its gates).
    """

    def __init__(self, gate_channels: int, experts: Sequence[nn.Module], top_k: int, *, pool: int = 4, noisy: bool = True) -> None:
        super().__init__()
        self.pool = pool
        self.experts = nn.ModuleList(experts)
        self.router = Router(gate_channels * pool * pool, len(self.experts), top_k, noisy=noisy)
        self.stats: MoEStats | None = None

    def forward(self, x: Tensor, gate_input: Tensor | None = None) -> Tensor:
        g = x if gate_input is None else gate_input
        routing = self.router(F.adaptive_avg_pool2d(g, self.pool).flatten(1))
        y = dispatch(x, routing, self.experts)
        self.stats = MoEStats(load_balance_loss(routing), routing.utilisation(), routing)
        return y
