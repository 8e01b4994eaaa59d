"""The spec-independent pieces of a generated contract env's action map and its inverse.

An action a in [-1, 1]^d becomes d = (a + 1) / 2 in [0, 1] per entry. Allocation entries
become lo + (hi - lo) d (one `addcmul` with the per-entry midpoints and half spans,
`ActionTensors`); payment slack entries place a payment in its feasible range given the
other items: floor + d (ceiling - floor) (`within`), or floor + scale d^2 / (1 - d^2) where
no ceiling bounds it (`unbounded`). The inverse maps are `fraction` and `unbounded_inverse`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import torch

SLACK_D_MAX = 0.99  # cap of a slack without ceiling: at most 49 scales above the floor


class ActionTensors(NamedTuple):
    """The constant tensors of one env on one device and dtype, built once (`action_tensors`)."""

    action_mid: torch.Tensor        # (action_dim, 1): lo + (hi - lo) / 2 per allocation entry
    action_half_span: torch.Tensor  # (action_dim, 1): (hi - lo) / 2
    decision_lower: torch.Tensor    # (len(CONTRACT_LAYOUT), 1)
    decision_upper: torch.Tensor    # (len(CONTRACT_LAYOUT), 1), inf where unbounded
    pooling: torch.Tensor           # (action_dim, action_dim): x -> per-allocation means of x


@lru_cache(maxsize=None)
def action_tensors(mid: tuple[float, ...], half_span: tuple[float, ...], lower: tuple[float, ...],
                   upper: tuple[float, ...], pool_groups: tuple[int, ...], device: torch.device,
                   dtype: torch.dtype) -> ActionTensors:
    """`ActionTensors` of the given per-entry values; `pool_groups[k]` is the allocation
    variable of action entry k, and the pooling matrix averages the entries of each one."""
    def column(values):
        return torch.tensor(values, device=device, dtype=dtype).unsqueeze(1)

    groups = torch.tensor(pool_groups, device=device)
    same = (groups.unsqueeze(0) == groups.unsqueeze(1)).to(dtype)
    return ActionTensors(column(mid), column(half_span), column(lower), column(upper), same / same.sum(1, keepdim=True))


def slack_fractions(raw: torch.Tensor, allocation_dim: int) -> torch.Tensor:
    """Raw actions as rows (d, B) -> the payment slacks d = max(a, 0) in [0, 1] of the entries
    from `allocation_dim` on.

    The least payments sit at a = 0, the centre of the action box, where the action penalty and
    an untrained policy put it, and fill the half a <= 0; the half a > 0 spans the range. With
    d = (a + 1) / 2 a centred policy would pay half of every range (on two_period.mech, K = 5,
    the optimum's allocations with every d = 0.5 deploy at -0.83 of the optimum)."""
    return torch.clamp(raw[allocation_dim:], 0.0, 1.0)


def slack_actions(d: torch.Tensor) -> torch.Tensor:
    """The inverse of `slack_fractions` on its image: d in [0, 1] -> a = d."""
    return d


def within(floor: torch.Tensor, ceiling: torch.Tensor, d: torch.Tensor, flow: int) -> torch.Tensor:
    """floor + d (ceiling - floor), d in [0, 1], in the direction of the money flow (`flow`
    = +1: payments go to the agent, -1: the agent pays); the floor where the range is empty."""
    return floor + flow * d * torch.clamp(flow * (ceiling - floor), min=0.0)


def unbounded(d: torch.Tensor) -> torch.Tensor:
    """d in [0, 1] -> d^2 / (1 - d^2): the slack of a payment no upward constraint bounds, in
    units of its scale (0.33 at d = 0.5, 4.3 at 0.9, at most 49 with d capped at SLACK_D_MAX).
    The cap keeps random actions from paying without bound (a uniform d pays 1.7 scales on
    average); a payment more than 49 allocation-cost spans above its floor is not representable."""
    square = d.clamp(max=SLACK_D_MAX).square()
    return square / (1.0 - square)


def unbounded_inverse(r: torch.Tensor) -> torch.Tensor:
    """The inverse of `unbounded`: r >= 0 -> sqrt(r / (1 + r)) (negative r, below the floor: 0)."""
    r = r.clamp(min=0.0)
    return (r / (1.0 + r)).sqrt().clamp(max=SLACK_D_MAX)


def fraction(part: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
    """part / whole clamped to [0, 1] (0 where whole <= 0): the inverse of a range map."""
    positive = whole > 0
    return torch.where(positive, part / torch.where(positive, whole, torch.ones_like(whole)),
                       torch.zeros_like(part)).clamp(0.0, 1.0)


def toward(x: torch.Tensor, x_ref: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """x_ref + lam (x - x_ref), written x + (1 - lam)(x_ref - x): exactly x where lam = 1, and
    the same floating-point operations in the bisection and in the returned contract (float32
    rounding must not undo a feasible step)."""
    return x + (1.0 - lam) * (x_ref - x)


__all__ = ["ActionTensors", "SLACK_D_MAX", "action_tensors", "fraction", "slack_actions", "slack_fractions", "toward", "unbounded",
           "unbounded_inverse", "within"]
