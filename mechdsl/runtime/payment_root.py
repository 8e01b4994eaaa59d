"""Batched, differentiable payment roots: t with u(t, z) = target on [low, high], in torch.

The generated env's payment rules hold such a root where SymPy has no closed-form inverse of
the agent's utility in the payment (`mechdsl.reduce.numeric_inverse`). u is strictly monotone
in t on [low, high] (`increasing` says which way), so bisection brackets the root:

    bisection_steps(dtype, low, high) halvings of [low, high] leave an interval of width
    <= eps (max(1, |low|, |high|)), then one Newton step WITH gradients attached,
        t = t* - (u(t*, z) - target) / u_t(t*, z),   t* and u_t(t*, z) detached,
    which polishes t* to the dtype's precision and gives autograd the implicit function theorem's
    derivatives: dt/dz = -u_z / u_t, dt/dtarget = 1 / u_t at the root (the residual u - target
    is ~0 there, so no second-order term is lost).

Where u - target has no root in [low, high], bisection ends at the bound nearer the root and
the Newton step carries t past it by |u(b) - target| / |u_t(b)|: the payment then violates
its declared bound, which the env's certificate counts as a violation, so the proposal goes
through the feasibility repair (it is never clamped into the bounds silently).

Device- and dtype-agnostic: every tensor is made like the inputs; no host round trip.
"""

from __future__ import annotations

import math
from typing import Callable

import torch


def bisection_steps(dtype: torch.dtype, low: float, high: float) -> int:
    """Halvings of [low, high] down to eps * max(1, |low|, |high|), the dtype's resolution there."""
    resolution = torch.finfo(dtype).eps * max(1.0, abs(low), abs(high))
    return max(1, math.ceil(math.log2(max(high - low, resolution) / resolution))) + 1


def payment_root(utility: Callable, slope: Callable, target, args: tuple, low: float, high: float,
                 increasing: bool) -> torch.Tensor:
    """The root in t of utility(t, *args) = target on [low, high] (module docstring), broadcast
    over target and args (tensors or numbers, at least one a tensor); slope(t, *args) = du/dt."""
    tensors = [a for a in (target, *args) if isinstance(a, torch.Tensor)]
    like = torch.broadcast_tensors(*tensors)[0]
    with torch.no_grad():
        fixed = [a.detach() if isinstance(a, torch.Tensor) else a for a in args]
        goal = target.detach() if isinstance(target, torch.Tensor) else target
        lo = torch.full_like(like, low).detach()
        hi = torch.full_like(like, high).detach()
        for _ in range(bisection_steps(like.dtype, low, high)):
            mid = 0.5 * (lo + hi)
            gap = utility(mid, *fixed) - goal
            up = gap < 0 if increasing else gap > 0  # the root lies above mid
            lo, hi = torch.where(up, mid, lo), torch.where(up, hi, mid)
        root = 0.5 * (lo + hi)
        rate = slope(root, *fixed)
    return root - (utility(root, *args) - target) / rate


__all__ = ["bisection_steps", "payment_root"]
