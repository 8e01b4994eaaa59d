"""IR, dominant-strategy truthfulness and budget balance, checked by brute force.

For every agent of every market we replace her report by each point of a 101-point grid
on the support [0, 1], two points outside it, and every *critical* report (each other
agent's report, exactly and +-1e-7, where allocations and prices switch), rerun the
mechanism on all those markets in one batch, and compare her EXACT expected utility
``q * (v - buyer_price)`` / ``q * (seller_price - c)`` (lottery probabilities, no
sampling) with her utility from the truth. For the double Dutch auction we also fix the
lottery priorities of each market and compare realised utilities: the lottery is drawn
independently of the reports, so truth-telling must be dominant for every draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
import torch

from mechdsl.auction import ClockGrid, double_dutch, k_double, mcafee, random_markets, sort_market
from mechdsl.auction.outcome import build_outcome

SIZES = [
    (1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 2), (3, 3), (4, 6),
    (6, 4), (5, 5), (8, 8), (10, 7), (7, 10), (12, 12),
]  # fmt: skip
MARKETS_PER_SIZE = 36  # 14 sizes x 36 = 504 random markets
GRID = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)
OUTSIDE = torch.tensor([-0.5, 1.5], dtype=torch.float64)
TOLERANCE = 1e-12


@dataclass(frozen=True)
class FixedLotteryDoubleDutch:
    """double_dutch with one fixed row of lottery priorities per market of the batch.

    Called on k copies of each market (market-major, as ``repeat_interleave`` lays them
    out) it gives every copy its market's priorities, so a misreport cannot move the draw.
    """

    priorities: torch.Tensor
    side: str = "sellers"
    clock: ClockGrid | None = None

    def __call__(self, values, costs):
        copies = values.shape[0] // self.priorities.shape[0]
        return double_dutch(
            values,
            costs,
            clock=self.clock,
            lottery_side=self.side,
            lottery_priorities=self.priorities.repeat_interleave(copies, dim=0),
        )


def _dda(side, clock=None):
    def make(values, costs):
        lottery = values if side == "buyers" else costs
        gen = torch.Generator().manual_seed(lottery.shape[0] * 1000 + lottery.shape[1])
        priorities = torch.rand(lottery.shape, generator=gen, dtype=lottery.dtype)
        return FixedLotteryDoubleDutch(priorities, side, clock)

    return make


# name -> (values, costs) -> mechanism for that batch
MECHANISMS = {
    "double_dutch": _dda("sellers"),
    "double_dutch_mirror": _dda("buyers"),
    "mcafee": lambda values, costs: mcafee,
}


def _reports(values: torch.Tensor, costs: torch.Tensor) -> torch.Tensor:
    """(B, R): the grid, two outside points, and every critical report of each market."""
    everyone = torch.cat([values, costs], dim=1)
    critical = torch.cat([everyone, everyone - 1e-7, everyone + 1e-7], dim=1)
    batch = values.shape[0]
    fixed = torch.cat([GRID, OUTSIDE]).expand(batch, -1)
    return torch.cat([fixed, critical], dim=1)


def _side_gain(mechanism, values, costs, reports, buyers: bool, realised: bool) -> float:
    """Largest gain over every agent of one side and every report, in one batched call."""
    own = values if buyers else costs
    batch, agents = own.shape
    n_reports = reports.shape[1]
    every = torch.arange(agents)
    lied = own[:, None, None, :].expand(batch, agents, n_reports, agents).clone()
    lied[:, every, :, every] = reports.unsqueeze(0).expand(agents, batch, n_reports)
    lied = lied.reshape(-1, agents)
    other = (costs if buyers else values).repeat_interleave(agents * n_reports, dim=0)
    truth_rows = own.repeat_interleave(agents * n_reports, dim=0)
    if buyers:
        lying, honest = mechanism(lied, other), mechanism(values, costs)
        utility = "buyer_utility" if realised else "expected_buyer_utility"
        util = getattr(lying, utility)(truth_rows)
        truthful = getattr(honest, utility)(values)
    else:
        lying, honest = mechanism(other, lied), mechanism(values, costs)
        utility = "seller_utility" if realised else "expected_seller_utility"
        util = getattr(lying, utility)(truth_rows)
        truthful = getattr(honest, utility)(costs)
    own_util = util.reshape(batch, agents, n_reports, agents)[:, every, :, every]  # (agents, B, R)
    return float((own_util - truthful.T.unsqueeze(2)).max())


def _max_gains(mechanism, values, costs, realised: bool = False) -> tuple[float, float]:
    """Largest gain from misreporting over all buyers / all sellers of all markets."""
    reports = _reports(values, costs)
    return (
        _side_gain(mechanism, values, costs, reports, buyers=True, realised=realised),
        _side_gain(mechanism, values, costs, reports, buyers=False, realised=realised),
    )


def _markets(levels: int | None = None, per_size: int = MARKETS_PER_SIZE, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    for n, m in SIZES:
        yield random_markets(per_size, n, m, levels=levels, generator=gen)


@pytest.mark.parametrize("realised", [False, True], ids=["expected", "each_draw"])
@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_no_profitable_misreport_on_random_markets(name, realised):
    checked = 0
    for values, costs in _markets():
        mechanism = MECHANISMS[name](values, costs)
        gain_b, gain_s = _max_gains(mechanism, values, costs, realised=realised)
        assert gain_b <= TOLERANCE, f"{name}: a buyer gains {gain_b} by lying"
        assert gain_s <= TOLERANCE, f"{name}: a seller gains {gain_s} by lying"
        checked += values.shape[0]
    assert checked >= 400


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_no_profitable_misreport_with_ties(name):
    """Reports on a 6-point grid tie often; index tie-breaking must keep truthfulness."""
    for values, costs in _markets(levels=6, per_size=16, seed=1):
        mechanism = MECHANISMS[name](values, costs)
        for realised in (False, True):
            gain_b, gain_s = _max_gains(mechanism, values, costs, realised=realised)
            assert gain_b <= TOLERANCE and gain_s <= TOLERANCE, (name, realised, gain_b, gain_s)


def test_grid_clock_is_truthful_up_to_one_step():
    clock = ClockGrid(0.0, 1.0, 0.05)
    worst = 0.0
    for values, costs in _markets(per_size=6, seed=2):
        on_grid = _dda("sellers", clock)(values, costs)
        for realised in (False, True):
            worst = max(worst, *_max_gains(on_grid, values, costs, realised=realised))
    assert worst <= clock.step + TOLERANCE
    assert worst > 0  # rounding really does open a (bounded) gap


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_ex_post_individual_rationality(name):
    for values, costs in _markets(seed=4):
        outcome = MECHANISMS[name](values, costs)(values, costs)
        price_b = outcome.buyer_price.unsqueeze(1).expand_as(values)
        price_s = outcome.seller_price.unsqueeze(1).expand_as(costs)
        assert bool((values[outcome.buyer_trades] >= price_b[outcome.buyer_trades]).all())
        assert bool((costs[outcome.seller_trades] <= price_s[outcome.seller_trades]).all())
        assert bool((outcome.expected_buyer_utility(values) >= 0).all())
        assert bool((outcome.expected_seller_utility(costs) >= 0).all())
        # an agent with positive trade probability only ever trades at an IR price
        possible_b = outcome.buyer_trade_prob > 0
        possible_s = outcome.seller_trade_prob > 0
        assert bool((values[possible_b] >= price_b[possible_b]).all())
        assert bool((costs[possible_s] <= price_s[possible_s]).all())


def _exact_total(row: torch.Tensor) -> Fraction:
    return sum((Fraction(float(x)) for x in row), Fraction(0))


@pytest.mark.parametrize("side", ["sellers", "buyers"])
def test_double_dutch_is_exactly_budget_balanced(side):
    gen = torch.Generator().manual_seed(5)
    for values, costs in _markets(seed=6):
        outcome = double_dutch(values, costs, lottery_side=side, generator=gen)
        assert torch.equal(outcome.buyer_trades.sum(1), outcome.seller_trades.sum(1))
        for paid, received in zip(outcome.buyer_payment, outcome.seller_receipt):
            assert _exact_total(paid) == _exact_total(received)  # exact rationals, no tolerance
        assert torch.equal(outcome.budget_surplus, torch.zeros_like(outcome.budget_surplus))


def test_mcafee_is_weakly_budget_balanced_with_the_stated_surplus():
    for values, costs in _markets(seed=7):
        outcome = mcafee(values, costs)
        for paid, received, price_b, price_s, trades in zip(
            outcome.buyer_payment,
            outcome.seller_receipt,
            outcome.buyer_price,
            outcome.seller_price,
            outcome.num_trades,
        ):
            surplus = _exact_total(paid) - _exact_total(received)
            assert surplus >= 0
            if int(trades) > 0:  # surplus = (k-1)(b_k - s_k) or 0 at the midpoint price
                expected = int(trades) * (Fraction(float(price_b)) - Fraction(float(price_s)))
                assert surplus == expected


def _naive_crossing_price(values, costs):
    """The tempting misreading: all k efficient pairs trade at min(b_k, s_{k+1})."""
    market = sort_market(values, costs)
    k = market.efficient_trades
    price = torch.minimum(market.bid(k), market.ask(k + 1))
    buyers = market.buyer_rank <= k.unsqueeze(1)
    sellers = market.seller_rank <= k.unsqueeze(1)
    return build_outcome(
        values,
        costs,
        buyer_trades=buyers,
        seller_trades=sellers,
        buyer_trade_prob=buyers.to(values.dtype),
        seller_trade_prob=sellers.to(values.dtype),
        buyer_price=price,
        seller_price=price,
    )


@pytest.mark.parametrize("mechanism", [k_double, _naive_crossing_price])
def test_the_check_catches_untruthful_rules(mechanism):
    """The same brute force flags the k-double auction and the rule that keeps the
    price-setting k-th buyer in the trade: dropping her is what buys truthfulness."""
    worst = 0.0
    for values, costs in _markets(per_size=10, seed=8):
        worst = max(worst, *_max_gains(mechanism, values, costs))
    assert worst > 0.05
