"""The incentive certificate of a single-item mechanism on sampled value profiles.

* ex post IR: every bidder's utility v_i x_i - p_i >= -TOLERANCE on every profile;
* dominant-strategy IC by brute force: for a subset of the profiles and every bidder, each
  misreport on a grid of GRID points across the bidder's support (against the others'
  true values) is tried; the regret is max(0, max_b u_i(b) - u_i(v_i)), and the certificate
  reports its maximum over profiles and bidders. A DSIC mechanism has regret 0 up to the
  bisection's resolution; a grid misses deviations between its points, which for the
  mechanism's step-shaped utility in one's own bid cannot gain more than one grid step.

Revenue is the Monte Carlo mean of the payments with its standard error, printed next to
the closed form (or numeric integral) of `revenue.expected`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechdsl.auction_design.mechanism import SingleItemMechanism, sample_values
from mechdsl.auction_design.myerson import MyersonAuction

TOLERANCE = 1e-9
GRID = 201


@dataclass(frozen=True)
class Certificate:
    profiles: int
    revenue: float
    revenue_se: float
    welfare: float
    worst_ir: float            # the least utility of any bidder on any profile
    ir_violations: int
    regret_profiles: int
    grid: int
    max_regret: float
    mean_regret: float
    bidders: tuple[int, ...]   # the bidders whose misreports were searched

    @property
    def holds(self) -> bool:
        return self.ir_violations == 0 and self.max_regret <= TOLERANCE

    def as_json(self) -> dict:
        return {"profiles": self.profiles, "revenue": self.revenue, "revenue_standard_error": self.revenue_se,
                "welfare": self.welfare,
                "ir": {"worst_utility": self.worst_ir, "violations": self.ir_violations, "tolerance": TOLERANCE},
                "ic": {"method": f"brute-force misreports on a grid of {self.grid} points per bidder",
                       "bidders_searched": list(self.bidders),
                       "profiles": self.regret_profiles, "max_regret": self.max_regret,
                       "mean_regret": self.mean_regret, "tolerance": TOLERANCE},
                "holds": self.holds}


def certify(auction: MyersonAuction, profiles: int, seed: int, regret_profiles: int = 500,
            grid: int = GRID, bidders: tuple[int, ...] | None = None,
            mechanism: SingleItemMechanism | None = None) -> Certificate:
    """Certify Myerson's auction of `auction` (or another `mechanism` on the same bidders:
    the benchmark's second-price baseline) on `profiles` seeded value profiles."""
    mechanism = SingleItemMechanism.of(auction) if mechanism is None else mechanism
    rng = np.random.default_rng(seed)
    values = sample_values(auction, profiles, rng)
    allocation, payments = mechanism.outcome(values)
    utility = values * allocation - payments
    revenue = payments.sum(axis=1)
    worst = float(utility.min())
    bidders = tuple(range(values.shape[1])) if bidders is None else bidders
    regret = _grid_regret(mechanism, values[:regret_profiles], grid, bidders)
    return Certificate(profiles, float(revenue.mean()), float(revenue.std(ddof=1) / np.sqrt(profiles)),
                       float((values * allocation).sum(axis=1).mean()), worst, int((utility < -TOLERANCE).sum()),
                       min(regret_profiles, profiles), grid, float(regret.max()), float(regret.mean()), bidders)


def _grid_regret(mechanism: SingleItemMechanism, values: np.ndarray, grid: int,
                 bidders: tuple[int, ...]) -> np.ndarray:
    """(profiles, searched bidders) regret of the best misreport on the grid, against truthful others."""
    count = len(values)
    allocation, payments = mechanism.outcome(values)
    truthful = values * allocation - payments
    regret = np.zeros((count, len(bidders)))
    for k, i in enumerate(bidders):
        low, high = mechanism.supports[i]
        reports = np.linspace(low, high, grid)
        bids = np.repeat(values, grid, axis=0)
        bids[:, i] = np.tile(reports, count)
        allocation, payments = mechanism.outcome(bids)
        deviation = (np.repeat(values[:, i], grid) * allocation[:, i] - payments[:, i]).reshape(count, grid)
        regret[:, k] = np.maximum(0.0, deviation.max(axis=1) - truthful[:, i])
    return regret
