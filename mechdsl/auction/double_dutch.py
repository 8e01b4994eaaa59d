"""The double Dutch auction: a strongly budget-balanced, truthful clock double auction.

Setting: single-unit demand and supply (see ``market.py``); ``b_1 >= ... >= b_n`` the
buyers' values, ``s_1 <= ... <= s_m`` the sellers' costs, ties broken by agent index,
``k = max{t : b_t >= s_t}`` the efficient number of trades, ``s_{m+1} = +inf``.

Clock protocol (the double Dutch format of McCabe, Rassenti & Smith 1992, "Designing call
auction institutions: is double Dutch the best?", Economic Journal 102): a buyer clock
descends from the top price and a seller clock ascends from the bottom; in round
``r = 1, 2, ...`` the buyer clock moves until it admits one buyer (it reaches ``b_r``)
and then the seller clock moves until it admits one seller (it reaches ``s_r``). The
clocks have crossed once the buyer clock sits below the seller clock; that happens first
in round ``k + 1``, so the auction learns ``k`` by round ``k + 1``. One last seller-clock
move rises until it admits seller ``k + 1`` or passes the ``k``-th buyer's price ``b_k``.
The price is where that last move stops (``clock.py`` counts the moves):

    p = min(b_k, s_{k+1})                                   (price rule)

    (A) s_{k+1} <= b_k, seller-set price p = s_{k+1}: buyers 1..k and sellers 1..k trade
        at p. Seller k+1 set the price and is the first excluded agent.
    (B) s_{k+1} >  b_k, buyer-set price p = b_k: buyer k set the price, so she is
        dropped; buyers 1..k-1 trade at p with k-1 sellers drawn uniformly at random
        from sellers 1..k (one uniformly drawn seller of the k is left out, so each
        trades with probability (k-1)/k).
    k = 0: nobody trades.

The lottery is a uniform random priority per seller drawn independently of the reports;
in case (B) the eligible seller with the lowest priority is left out. Given the
priorities the mechanism is deterministic and still truthful (see below), so it is
*universally* truthful, not only in expectation; the exact probabilities (k-1)/k are
returned for expected-utility computations.

This is SBBA (Segal-Halevi, Hassidim & Aumann 2016, "SBBA: a strongly-budget-balanced
double-auction mechanism", SAGT), whose sealed-bid rule the clocks implement. The seller
lottery is the "k buyers but more than k sellers eligible at the price" case: at
``p = b_k`` the k-1 buyers strictly above the dropped price-setter face k sellers willing
to sell. The opposite case (more buyers than sellers eligible) is the mirror image of the
rule, ``p = max(s_k, b_{k+1})`` with seller k dropped and a buyer lottery; it is
``lottery_side="buyers"`` and is obtained exactly by running the rule on the market with
the sides swapped and prices negated.

Proof sketch (seller-lottery rule; the mirror follows by symmetry). Fix the others'
reports throughout.

* IR, ex post: in (A) a trading buyer has b_i >= b_k >= s_{k+1} = p and a trading seller
  s_j <= s_{k+1} = p; in (B) a trading buyer has b_i >= b_k = p and a trading seller
  s_j <= s_k <= b_k = p.
* SBB, exact: in every realisation of the lottery the same number of buyers and sellers
  trade (k in (A), k-1 in (B)) at the one price p, so sum(payments) = sum(receipts);
  the auctioneer neither takes nor adds money.
* DSIC (in expectation over the lottery): the price p never depends on the report of an
  agent who trades, and each trader's price is her critical value. In (A) buyer i <= k
  still trades at s_{k+1} for any report >= s_{k+1} and not at all below it (she would
  become the dropped price-setter or fall out); seller j <= k trades at s_{k+1} for any
  report <= s_{k+1} and is excluded above it (she would set the price). In (B) buyer
  i < k trades at b_k for reports above b_k and not below it; seller j <= k has the
  same (k-1)/k chance at the same price b_k for every report <= b_k (k and b_k do not
  move while she stays among the k lowest and s_{k+1} > b_k) and zero above it; for
  fixed priorities, whether she is the one left out depends only on the others' priorities,
  because the set of the k lowest sellers does not change either. An agent
  who does not trade at truth could only be made to trade at a price at least her value
  (buyer) or at most her cost (seller): e.g. in (B) the dropped buyer k reporting more
  than b_k pays either the old b_{k-1} or s_{k+1}, both above b_k. So no report beats the
  truth in expected utility. ``tests/auction`` checks all three properties on random
  markets against a 101-point grid of misreports and every critical report.
* Welfare: (A) is efficient; in (B) the expected loss is b_k - mean(s_1..s_k), at most
  b_1 - s_1, and the expected gains from trade are at least (1 - 1/k) of the optimum.

Reading taken. Textbook descriptions of the double Dutch auction (and the summary of
Zhong et al.'s paper, whose Theorem 1 claims IR, IC and strong budget balance without a
published price rule) say the price is "set at the crossing" without fixing which agent
sets it. The only reading that gives all three properties is the one above: the price is
set by the *first excluded* agent, the (k+1)-th seller if her cost is at most b_k,
otherwise the k-th buyer, who is then excluded herself. Using b_{k+1} or the crossing
midpoint would let the marginal traders move the price (not DSIC); excluding both k-th
agents (McAfee's trade reduction) is DSIC but leaves a surplus (only weakly balanced).

The discretised clock (``clock=ClockGrid(...)``) is this rule applied to the reports as
the clocks see them (buyers rounded down, sellers rounded up to the grid), so it is IR,
exactly budget balanced, and truthful up to one clock step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from mechdsl.auction.clock import ClockGrid, ClockGrids, event_clock_rounds, grid_clock_ticks
from mechdsl.auction.market import SortedMarket, sort_market, validate_market
from mechdsl.auction.outcome import AuctionOutcome, build_outcome

LotterySide = Literal["sellers", "buyers"]


def _lottery_priorities(
    shape: tuple[int, ...],
    like: Tensor,
    priorities: Tensor | None,
    generator: torch.Generator | None,
) -> Tensor:
    """One priority per agent on the lottery side; the lowest eligible one is left out."""
    if priorities is None:
        return torch.rand(shape, generator=generator, dtype=like.dtype, device=like.device)
    if tuple(priorities.shape) != shape:
        raise ValueError(
            f"lottery_priorities must have shape {shape} (one per agent on the lottery "
            f"side); got {tuple(priorities.shape)}"
        )
    if not priorities.dtype.is_floating_point or not bool(torch.isfinite(priorities).all()):
        raise ValueError("lottery_priorities must be finite floating-point numbers")
    return priorities.to(dtype=like.dtype, device=like.device)


@dataclass(frozen=True)
class SellerLotteryAllocation:
    """The SBBA rule's result on one (possibly mirrored) batch of markets.

    Attributes:
        buyer_trades, seller_trades: (B, n), (B, m) bool, one realisation of the lottery.
        buyer_trade_prob, seller_trade_prob: (B, n), (B, m) exact trade probabilities.
        price: (B,) ``min(b_k, s_{k+1})`` (meaningless where nobody trades).
        seller_set: (B,) bool, case (A): the (k+1)-th seller set the price.
    """

    buyer_trades: Tensor
    seller_trades: Tensor
    buyer_trade_prob: Tensor
    seller_trade_prob: Tensor
    price: Tensor
    seller_set: Tensor


def seller_lottery_rule(market: SortedMarket, priorities: Tensor) -> SellerLotteryAllocation:
    """The SBBA rule on a sorted market: probabilities, one realisation, and the price.

    In case (B) the seller among ranks 1..k with the lowest ``priorities`` entry (B, m) is
    left out (ties: lower index).
    """
    k = market.efficient_trades
    bid_k = market.bid(k)
    ask_next = market.ask(k + 1)
    seller_set = (k >= 1) & (ask_next <= bid_k)
    price = torch.where(seller_set, ask_next, bid_k)
    buyers_trading = torch.where(seller_set, k, (k - 1).clamp_min(0)).unsqueeze(1)
    buyer_trades = market.buyer_rank <= buyers_trading
    eligible_sellers = market.seller_rank <= k.unsqueeze(1)
    dtype = market.values.dtype
    k_real = k.to(dtype).clamp_min(1.0)
    seller_chance = torch.where(seller_set, torch.ones_like(k_real), (k_real - 1.0) / k_real)
    in_draw = torch.where(eligible_sellers, priorities, float("inf"))
    left_out = torch.zeros_like(eligible_sellers).scatter_(
        1, in_draw.argmin(dim=1, keepdim=True), True
    )
    left_out &= (~seller_set).unsqueeze(1)
    return SellerLotteryAllocation(
        buyer_trades=buyer_trades,
        seller_trades=eligible_sellers & ~left_out,
        buyer_trade_prob=buyer_trades.to(dtype),
        seller_trade_prob=eligible_sellers.to(dtype) * seller_chance.unsqueeze(1),
        price=price,
        seller_set=seller_set,
    )


def double_dutch(
    values: Tensor,
    costs: Tensor,
    *,
    clock: ClockGrid | ClockGrids | None = None,
    lottery_side: LotterySide = "sellers",
    lottery_priorities: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> AuctionOutcome:
    """Run a batch of double Dutch auctions (price rule in the module docstring).

    Args:
        values: (B, n) buyers' reported values.
        costs: (B, m) sellers' reported costs, same dtype and device.
        clock: None for the exact event-driven clocks; a ``ClockGrid`` for clocks that
            tick on a price grid (reports outside [low, high] never get admitted), or a
            ``ClockGrids`` with one grid per market.
        lottery_side: "sellers" (SBBA) or "buyers" (its mirror image).
        lottery_priorities: optional priorities fixing the lottery: (B, m) for the seller
            lottery, (B, n) for the buyer lottery; the eligible agent with the lowest
            priority is left out. Otherwise uniform priorities are drawn with
            ``generator`` (or torch's global generator).

    Returns:
        ``AuctionOutcome`` with one price (``outcome.price``), exact trade probabilities
        and the clock rounds (``2 (k + 1)`` moves when exact, grid ticks otherwise).
    """
    validate_market(values, costs)
    if lottery_side not in ("sellers", "buyers"):
        raise ValueError(f"lottery_side must be 'sellers' or 'buyers'; got {lottery_side!r}")
    mirrored = lottery_side == "buyers"
    lottery_shape = tuple((values if mirrored else costs).shape)
    priorities = _lottery_priorities(lottery_shape, values, lottery_priorities, generator)
    bids, asks = values, costs
    if clock is not None:
        bids, asks = clock.quantise_buyers(values), clock.quantise_sellers(costs)
    if mirrored:
        # the mirror market: sellers bid -cost as buyers, buyers ask -value as sellers
        bids, asks = -asks, -bids
    market = sort_market(bids, asks, validate=False)
    rule = seller_lottery_rule(market, priorities)

    if clock is None:
        rounds = event_clock_rounds(market.efficient_trades)
    else:
        buyer_levels = clock.buyer_level_index(values)
        seller_levels = clock.seller_level_index(costs)
        if mirrored:
            top = clock.num_steps
            if isinstance(top, Tensor):  # one grid per market
                top = top.unsqueeze(1)
            buyer_levels, seller_levels = top - seller_levels, top - buyer_levels
        rounds = grid_clock_ticks(clock, market, buyer_levels, seller_levels)

    if mirrored:  # map the mirror market's sides and prices back
        price = -rule.price
        buyer_trades, seller_trades = rule.seller_trades, rule.buyer_trades
        buyer_prob, seller_prob = rule.seller_trade_prob, rule.buyer_trade_prob
    else:
        price = rule.price
        buyer_trades, seller_trades = rule.buyer_trades, rule.seller_trades
        buyer_prob, seller_prob = rule.buyer_trade_prob, rule.seller_trade_prob
    return build_outcome(
        values,
        costs,
        buyer_trades=buyer_trades,
        seller_trades=seller_trades,
        buyer_trade_prob=buyer_prob,
        seller_trade_prob=seller_prob,
        buyer_price=price,
        seller_price=price,
        clock_rounds=rounds,
    )
