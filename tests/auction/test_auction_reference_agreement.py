"""The batched torch mechanisms agree with the per-market plain-Python references.

The double Dutch reference simulates the two clocks move by move (or tick by tick), so
agreement checks the closed-form order-statistics rule and tick formula against the
protocol itself. Prices, probabilities and clock rounds must agree exactly; welfare to
float summation order.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mechdsl.auction import ClockGrid, double_dutch, k_double, mcafee, random_markets
from mechdsl.auction.reference import (
    ReferenceOutcome,
    reference_double_dutch,
    reference_k_double,
    reference_mcafee,
)

SIZES = [(1, 1), (1, 3), (3, 1), (2, 2), (3, 4), (4, 3), (5, 5), (9, 6), (6, 9), (12, 12)]


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _assert_agrees(outcome, row: int, ref: ReferenceOutcome) -> None:
    assert tuple(outcome.buyer_trades[row].tolist()) == ref.buyer_trades
    assert tuple(outcome.seller_trades[row].tolist()) == ref.seller_trades
    assert tuple(outcome.buyer_trade_prob[row].tolist()) == ref.buyer_trade_prob
    assert tuple(outcome.seller_trade_prob[row].tolist()) == ref.seller_trade_prob
    assert _same_float(float(outcome.buyer_price[row]), ref.buyer_price)
    assert _same_float(float(outcome.seller_price[row]), ref.seller_price)
    if ref.clock_rounds is None:
        assert outcome.clock_rounds is None
    else:
        assert int(outcome.clock_rounds[row]) == ref.clock_rounds
    assert math.isclose(float(outcome.welfare[row]), ref.welfare, abs_tol=1e-12)
    assert math.isclose(float(outcome.expected_welfare[row]), ref.expected_welfare, abs_tol=1e-12)


def _batches(levels, seed, per_size=60):
    gen = torch.Generator().manual_seed(seed)
    for n, m in SIZES:
        yield random_markets(per_size, n, m, levels=levels, generator=gen)


DDA_CASES = {
    "exact": dict(clock=None),
    "grid_0.05": dict(clock=ClockGrid(0.0, 1.0, 0.05)),
    # a grid narrower than the support: some agents are never admitted
    "grid_narrow": dict(clock=ClockGrid(0.2, 0.8, 0.1)),
}


@pytest.mark.parametrize("side", ["sellers", "buyers"])
@pytest.mark.parametrize("case", sorted(DDA_CASES))
@pytest.mark.parametrize("levels", [None, 7])
def test_double_dutch_matches_clock_simulation(case, side, levels):
    clock = DDA_CASES[case]["clock"]
    gen = torch.Generator().manual_seed(11)
    for values, costs in _batches(levels, seed=12, per_size=40):
        lottery = values if side == "buyers" else costs
        draws = torch.rand(lottery.shape, generator=gen, dtype=values.dtype)
        outcome = double_dutch(
            values, costs, clock=clock, lottery_side=side, lottery_priorities=draws
        )
        for row in range(values.shape[0]):
            grid = {} if clock is None else dict(step=clock.step, low=clock.low, high=clock.high)
            ref = reference_double_dutch(
                values[row].tolist(),
                costs[row].tolist(),
                lottery_priorities=draws[row].tolist(),
                lottery_side=side,
                **grid,
            )
            _assert_agrees(outcome, row, ref)


@pytest.mark.parametrize("levels", [None, 5])
def test_mcafee_and_k_double_match_references(levels):
    for values, costs in _batches(levels, seed=13):
        mc = mcafee(values, costs)
        kd = {kappa: k_double(values, costs, kappa=kappa) for kappa in (0.0, 0.3, 1.0)}
        for row in range(values.shape[0]):
            v, c = values[row].tolist(), costs[row].tolist()
            _assert_agrees(mc, row, reference_mcafee(v, c))
            for kappa, outcome in kd.items():
                _assert_agrees(outcome, row, reference_k_double(v, c, kappa=kappa))


prices = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.7, 0.75, 0.9, 1.0, 1.3, -0.2])
agents = st.lists(prices, min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(values=agents, costs=agents, side=st.sampled_from(["sellers", "buyers"]), data=st.data())
def test_double_dutch_matches_simulation_on_adversarial_ties(values, costs, side, data):
    v = torch.tensor([values], dtype=torch.float64)
    c = torch.tensor([costs], dtype=torch.float64)
    size = len(values) if side == "buyers" else len(costs)
    priorities = data.draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=size, max_size=size))
    d = torch.tensor([priorities], dtype=torch.float64)
    for clock in (None, ClockGrid(0.0, 1.0, 0.25)):
        outcome = double_dutch(v, c, clock=clock, lottery_side=side, lottery_priorities=d)
        grid = {} if clock is None else dict(step=clock.step, low=clock.low, high=clock.high)
        ref = reference_double_dutch(
            values, costs, lottery_priorities=priorities, lottery_side=side, **grid
        )
        _assert_agrees(outcome, 0, ref)


@settings(max_examples=100, deadline=None)
@given(values=agents, costs=agents)
def test_mcafee_matches_reference_on_adversarial_ties(values, costs):
    v = torch.tensor([values], dtype=torch.float64)
    c = torch.tensor([costs], dtype=torch.float64)
    _assert_agrees(mcafee(v, c), 0, reference_mcafee(values, costs))
