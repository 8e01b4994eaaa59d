"""Plain-Python, one-market-at-a-time reference implementations (the test oracle).

These mirror the batched torch mechanisms but are written independently and literally:
the double Dutch auction is *simulated* by moving the two clocks, one jump (exact) or one
tick (grid) at a time, admitting one agent per move and watching for the crossing, rather
than computed in closed form from order statistics. They use only the standard library
and serve as the "per-market Python loop" baseline in ``benchmarks/bench_auction.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

NAN = float("nan")


@dataclass(frozen=True)
class ReferenceOutcome:
    """One market's outcome; fields as in ``AuctionOutcome`` but as Python scalars/tuples."""

    buyer_trades: tuple[bool, ...]
    seller_trades: tuple[bool, ...]
    buyer_trade_prob: tuple[float, ...]
    seller_trade_prob: tuple[float, ...]
    buyer_price: float
    seller_price: float
    clock_rounds: int | None
    welfare: float
    expected_welfare: float


def _finish(
    values: Sequence[float],
    costs: Sequence[float],
    buyer_prob: list[float],
    seller_prob: list[float],
    buyer_trades: list[bool],
    seller_trades: list[bool],
    buyer_price: float,
    seller_price: float,
    rounds: int | None,
) -> ReferenceOutcome:
    welfare = sum(v for v, x in zip(values, buyer_trades) if x) - sum(
        c for c, y in zip(costs, seller_trades) if y
    )
    expected = sum(q * v for q, v in zip(buyer_prob, values)) - sum(
        q * c for q, c in zip(seller_prob, costs)
    )
    return ReferenceOutcome(
        buyer_trades=tuple(buyer_trades),
        seller_trades=tuple(seller_trades),
        buyer_trade_prob=tuple(buyer_prob),
        seller_trade_prob=tuple(seller_prob),
        buyer_price=buyer_price if any(q > 0 for q in buyer_prob) else NAN,
        seller_price=seller_price if any(q > 0 for q in seller_prob) else NAN,
        clock_rounds=rounds,
        welfare=welfare,
        expected_welfare=expected,
    )


# ---------------------------------------------------------------- double Dutch: clocks


@dataclass
class _ClockRun:
    """What a clock simulation found: admitted agents in order, price, who set it."""

    buyers: list[int]
    sellers: list[int]
    price: float
    seller_set: bool
    moves: int


def _run_event_clocks(values: Sequence[float], costs: Sequence[float]) -> _ClockRun:
    """Exact clocks: each move jumps to the next value/cost (ties: lower index first)."""
    waiting_b, waiting_s = set(range(len(values))), set(range(len(costs)))
    buyers: list[int] = []
    sellers: list[int] = []
    seller_clock = -math.inf
    moves = 0
    crossed_on_buyer_move = False
    while True:
        moves += 1  # buyer clock move
        nxt = max(waiting_b, key=lambda i: (values[i], -i)) if waiting_b else None
        if nxt is None or values[nxt] < seller_clock:
            crossed_on_buyer_move = True
            break
        waiting_b.remove(nxt)
        buyers.append(nxt)
        buyer_clock = values[nxt]
        moves += 1  # seller clock move
        nxt = min(waiting_s, key=lambda j: (costs[j], j)) if waiting_s else None
        if nxt is None or costs[nxt] > buyer_clock:
            break  # crossed; this move already showed the (k+1)-th seller
        waiting_s.remove(nxt)
        sellers.append(nxt)
        seller_clock = costs[nxt]
    if crossed_on_buyer_move:
        moves += 1  # the last seller move, towards s_{k+1} capped at b_k
    k = len(sellers)
    next_cost = min((costs[j] for j in waiting_s), default=math.inf)
    if k == 0:
        return _ClockRun(buyers, sellers, NAN, False, moves)
    kth_value = values[buyers[k - 1]]
    if next_cost <= kth_value:
        return _ClockRun(buyers, sellers, next_cost, True, moves)
    return _ClockRun(buyers, sellers, kth_value, False, moves)


