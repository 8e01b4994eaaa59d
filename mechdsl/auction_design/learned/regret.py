"""Two estimates of ex post regret, side by side: gradient ascent and grid enumeration.

Bidder i's ex post regret at profile v is
    rgt_i(v) = max_{b_i} u_i(v_i; (b_i, v_-i)) - u_i(v_i; v)   (>= 0),
and the certificate reports its mean over sampled profiles (Duetting et al. 2019, eq. (2)).
Every estimate below searches a subset of the misreports, so each is a lower bound on the
true regret; the point of giving two is that they fail differently:

- `gradient_regret`: Adam ascent on b_i from ``restarts`` starts (the truthful report and
  uniform draws from the value box) for ``steps`` steps each, keeping the best utility seen
  at any step. This is the research-code estimate, extended with many restarts; on a
  piecewise-constant mechanism (an argmax menu) its gradient is that of the mechanism's
  differentiable surrogate and the exact utility scores each iterate.
- `grid_regret`: the exact maximum over a grid of ``points`` per value dimension (the full
  box, the support of the value distribution), for settings with at most two value
  dimensions per bidder (points^2 misreports per bidder and profile). It misses only
  misreports between grid points, so where the utility is Lipschitz in the report it is
  within (Lipschitz constant) x (grid step) of the true regret; gradient ascent has no
  such bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mechdsl.auction_design.learned.mechanism import (
    Mechanism,
    deviation_utilities,
    truthful_utilities,
)
from mechdsl.auction_design.learned.setting import generator_for
from mechdsl.errors import UsageError

MAX_GRID_DIMENSIONS = 2


@dataclass(frozen=True)
class RegretEstimate:
    """Mean regret per bidder by one method; ``per_sample`` is (B, n) for inspection."""

    method: str
    per_bidder: tuple[float, ...]
    detail: str
    per_sample: torch.Tensor = field(repr=False, compare=False)

    @property
    def max_bidder(self) -> float:
        return max(self.per_bidder)


def _box(mechanism: Mechanism, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return mechanism.setting.bounds(values.device, values.dtype)


def gradient_regret(mechanism: Mechanism, values: torch.Tensor, restarts: int = 16,
                    steps: int = 200, lr: float = 0.02, seed: int = 0) -> RegretEstimate:
    """Best utility over ``restarts`` x ``steps`` Adam iterates of every bidder's misreport.

    ``lr`` is in units of the widest value range. Restart 0 starts at the truthful report,
    the others at uniform draws from the value box.
    """
    lo, hi = _box(mechanism, values)
    batch, n, m = values.shape
    g = generator_for(seed, values.device)
    expanded = values.repeat_interleave(restarts, dim=0)                       # (B R, n, m)
    starts = lo + (hi - lo) * torch.rand(expanded.shape, generator=g, device=values.device,
                                         dtype=values.dtype)
    starts.view(batch, restarts, n, m)[:, 0] = values
    misreports = starts.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([misreports], lr=lr * float((hi - lo).max()))
    smooth = getattr(mechanism, "exact_is_smooth", False)
    best = torch.full((batch * restarts, n), -torch.inf, device=values.device, dtype=values.dtype)
    for step in range(steps + 1):
        if smooth:      # one pass gives both the score and the gradient
            utility = deviation_utilities(mechanism, expanded, misreports, exact=True)
            scored = utility.detach()
        else:
            with torch.no_grad():
                scored = deviation_utilities(mechanism, expanded, misreports, exact=True)
        best = torch.maximum(best, scored)
        if step == steps:
            break
        if not smooth:
            utility = deviation_utilities(mechanism, expanded, misreports, exact=False)
        gradient = (torch.autograd.grad(-utility.sum(), [misreports], allow_unused=True)[0]
                    if utility.requires_grad else None)   # None: the report does not move u_i
        misreports.grad = torch.zeros_like(misreports) if gradient is None else gradient
        optimizer.step()
        with torch.no_grad():
            misreports.copy_(torch.maximum(torch.minimum(misreports, hi), lo))
    with torch.no_grad():
        truthful = truthful_utilities(mechanism, values)
    per_sample = (best.view(batch, restarts, n).max(dim=1).values - truthful).clamp_min(0.0)
    return RegretEstimate("gradient", tuple(float(x) for x in per_sample.double().mean(0)),
                          f"{restarts} restarts x {steps} Adam steps", per_sample)


def grid_regret(mechanism: Mechanism, values: torch.Tensor, points: int = 101,
                chunk_profiles: int = 1 << 18) -> RegretEstimate:
    """Exact maximum of u_i over a ``points``^d grid of misreports covering the value box."""
    batch, n, m = values.shape
    if m > MAX_GRID_DIMENSIONS:
        raise UsageError(f"grid regret enumerates misreports of at most {MAX_GRID_DIMENSIONS} "
                         f"value dimensions per bidder, this setting has {m}",
                         hint="use gradient_regret alone")
    lo, hi = _box(mechanism, values)
    per_sample = torch.zeros((batch, n), device=values.device, dtype=values.dtype)
    with torch.no_grad():
        truthful = truthful_utilities(mechanism, values)
        for i in range(n):
            axes = [torch.linspace(float(lo[i, j]), float(hi[i, j]), points, device=values.device,
                                   dtype=values.dtype) for j in range(m)]
            grid = torch.cartesian_prod(*axes).view(-1, m)                         # (G, m)
            size = grid.shape[0]
            chunk = max(1, chunk_profiles // size)
            for s in range(0, batch, chunk):
                v = values[s:s + chunk]                                            # (c, n, m)
                c = v.shape[0]
                profiles = v.unsqueeze(1).expand(c, size, n, m).clone()
                profiles[:, :, i, :] = grid
                allocation, payment = mechanism.outcome(profiles.view(c * size, n, m), exact=True)
                utility = (allocation[:, i, :].view(c, size, m) * v[:, i, :].unsqueeze(1)).sum(-1) \
                    - payment[:, i].view(c, size)
                per_sample[s:s + c, i] = (utility.max(dim=1).values - truthful[s:s + c, i]).clamp_min(0.0)
    return RegretEstimate("grid", tuple(float(x) for x in per_sample.double().mean(0)),
                          f"{points}^{m} grid misreports per bidder", per_sample)
