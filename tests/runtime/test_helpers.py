"""The spec-independent helpers of generated contract envs (`mechdsl.runtime.action_map`,
`batching`, `certificate`, `optimum`, `bandit_env`), each against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mechdsl.runtime import action_map, batching, certificate
from mechdsl.runtime.bandit_env import HorizonOneEnv
from mechdsl.runtime.optimum import optimum_per_state


def test_batch_last_is_the_contiguous_transpose_and_differentiable():
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    rows = batching.batch_last(x)
    assert rows.is_contiguous() and torch.equal(rows, x.t())
    (rows * torch.arange(15.0, dtype=torch.float64).view(3, 5)).sum().backward()
    assert torch.equal(x.grad, torch.arange(15.0, dtype=torch.float64).view(3, 5).t())


def test_straight_through_has_the_value_of_one_and_the_gradient_of_the_other():
    proposal = torch.tensor([1.0, 2.0], requires_grad=True)
    out = batching.straight_through(torch.tensor([7.0, -3.0]), proposal * 3)
    assert out.tolist() == [7.0, -3.0]
    out.sum().backward()
    assert proposal.grad.tolist() == [3.0, 3.0]


def test_range_maps_and_their_inverses():
    d = torch.linspace(0, 1, 101, dtype=torch.float64)
    floor, ceiling = torch.full_like(d, 2.0), torch.full_like(d, 6.0)
    assert torch.allclose(action_map.within(floor, ceiling, d, 1), 2.0 + 4.0 * d)
    assert torch.allclose(action_map.within(floor, ceiling, d, -1), floor)  # empty range against the flow
    assert torch.allclose(action_map.within(ceiling, floor, d, -1), 6.0 - 4.0 * d)
    assert torch.allclose(action_map.fraction(action_map.within(floor, ceiling, d, 1) - floor, ceiling - floor), d)
    capped = d.clamp(max=action_map.SLACK_D_MAX)
    r = action_map.unbounded(d)
    assert torch.allclose(r, capped ** 2 / (1 - capped ** 2)) and float(r.max()) == pytest.approx(0.99 ** 2 / (1 - 0.99 ** 2))
    assert torch.allclose(action_map.unbounded_inverse(r), capped)
    assert float(action_map.unbounded_inverse(torch.tensor(-1.0))) == 0.0
    x, x_ref = torch.tensor([4.0]), torch.tensor([1.0])
    assert [float(action_map.toward(x, x_ref, torch.tensor(v))) for v in (0.0, 0.5, 1.0)] == [1.0, 2.5, 4.0]


def test_action_tensors_pool_the_entries_of_each_allocation():
    k = action_map.action_tensors((1.0, 2.0, 3.0), (0.5, 0.5, 0.5), (0.0,), (float("inf"),), (0, 0, 1),
                                  torch.device("cpu"), torch.float64)
    x = torch.tensor([[2.0], [4.0], [9.0]], dtype=torch.float64)
    assert (k.pooling @ x).squeeze(1).tolist() == [3.0, 3.0, 9.0]
    assert k.action_mid.shape == (3, 1) and k.decision_upper.item() == float("inf")
    assert action_map.slack_fractions(torch.tensor([[0.3], [-1.0], [3.0]]), 1).squeeze(1).tolist() == [0.0, 1.0]


def test_incentive_slacks_and_later_play_against_loops():
    value = torch.randn(2, 3, 3, 4, dtype=torch.float64)  # (H, K, K, B)
    slacks = certificate.incentive_slacks(value).view(2, 3, 3, 4)
    for h in range(2):
        for i in range(3):
            for r in range(3):
                assert torch.equal(slacks[h, i, r], value[h, i, i] - value[h, i, r])
    best = certificate.later_play(value, truthful=False)
    truthful = certificate.later_play(value, truthful=True)
    for h in range(2):
        for i in range(3):
            assert torch.equal(best[h, i], value[h, i].amax(0)) and torch.equal(truthful[h, i], value[h, i, i])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_violation_ignores_rounding_only(dtype):
    rows = torch.tensor([[10.0, 10.0, 10.0]], dtype=dtype)
    decisions = torch.tensor([[100.0, 100.0, 100.0]], dtype=dtype)
    allowance = certificate.ROUNDING_ULPS * torch.finfo(dtype).eps * (100.0 * 10.0 + 1)
    slacks = torch.tensor([[1.0, -0.5 * allowance, -2.0]], dtype=dtype)
    violation = certificate.violation_beyond_rounding(slacks, decisions, rows)
    assert violation[:2].tolist() == [0.0, 0.0]
    assert float(violation[2]) == pytest.approx(2.0 - allowance, rel=1e-6)


def test_a_nan_slack_is_an_infinite_violation():
    """A utility evaluated outside its domain (log of a negative wealth) gives a NaN slack: that
    sample is violated (+inf), never certified; the other samples keep their violation."""
    rows = torch.ones(1, 3, dtype=torch.float64)
    decisions = torch.ones(1, 3, dtype=torch.float64)
    slacks = torch.tensor([[1.0, float("nan"), -2.0], [0.5, 3.0, 1.0]], dtype=torch.float64)
    violation = certificate.violation_beyond_rounding(slacks, decisions, rows)
    assert float(violation[0]) == 0.0 and float(violation[1]) == float("inf")
    assert float(violation[2]) == pytest.approx(2.0, rel=1e-9)
    assert bool((violation > 0)[1])


def test_optimum_per_state_names_each_row():
    state = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float32)
    seen = []

    def value_of(point):
        seen.append(point)
        return point["a"] * point["b"] + point["c"]

    values = optimum_per_state(state, ("a", "b"), {"c": 0.5}, value_of)
    assert values.dtype == torch.float32 and values.tolist() == [2.5, 15.5]
    assert seen[0] == {"c": 0.5, "a": 1.0, "b": 2.0}


class _Toy(HorizonOneEnv):
    state_names, action_names = ("s",), ("a",)
    state_bounds = ((0.0,), (1.0,))

    @staticmethod
    def sample(batch_size, generator, device, dtype):
        return torch.rand(batch_size, 1, generator=generator, device=device, dtype=dtype)

    def evaluate(self, state, action):
        return state + action


def test_horizon_one_env_stores_the_reset_states_and_refuses_step_before_reset():
    env = _Toy(dtype=torch.float64)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.zeros(2, 1))
    state = env.reset(4, torch.Generator().manual_seed(0))
    assert state.dtype == torch.float64 and env.state_low.tolist() == [0.0] and env.horizon == 1
    assert torch.equal(env.step(torch.ones(4, 1, dtype=torch.float64)), state + 1)
    assert np.isclose(float(env.state_high), 1.0)
