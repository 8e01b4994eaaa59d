"""The k-double auction: efficient trade at an interpolated price. Not truthful.

Chatterjee & Samuelson (1983) for one buyer and one seller; Satterthwaite & Williams
(1989) and Wurman, Walsh & Wellman (1998) for many. With ``b_1 >= ... >= b_n``,
``s_1 <= ... <= s_m`` (ties by index) and ``k = max{t : b_t >= s_t}`` (the trade count;
the interpolation weight is called ``kappa`` here to keep the two apart):

    p = kappa * b_k + (1 - kappa) * s_k,   kappa in [0, 1]

and buyers 1..k trade with sellers 1..k at p. It is efficient, IR (s_k <= p <= b_k) and
strongly budget balanced, so by Myerson & Satterthwaite (1983) it cannot be dominant-
strategy truthful: the k-th buyer lowers p by shading her bid towards s_k whenever
kappa > 0 (and the k-th seller raises it whenever kappa < 1). ``tests/auction`` shows a
concrete profitable misreport for kappa in {0, 1/2, 1}.
"""

from __future__ import annotations

from torch import Tensor

from mechdsl.auction.market import sort_market
from mechdsl.auction.outcome import AuctionOutcome, build_outcome


def k_double(values: Tensor, costs: Tensor, *, kappa: float = 0.5) -> AuctionOutcome:
    """Run a batch of k-double auctions with interpolation weight ``kappa``.

    Args:
        values: (B, n) buyers' reported values.
        costs: (B, m) sellers' reported costs, same dtype and device.
        kappa: weight on the k-th buyer's bid, in [0, 1].
    """
    if not 0.0 <= kappa <= 1.0:
        raise ValueError(f"kappa must lie in [0, 1]; got {kappa}")
    market = sort_market(values, costs)
    k = market.efficient_trades
    price = kappa * market.bid(k) + (1.0 - kappa) * market.ask(k)
    buyer_trades = market.buyer_rank <= k.unsqueeze(1)
    seller_trades = market.seller_rank <= k.unsqueeze(1)
    return build_outcome(
        values,
        costs,
        buyer_trades=buyer_trades,
        seller_trades=seller_trades,
        buyer_trade_prob=buyer_trades.to(values.dtype),
        seller_trade_prob=seller_trades.to(values.dtype),
        buyer_price=price,
        seller_price=price,
    )