def _run_grid_clocks(
    buyer_level: Sequence[int], seller_level: Sequence[int], top: int
) -> tuple[_ClockRun, int]:
    """Grid clocks on level indices 0..top: one tick moves one clock one level.

    Returns the run (its ``price`` is a level index) and the number of ticks.
    """
    waiting_b, waiting_s = set(range(len(buyer_level))), set(range(len(seller_level)))
    buyers: list[int] = []
    sellers: list[int] = []
    buyer_clock, seller_clock, ticks = top, 0, 0
    crossed = False
    while not crossed:
        while True:  # buyer clock descends until it admits one buyer or crosses
            ready = [i for i in waiting_b if buyer_level[i] >= buyer_clock]
            if ready:
                best = max(ready, key=lambda i: (buyer_level[i], -i))
                waiting_b.remove(best)
                buyers.append(best)
                break
            buyer_clock -= 1
            ticks += 1
            if buyer_clock < seller_clock:
                crossed = True
                break
        if crossed:
            break
        while True:  # seller clock ascends until it admits one seller or crosses
            ready = [j for j in waiting_s if seller_level[j] <= seller_clock]
            if ready:
                best = min(ready, key=lambda j: (seller_level[j], j))
                waiting_s.remove(best)
                sellers.append(best)
                break
            seller_clock += 1
            ticks += 1
            if seller_clock > buyer_clock:
                crossed = True
                break
    k = len(sellers)
    if k == 0:
        return _ClockRun(buyers, sellers, NAN, False, 0), ticks
    cap = buyer_level[buyers[k - 1]]
    while True:  # last seller move: admit seller k+1 or pass the k-th buyer's level
        if seller_clock > cap:
            return _ClockRun(buyers, sellers, cap, False, 0), ticks
        if any(seller_level[j] <= seller_clock for j in waiting_s):
            return _ClockRun(buyers, sellers, seller_clock, True, 0), ticks
        seller_clock += 1
        ticks += 1


def _grid_levels(
    values: Sequence[float], costs: Sequence[float], low: float, high: float, step: float
) -> tuple[list[int], list[int], int]:
    """Level indices as the clocks see the reports (see ``clock.py``)."""
    top = round((high - low) / step)

    def level(j: int) -> float:
        return low + float(j) * step

    def buyer(v: float) -> int:
        j = min(max(math.floor(min(max((v - low) / step, -1.0), top + 1.0)), -1), top)
        return max(j - 1, -1) if level(j) > v else j

    def seller(c: float) -> int:
        j = min(max(math.ceil(min(max((c - low) / step, -1.0), top + 1.0)), 0), top + 1)
        return min(j + 1, top + 1) if level(j) < c else j

    return [buyer(v) for v in values], [seller(c) for c in costs], top


def reference_double_dutch(
    values: Sequence[float],
    costs: Sequence[float],
    *,
    lottery_priorities: Sequence[float],
    step: float | None = None,
    low: float = 0.0,
    high: float = 1.0,
    lottery_side: str = "sellers",
) -> ReferenceOutcome:
    """Double Dutch auction of one market by clock simulation (rule: ``double_dutch.py``).

    ``step=None`` runs the exact clocks; otherwise the grid clocks on [low, high].
    ``lottery_priorities`` has one entry per agent on the lottery side (sellers, or
    buyers for the mirror rule); the eligible agent with the lowest one is left out.
    """
    values, costs = [float(v) for v in values], [float(c) for c in costs]
    mirrored = lottery_side == "buyers"
    if step is None:
        if mirrored:  # sellers bid -cost as buyers, buyers ask -value as sellers
            run = _run_event_clocks([-c for c in costs], [-v for v in values])
            price = -run.price
        else:
            run = _run_event_clocks(values, costs)
            price = run.price
        moves = run.moves
    else:
        jb, js, top = _grid_levels(values, costs, low, high, step)
        if mirrored:
            run, moves = _run_grid_clocks([top - j for j in js], [top - j for j in jb], top)
            price = low + float(top - run.price) * step if run.sellers else NAN
        else:
            run, moves = _run_grid_clocks(jb, js, top)
            price = low + float(run.price) * step if run.sellers else NAN
    # allocation on the (possibly mirrored) side names: "front" bids, "back" asks
    n_front, n_back = (len(costs), len(values)) if mirrored else (len(values), len(costs))
    k = len(run.sellers)
    front_prob, back_prob = [0.0] * n_front, [0.0] * n_back
    front_trades, back_trades = [False] * n_front, [False] * n_back
    if k >= 1:
        trading_front = k if run.seller_set else k - 1
        for i in run.buyers[:trading_front]:
            front_prob[i], front_trades[i] = 1.0, True
        chance = 1.0 if run.seller_set else (k - 1.0) / k
        eligible = run.sellers[:k]
        left_out = (
            None if run.seller_set else min(eligible, key=lambda j: (lottery_priorities[j], j))
        )
        for j in eligible:
            back_prob[j] = chance
            back_trades[j] = j != left_out
    if mirrored:
        front_prob, back_prob = back_prob, front_prob
        front_trades, back_trades = back_trades, front_trades
    return _finish(
        values, costs, front_prob, back_prob, front_trades, back_trades, price, price, moves
    )


