"""McAfee's dominant-strategy double auction with trade reduction (weakly budget balanced).

McAfee, R. P. (1992), "A dominant strategy double auction", Journal of Economic Theory
56(2), 434-450. With ``b_1 >= ... >= b_n``, ``s_1 <= ... <= s_m`` (ties by index) and
``k = max{t : b_t >= s_t}``:

    p0 = (b_{k+1} + s_{k+1}) / 2                 (only if k < n and k < m)

    (i)  if s_k <= p0 <= b_k: buyers 1..k and sellers 1..k trade, all at p0
         (strongly budget balanced, efficient);
    (ii) otherwise (trade reduction): buyers 1..k-1 pay b_k, sellers 1..k-1 receive s_k.
         The k-th pair is dropped and the auctioneer keeps (k-1) (b_k - s_k) >= 0.

When ``k = n`` or ``k = m`` there is no (k+1)-th agent on one side and p0 is undefined;
we take branch (ii), the reading of McAfee used by Babaioff & Nisan (2004) and Segal-Halevi
et al. (2016). Every trader's price is fixed by agents who do not trade (the (k+1)-th
pair in (i), the k-th pair in (ii)) and equals her critical value, so truth-telling is
dominant; IR holds ex post because p0 in [s_k, b_k] in (i) and b_i >= b_k, s_j <= s_k for
the traders in (ii). Welfare loses at most the least valuable efficient pair, b_k - s_k,
which is at most 1/k of the optimum.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mechdsl.auction.market import sort_market
from mechdsl.auction.outcome import AuctionOutcome, build_outcome


def mcafee(values: Tensor, costs: Tensor) -> AuctionOutcome:
    """Run a batch of McAfee double auctions. Deterministic; ``clock_rounds`` is None.

    Args:
        values: (B, n) buyers' reported values.
        costs: (B, m) sellers' reported costs, same dtype and device.
    """
    market = sort_market(values, costs)
    k = market.efficient_trades
    bid_k, ask_k = market.bid(k), market.ask(k)
    bid_next, ask_next = market.bid(k + 1), market.ask(k + 1)
    has_next_pair = (k >= 1) & (k < market.num_buyers) & (k < market.num_sellers)
    # where a sentinel is infinite p0 is NaN or inf; has_next_pair masks those markets out
    midpoint = (bid_next + ask_next) / 2
    at_midpoint = has_next_pair & (ask_k <= midpoint) & (midpoint <= bid_k)
    trading = torch.where(at_midpoint, k, (k - 1).clamp_min(0)).unsqueeze(1)
    buyer_trades = market.buyer_rank <= trading
    seller_trades = market.seller_rank <= trading
    dtype = values.dtype
    return build_outcome(
        values,
        costs,
        buyer_trades=buyer_trades,
        seller_trades=seller_trades,
        buyer_trade_prob=buyer_trades.to(dtype),
        seller_trade_prob=seller_trades.to(dtype),
        buyer_price=torch.where(at_midpoint, midpoint, bid_k),
        seller_price=torch.where(at_midpoint, midpoint, ask_k),
    )
