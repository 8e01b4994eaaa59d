"""The two clocks of the double Dutch auction and how many moves they make.

A double Dutch auction (McCabe, Rassenti & Smith 1992, "Designing call auction
institutions: is double Dutch the best?", Economic Journal 102) runs a *buyer clock* that
descends from high prices and a *seller clock* that ascends from low prices. Here the
clocks alternate, each move admitting one agent, and the auction stops once they cross;
see ``double_dutch`` for the protocol and the price.

Two clock variants:

* **Exact (event-driven):** a clock jumps straight to the next value (buyer clock) or cost
  (seller clock), so the result depends only on the reports, never on a step size. Each
  jump is one round. Round r moves the buyer clock to ``b_r`` and the seller clock to
  ``s_r``; a last seller move reveals ``min(b_k, s_{k+1})``. The auction therefore makes
  exactly ``2 (k + 1)`` moves, ``k`` the efficient number of trades.

* **Discretised:** both clocks move on the grid ``level(j) = low + j * step``,
  ``j = 0..J`` with ``J = (high - low) / step``. One tick moves one clock one level.
  A buyer answers "yes" to the buyer clock once it shows at most her value, so she is
  seen at the *highest level not above her value*, index ``jb = floor((v - low)/step)``
  (-1 if ``v < low``: never admitted). A seller is seen at the *lowest level not below
  her cost*, ``js = ceil((c - low)/step)`` (``J + 1`` if ``c > high``: never admitted).
  The discretised auction is the exact one run on these rounded reports; rounding down
  for buyers and up for sellers keeps it individually rational for the true values.

Tick count of the discretised protocol (checked against the simulation in
``reference.py``, which moves the clocks one tick at a time): with the rounded reports
sorted and ``jb_t``, ``js_t`` their level indices (``jb_{k+1} = -1`` if absent,
``js_{k+1} = J + 1`` if absent, ``js_0 = 0``)::

    buyer clock stops at   Fb = max(jb_{k+1}, js_k - 1)
    seller clock stops at  Fs = min(js_{k+1}, jb_k + 1)   if k >= 1
                           Fs = min(js_1, Fb + 1)         if k == 0
    ticks = (J - Fb) + Fs

The buyer clock stops when it admits buyer k+1 or falls one level below the seller
clock (crossing); the seller clock then rises until it admits seller k+1 or passes the
k-th buyer's level ``jb_k`` (which reveals that the price is ``b_k``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from mechdsl.auction.market import SortedMarket


@dataclass(frozen=True)
class ClockGrid:
    """The price grid ``low, low + step, ..., high`` both clocks move on.

    ``high - low`` must be a whole number of steps (to 1e-9 relative tolerance).
    """

    low: float
    high: float
    step: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and math.isfinite(self.step)):
            raise ValueError("clock low, high and step must be finite")
        if self.step <= 0 or self.high <= self.low:
            raise ValueError(f"need step > 0 and high > low; got {self}")
        steps = (self.high - self.low) / self.step
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise ValueError(f"(high - low) / step = {steps} is not a whole number of steps")

    @property
    def num_steps(self) -> int:
        """``J``: the top level is ``level(J) = high``."""
        return round((self.high - self.low) / self.step)

    def level(self, index: Tensor, like: Tensor) -> Tensor:
        """``low + index * step`` in the dtype and device of ``like``."""
        return self.low + index.to(like.dtype) * self.step

    def buyer_level_index(self, values: Tensor) -> Tensor:
        """Highest level index with ``level <= value``, clamped to ``J``; -1 below ``low``."""
        scaled = ((values - self.low) / self.step).clamp(-1.0, self.num_steps + 1.0)
        index = torch.floor(scaled).to(torch.int64).clamp(-1, self.num_steps)
        # guard against a level that rounding put one ulp above the value
        index = torch.where(self.level(index, values) > values, index - 1, index)
        return index.clamp_min(-1)

    def seller_level_index(self, costs: Tensor) -> Tensor:
        """Lowest level index with ``level >= cost``, clamped to 0; ``J + 1`` above ``high``."""
        scaled = ((costs - self.low) / self.step).clamp(-1.0, self.num_steps + 1.0)
        index = torch.ceil(scaled).to(torch.int64).clamp(0, self.num_steps + 1)
        index = torch.where(self.level(index, costs) < costs, index + 1, index)
        return index.clamp_max(self.num_steps + 1)

    def quantise_buyers(self, values: Tensor) -> Tensor:
        """Values as the buyer clock sees them: ``level(jb)``, or -inf if never admitted."""
        index = self.buyer_level_index(values)
        return torch.where(index >= 0, self.level(index, values), float("-inf"))

    def quantise_sellers(self, costs: Tensor) -> Tensor:
        """Costs as the seller clock sees them: ``level(js)``, or +inf if never admitted."""
        index = self.seller_level_index(costs)
        return torch.where(index <= self.num_steps, self.level(index, costs), float("inf"))


@dataclass(frozen=True)
class ClockGrids:
    """One price grid per market: ``level_b(j) = low_b + j * step_b``, ``j = 0..J_b``.

    The batched form of ``ClockGrid`` (same level indices and rounding, so market b of a
    ``ClockGrids`` run equals ``ClockGrid(low[b], low[b] + J[b] step[b], step[b])``), for
    an auctioneer that sets the clocks per market (the RL env of a game's auction).

    Attributes:
        low: (B,) the seller clock's start, the lowest level.
        step: (B,) positive clock steps.
        num_steps: (B,) int64 ``J_b >= 1``; the buyer clock starts at ``low + J step``.
    """

    low: Tensor
    step: Tensor
    num_steps: Tensor

    def level(self, index: Tensor, like: Tensor) -> Tensor:
        return self._column(self.low, index) + index.to(like.dtype) * self._column(self.step, index)

    @staticmethod
    def _column(per_market: Tensor, like: Tensor) -> Tensor:
        return per_market.reshape(-1, *([1] * (like.dim() - 1)))

    def buyer_level_index(self, values: Tensor) -> Tensor:
        top = self._column(self.num_steps, values)
        low, step = self._column(self.low, values), self._column(self.step, values)
        scaled = torch.minimum(((values - low) / step).clamp_min(-1.0), top.to(values.dtype) + 1.0)
        index = torch.minimum(torch.floor(scaled).to(torch.int64).clamp_min(-1), top)
        index = torch.where(self.level(index, values) > values, index - 1, index)
        return index.clamp_min(-1)

    def seller_level_index(self, costs: Tensor) -> Tensor:
        top = self._column(self.num_steps, costs)
        low, step = self._column(self.low, costs), self._column(self.step, costs)
        scaled = torch.minimum(((costs - low) / step).clamp_min(-1.0), top.to(costs.dtype) + 1.0)
        index = torch.minimum(torch.ceil(scaled).to(torch.int64).clamp_min(0), top + 1)
        index = torch.where(self.level(index, costs) < costs, index + 1, index)
        return torch.minimum(index, top + 1)

    def quantise_buyers(self, values: Tensor) -> Tensor:
        index = self.buyer_level_index(values)
        return torch.where(index >= 0, self.level(index, values), float("-inf"))

    def quantise_sellers(self, costs: Tensor) -> Tensor:
        index = self.seller_level_index(costs)
        top = self._column(self.num_steps, costs)
        return torch.where(index <= top, self.level(index, costs), float("inf"))


def event_clock_rounds(efficient_trades: Tensor) -> Tensor:
    """Moves of the exact (event-driven) clocks: ``2 (k + 1)``."""
    return 2 * (efficient_trades + 1)


def grid_clock_ticks(
    grid: ClockGrid | ClockGrids, market: SortedMarket, buyer_levels: Tensor, seller_levels: Tensor
) -> Tensor:
    """Ticks of the discretised clocks (formula in the module docstring).

    ``market`` is ``sort_market`` of the quantised reports; ``buyer_levels`` (B, n) and
    ``seller_levels`` (B, m) are ``buyer_level_index(values)`` and
    ``seller_level_index(costs)`` of the unsorted reports.
    """
    batch = buyer_levels.shape[0]
    top = torch.as_tensor(grid.num_steps, dtype=torch.int64, device=buyer_levels.device).expand(batch)
    column = buyer_levels.new_empty((batch, 1))
    # sentinels: jb_0 = J + 1 (only used as k >= 1 cap), jb_{n+1} = -1; js_0 = 0, js_{m+1} = J + 1
    jb = torch.cat(
        [
            (top + 1).unsqueeze(1),
            buyer_levels.gather(1, market.buyer_order),
            column.clone().fill_(-1),
        ],
        dim=1,
    )
    js = torch.cat(
        [
            column.clone().fill_(0),
            seller_levels.gather(1, market.seller_order),
            (top + 1).unsqueeze(1),
        ],
        dim=1,
    )
    k = market.efficient_trades.unsqueeze(1)
    jb_k, jb_next = jb.gather(1, k).squeeze(1), jb.gather(1, k + 1).squeeze(1)
    js_k, js_next = js.gather(1, k).squeeze(1), js.gather(1, k + 1).squeeze(1)
    buyer_stop = torch.maximum(jb_next, js_k - 1)
    seller_cap = torch.where(k.squeeze(1) >= 1, jb_k + 1, buyer_stop + 1)
    seller_stop = torch.minimum(js_next, seller_cap)
    return (top - buyer_stop) + seller_stop
