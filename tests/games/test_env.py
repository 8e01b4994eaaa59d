"""The generated auctioneer env (`generated/iot_offloading`): its reward and welfare equal a
direct computation with `mechdsl.auction` (the batched auction on a scalar `ClockGrid` and
the tick-by-tick clock simulation of `reference.py`) on random markets and actions; it is
deterministic given the generator, keeps dtype and device, and satisfies the protocol."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from mechdsl.auction import ClockGrid, double_dutch, efficient_trade
from mechdsl.auction.reference import reference_double_dutch, reference_efficient_welfare
from mechdsl.rl.env import BatchedEnv

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import generated.iot_offloading as game_package  # noqa: E402
from generated.iot_offloading import env as game_env  # noqa: E402

ROUND_COST = 0.02  # `param round_cost` of specs/iot_offloading.mech


@pytest.fixture(scope="module")
def env():
    return game_package.Env(device="cpu", dtype=torch.float64)


def _markets(env, n=300, seed=0):
    generator = torch.Generator().manual_seed(seed)
    state = env.reset(n, generator)
    action = 2 * torch.rand(n, env.action_dim, generator=generator, dtype=torch.float64) - 1
    action[: n // 3] = env.greedy_action(state[: n // 3])  # the greedy clocks too
    return state, action


def _clock_of(action_row: torch.Tensor) -> tuple[float, float, float]:
    """The documented action map, recomputed in plain Python: (low, top, step)."""
    d = [(float(a) + 1) / 2 for a in action_row]
    lo, hi = game_env.PRICE_LOW, game_env.PRICE_HIGH
    low = lo + (hi - lo) * d[0]
    high = low + (hi - low) * d[1]
    step = game_env.STEP_MIN * (game_env.STEP_MAX / game_env.STEP_MIN) ** d[2]
    levels = max(1, math.ceil((high - low) / step))
    return low, low + levels * step, step


def test_protocol_and_layout(env):
    assert isinstance(env, BatchedEnv)
    assert env.state_names == ("FA[0].value", "FA[1].value", "AA[0].cost", "AA[1].cost", "AA[2].cost")
    assert env.action_dim == 3 and env.horizon == 1 and game_env.ROUND_COST == ROUND_COST
    state = env.reset(64, torch.Generator().manual_seed(1))
    assert state.dtype == torch.float64 and state.shape == (64, 5)
    assert bool(((state >= env.state_low) & (state <= env.state_high)).all())


def test_reward_equals_the_auction_library_on_random_markets(env):
    state, action = _markets(env)
    result = env.evaluate(state, action)
    for b in range(state.shape[0]):
        low, top, step = _clock_of(action[b])
        values, costs = state[b : b + 1, :2], state[b : b + 1, 2:]
        outcome = double_dutch(values, costs, clock=ClockGrid(low=low, high=top, step=step),
                               lottery_priorities=torch.zeros(1, 3, dtype=torch.float64))
        expected = float(outcome.expected_welfare[0]) - ROUND_COST * int(outcome.clock_rounds[0])
        assert float(result.info["clock_rounds"][b]) == int(outcome.clock_rounds[0])
        assert float(result.reward[b]) == pytest.approx(expected, abs=1e-9)
        # the clocks simulated tick by tick (an independent implementation)
        reference = reference_double_dutch(values[0].tolist(), costs[0].tolist(), lottery_priorities=[0.0] * 3,
                                           step=step, low=low, high=top)
        assert reference.clock_rounds == int(result.info["clock_rounds"][b])
        assert reference.expected_welfare == pytest.approx(float(result.info["welfare"][b]), abs=1e-9)
    assert bool((result.violation == 0).all()) and bool((result.penalty == 0).all())


def test_optimum_is_the_efficient_welfare(env):
    state, _ = _markets(env, n=200, seed=3)
    optimum = env.optimum(state)
    assert torch.equal(optimum, efficient_trade(state[:, :2], state[:, 2:]).welfare)
    for b in range(0, 200, 7):
        assert float(optimum[b]) == pytest.approx(reference_efficient_welfare(state[b, :2].tolist(),
                                                                              state[b, 2:].tolist()), abs=1e-12)


def test_welfare_never_exceeds_the_efficient_welfare(env):
    state, action = _markets(env, n=2000, seed=5)
    result = env.evaluate(state, action)
    assert bool((result.info["welfare"] <= env.optimum(state) + 1e-9).all())
    assert bool((result.info["clock_rounds"] >= 1).all())


def test_greedy_clock_spans_every_report_at_the_finest_step(env):
    state, _ = _markets(env, n=500, seed=7)
    result = env.evaluate(state, env.greedy_action(state))
    low, top, step = (result.info[k] for k in ("seller_clock_start", "buyer_clock_start", "clock_step"))
    assert torch.allclose(low, state[:, 2:].min(dim=1).values, atol=1e-12)
    assert bool((top >= state[:, :2].max(dim=1).values - 1e-12).all())
    assert torch.allclose(step, torch.full_like(step, game_env.STEP_MIN))


def test_deterministic_given_the_generator_and_dtype_kept():
    a = game_package.Env(dtype=torch.float32)
    s1, s2 = a.reset(32, torch.Generator().manual_seed(9)), a.reset(32, torch.Generator().manual_seed(9))
    assert torch.equal(s1, s2) and s1.dtype == torch.float32
    action = torch.zeros(32, 3)
    r1, r2 = a.step(action), a.evaluate(s2, action)
    assert torch.equal(r1.reward, r2.reward) and r1.reward.dtype == torch.float32
