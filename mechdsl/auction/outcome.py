"""What a double auction returns: who trades, at what price, with what probability.

Every mechanism here is a *uniform-price-per-side* mechanism: all trading buyers of a
market pay the same ``buyer_price`` and all trading sellers receive the same
``seller_price`` (equal for the strongly budget-balanced double Dutch auction and the
k-double auction, different for McAfee's mechanism). Randomisation, where there is any,
only decides *which* agents of an eligible group trade, never the price. Hence for an
agent with trade probability ``q`` (over the mechanism's lottery)::

    E[buyer utility]  = q * (value - buyer_price)
    E[seller utility] = q * (seller_price - cost)

exactly, with no sampling. The realised masks are one draw of the lottery.

Welfare is the gains from trade ``sum_i value_i x_i - sum_j cost_j y_j`` (money
transfers cancel; an auctioneer's surplus is part of it, see ``budget_surplus``).
A price is NaN in markets where that side trades with probability zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class AuctionOutcome:
    """Outcome of a batch of double auctions (B markets, n buyers, m sellers).

    Attributes:
        buyer_trades: (B, n) bool, realised: buyer i receives a unit.
        seller_trades: (B, m) bool, realised: seller j delivers its unit.
        buyer_trade_prob: (B, n) probability over the lottery that buyer i trades.
        seller_trade_prob: (B, m) probability that seller j trades.
        buyer_payment: (B, n) realised payment (``buyer_price`` if trading, else 0).
        seller_receipt: (B, m) realised receipt (``seller_price`` if trading, else 0).
        buyer_price: (B,) the price every trading buyer pays (NaN if none can trade).
        seller_price: (B,) the price every trading seller receives (NaN if none can).
        num_trades: (B,) int64 realised number of units exchanged.
        welfare: (B,) realised gains from trade.
        expected_welfare: (B,) gains from trade in expectation over the lottery.
        clock_rounds: (B,) int64 clock moves until the auction stopped, or None for
            sealed-bid mechanisms.
    """

    buyer_trades: Tensor
    seller_trades: Tensor
    buyer_trade_prob: Tensor
    seller_trade_prob: Tensor
    buyer_payment: Tensor
    seller_receipt: Tensor
    buyer_price: Tensor
    seller_price: Tensor
    num_trades: Tensor
    welfare: Tensor
    expected_welfare: Tensor
    clock_rounds: Tensor | None = None

    @property
    def price(self) -> Tensor:
        """The single price of a strongly budget-balanced mechanism.

        Raises AttributeError for two-price mechanisms (McAfee), whose buyers and sellers
        face different prices; use ``buyer_price`` and ``seller_price`` there.
        """
        if self.buyer_price is not self.seller_price:
            raise AttributeError("two-price mechanism: use buyer_price and seller_price")
        return self.buyer_price

    @property
    def budget_surplus(self) -> Tensor:
        """(B,) realised ``sum(payments) - sum(receipts)``: the auctioneer's take.

        Computed as ``buyer_price * #buyers - seller_price * #sellers`` (each side pays
        one price), so a strongly budget-balanced outcome gives exactly 0.0 instead of
        float summation noise.
        """
        zero = torch.zeros((), dtype=self.buyer_price.dtype, device=self.buyer_price.device)
        paid = torch.where(self.buyer_trades.any(dim=1), self.buyer_price, zero)
        received = torch.where(self.seller_trades.any(dim=1), self.seller_price, zero)
        return paid * self.buyer_trades.sum(dim=1) - received * self.seller_trades.sum(dim=1)

    def buyer_utility(self, values: Tensor) -> Tensor:
        """(B, n) realised ``x_i * (v_i - buyer_price)`` for true values ``v``."""
        return torch.where(self.buyer_trades, values - self.buyer_price.unsqueeze(1), 0.0)

    def seller_utility(self, costs: Tensor) -> Tensor:
        """(B, m) realised ``y_j * (seller_price - c_j)`` for true costs ``c``."""
        return torch.where(self.seller_trades, self.seller_price.unsqueeze(1) - costs, 0.0)

    def expected_buyer_utility(self, values: Tensor) -> Tensor:
        """(B, n) ``q_i * (v_i - buyer_price)`` for true values ``v`` (0 where q_i = 0)."""
        gain = values - self.buyer_price.unsqueeze(1)
        return torch.where(self.buyer_trade_prob > 0, self.buyer_trade_prob * gain, 0.0)

    def expected_seller_utility(self, costs: Tensor) -> Tensor:
        """(B, m) ``q_j * (seller_price - c_j)`` for true costs ``c`` (0 where q_j = 0)."""
        gain = self.seller_price.unsqueeze(1) - costs
        return torch.where(self.seller_trade_prob > 0, self.seller_trade_prob * gain, 0.0)


def build_outcome(
    values: Tensor,
    costs: Tensor,
    *,
    buyer_trades: Tensor,
    seller_trades: Tensor,
    buyer_trade_prob: Tensor,
    seller_trade_prob: Tensor,
    buyer_price: Tensor,
    seller_price: Tensor,
    clock_rounds: Tensor | None = None,
) -> AuctionOutcome:
    """Fill in payments and welfare from the allocation and the two prices.

    Prices are set to NaN where that side trades with probability zero; pass the very same
    tensor as ``buyer_price`` and ``seller_price`` for a single-price mechanism so that
    ``AuctionOutcome.price`` works.
    """
    single_price = buyer_price is seller_price
    nan = torch.tensor(float("nan"), dtype=values.dtype, device=values.device)
    buyer_price = torch.where((buyer_trade_prob > 0).any(dim=1), buyer_price, nan)
    seller_price = (
        buyer_price
        if single_price
        else torch.where((seller_trade_prob > 0).any(dim=1), seller_price, nan)
    )
    # multiply by 0/1 masks (cheaper than where); prices are NaN only where nobody trades
    bought, sold = buyer_trades.to(values.dtype), seller_trades.to(values.dtype)
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    buyer_payment = bought * torch.where(buyer_trades.any(dim=1), buyer_price, zero).unsqueeze(1)
    seller_receipt = sold * torch.where(seller_trades.any(dim=1), seller_price, zero).unsqueeze(1)
    welfare = (bought * values).sum(dim=1) - (sold * costs).sum(dim=1)
    expected_welfare = (buyer_trade_prob * values).sum(dim=1) - (seller_trade_prob * costs).sum(
        dim=1
    )
    return AuctionOutcome(
        buyer_trades=buyer_trades,
        seller_trades=seller_trades,
        buyer_trade_prob=buyer_trade_prob,
        seller_trade_prob=seller_trade_prob,
        buyer_payment=buyer_payment,
        seller_receipt=seller_receipt,
        buyer_price=buyer_price,
        seller_price=seller_price,
        num_trades=buyer_trades.sum(dim=1),
        welfare=welfare,
        expected_welfare=expected_welfare,
        clock_rounds=clock_rounds,
    )