# ------------------------------------------------------- sealed-bid mechanisms, literal


def _orders(values: Sequence[float], costs: Sequence[float]) -> tuple[list[int], list[int], int]:
    """Buyers by value descending, sellers by cost ascending (ties by index), and k."""
    buyers = sorted(range(len(values)), key=lambda i: (-values[i], i))
    sellers = sorted(range(len(costs)), key=lambda j: (costs[j], j))
    k = 0
    while k < min(len(buyers), len(sellers)) and values[buyers[k]] >= costs[sellers[k]]:
        k += 1
    return buyers, sellers, k


def _deterministic(
    values: Sequence[float],
    costs: Sequence[float],
    winners_b: list[int],
    winners_s: list[int],
    buyer_price: float,
    seller_price: float,
) -> ReferenceOutcome:
    trades_b = [i in winners_b for i in range(len(values))]
    trades_s = [j in winners_s for j in range(len(costs))]
    return _finish(
        values,
        costs,
        [float(x) for x in trades_b],
        [float(y) for y in trades_s],
        trades_b,
        trades_s,
        buyer_price,
        seller_price,
        None,
    )


def reference_mcafee(values: Sequence[float], costs: Sequence[float]) -> ReferenceOutcome:
    """McAfee (1992) with trade reduction, one market (rule: ``mcafee.py``)."""
    values, costs = [float(v) for v in values], [float(c) for c in costs]
    buyers, sellers, k = _orders(values, costs)
    if k == 0:
        return _deterministic(values, costs, [], [], NAN, NAN)
    b_k, s_k = values[buyers[k - 1]], costs[sellers[k - 1]]
    if k < len(buyers) and k < len(sellers):
        p0 = (values[buyers[k]] + costs[sellers[k]]) / 2
        if s_k <= p0 <= b_k:
            return _deterministic(values, costs, buyers[:k], sellers[:k], p0, p0)
    return _deterministic(values, costs, buyers[: k - 1], sellers[: k - 1], b_k, s_k)


def reference_k_double(
    values: Sequence[float], costs: Sequence[float], *, kappa: float = 0.5
) -> ReferenceOutcome:
    """k-double auction, one market (rule: ``k_double.py``)."""
    values, costs = [float(v) for v in values], [float(c) for c in costs]
    buyers, sellers, k = _orders(values, costs)
    if k == 0:
        return _deterministic(values, costs, [], [], NAN, NAN)
    price = kappa * values[buyers[k - 1]] + (1.0 - kappa) * costs[sellers[k - 1]]
    return _deterministic(values, costs, buyers[:k], sellers[:k], price, price)


def reference_efficient_welfare(values: Sequence[float], costs: Sequence[float]) -> float:
    """Maximal gains from trade of one market: match the k best pairs."""
    buyers, sellers, k = _orders(values, costs)
    return sum(float(values[buyers[t]]) - float(costs[sellers[t]]) for t in range(k))
