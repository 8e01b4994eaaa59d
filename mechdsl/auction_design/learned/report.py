"""The incentive certificate of a mechanism on a setting: one value holding every number.

`certify` samples fresh test profiles (a seed apart from training), measures revenue under
truthful reports, ex post IR (u_i(v_i; v) >= 0) and regret by both estimates of
`mechdsl.auction_design.learned.regret`, and puts the setting's reference beside them.

Regret-adjusted revenue is revenue - sum_i rgt_i with rgt_i the larger of the two
estimates: what the seller can count on if every bidder took its best misreport found
(a conservative reading of the RegretNet papers' "revenue at regret <= eps").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from mechdsl.auction_design.learned.mechanism import Mechanism
from mechdsl.auction_design.learned.references import Reference, reference_revenue
from mechdsl.auction_design.learned.regret import MAX_GRID_DIMENSIONS, gradient_regret, grid_regret
from mechdsl.auction_design.learned.setting import Setting, generator_for

IR_TOLERANCE = 1e-6


@dataclass(frozen=True)
class AuctionCertificate:
    setting: str
    method: str
    samples: int
    revenue: float
    revenue_standard_error: float
    regret_gradient: tuple[float, ...]
    gradient_detail: str
    regret_grid: tuple[float, ...] | None
    grid_detail: str | None
    grid_samples: int
    ir_violation_rate: float
    ir_violation_mean: float
    reference: Reference | None
    training_seconds: float | None = None

    @property
    def regret(self) -> tuple[float, ...]:
        """Per bidder, the larger of the two estimates (each is a lower bound)."""
        if self.regret_grid is None:
            return self.regret_gradient
        return tuple(max(a, b) for a, b in zip(self.regret_gradient, self.regret_grid))

    @property
    def regret_adjusted_revenue(self) -> float:
        return self.revenue - sum(self.regret)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["regret"] = self.regret
        out["regret_adjusted_revenue"] = self.regret_adjusted_revenue
        return out


def certify(mechanism: Mechanism, setting: Setting, method: str, samples: int = 1 << 14,
            gradient_samples: int = 1024, restarts: int = 16, steps: int = 200,
            grid_samples: int = 1024, grid_points: int = 101, seed: int = 1000,
            device: torch.device | str = "cpu", training_seconds: float | None = None) -> AuctionCertificate:
    """Revenue and IR on ``samples`` profiles; regret on the first ``gradient_samples`` /
    ``grid_samples`` of them (the misreport searches cost restarts x steps / points^m each).

    Values, and every mechanism's outcome, in float64: a zero regret by construction then
    reads as zero to ~1e-12 instead of float32 round-off."""
    values = setting.sample(samples, generator_for(seed, device), device, dtype=torch.float64)
    with torch.no_grad():
        allocation, payment = mechanism.outcome(values)
        utility = (allocation * values).sum(-1) - payment
        revenue_per_profile = payment.sum(-1)
    shortfall = (-utility).clamp_min(0.0)
    gradient = gradient_regret(mechanism, values[:gradient_samples], restarts, steps, seed=seed + 1)
    grid = None
    if setting.value_dimensions <= MAX_GRID_DIMENSIONS:
        grid = grid_regret(mechanism, values[:grid_samples], grid_points)
    return AuctionCertificate(
        setting=setting.name, method=method, samples=samples,
        revenue=float(revenue_per_profile.mean()),
        revenue_standard_error=float(revenue_per_profile.std() / samples ** 0.5),
        regret_gradient=gradient.per_bidder, gradient_detail=gradient.detail,
        regret_grid=None if grid is None else grid.per_bidder,
        grid_detail=None if grid is None else grid.detail, grid_samples=grid_samples,
        ir_violation_rate=float((utility < -IR_TOLERANCE).double().mean()),
        ir_violation_mean=float(shortfall.double().mean()),
        reference=reference_revenue(setting), training_seconds=training_seconds)
