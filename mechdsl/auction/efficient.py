"""The efficient trade (welfare reference) and welfare ratios against it.

With single-unit demand and supply the gains from trade ``sum v_i x_i - sum c_j y_j``
subject to ``sum x = sum y`` are maximised by matching the k highest buyers with the k
lowest sellers, ``k = max{t : b_t >= s_t}`` (sorting argument; e.g. McAfee 1992, sec. 2):

    W* = sum_{t=1..k} (b_t - s_t) = sum_{t=1..min(n,m)} max(b_t - s_t, 0)

(the second form because ``b_t - s_t`` falls in t). The welfare ratio of a mechanism is
``W / W*``, defined as 1 in markets with ``W* = 0`` (nothing to gain, nothing lost).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mechdsl.auction.market import sort_market


@dataclass(frozen=True)
class EfficientTrade:
    """The welfare-maximising allocation of a batch of markets.

    Attributes:
        num_trades: (B,) int64, k.
        welfare: (B,) W*, the maximal gains from trade.
        buyer_trades: (B, n) bool, the k highest buyers.
        seller_trades: (B, m) bool, the k lowest sellers.
        least_pair_surplus: (B,) b_k - s_k, the smallest surplus of a matched pair (0 if k = 0).
        largest_pair_surplus: (B,) b_1 - s_1 if k >= 1, else 0.
    """

    num_trades: Tensor
    welfare: Tensor
    buyer_trades: Tensor
    seller_trades: Tensor
    least_pair_surplus: Tensor
    largest_pair_surplus: Tensor


def efficient_trade(values: Tensor, costs: Tensor) -> EfficientTrade:
    """The efficient trade of each market in the batch (formula in the module docstring)."""
    market = sort_market(values, costs)
    k = market.efficient_trades
    depth = min(market.num_buyers, market.num_sellers)
    pair_surplus = market.bids[:, 1 : depth + 1] - market.asks[:, 1 : depth + 1]
    welfare = pair_surplus.clamp_min(0.0).sum(dim=1)
    traded = k >= 1
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    return EfficientTrade(
        num_trades=k,
        welfare=welfare,
        buyer_trades=market.buyer_rank <= k.unsqueeze(1),
        seller_trades=market.seller_rank <= k.unsqueeze(1),
        least_pair_surplus=torch.where(traded, market.bid(k) - market.ask(k), zero),
        largest_pair_surplus=torch.where(traded, pair_surplus[:, 0], zero),
    )


def welfare_ratio(welfare: Tensor, efficient_welfare: Tensor) -> Tensor:
    """``W / W*`` per market, 1 where ``W* = 0``."""
    positive = efficient_welfare > 0
    safe = torch.where(positive, efficient_welfare, torch.ones_like(efficient_welfare))
    return torch.where(positive, welfare / safe, torch.ones_like(welfare))


def aggregate_welfare_ratio(welfare: Tensor, efficient_welfare: Tensor) -> Tensor:
    """``sum W / sum W*`` over the batch (the ratio of totals; 1 if ``sum W* = 0``)."""
    total = efficient_welfare.sum()
    return welfare.sum() / total if bool(total > 0) else torch.ones_like(total)
