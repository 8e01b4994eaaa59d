"""The toy environments are exact: their optimum matches an independent grid search."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from toy_env import ScreeningContractEnv, TrackingEnv

from mechdsl.rl.env import BatchedEnv, learning_reward, observation


def _grid_optimum(theta1: float, theta2: float, q: float, a=2.0, c=1.0, t_max=10.0) -> float:
    """Brute force over T_1 <= T_2 on a dense grid with the least payments."""
    t = np.linspace(0.0, t_max, 2001)
    t1, t2 = np.meshgrid(t, t, indexing="ij")
    r1 = c * t1 / theta1
    r2 = r1 + c * (t2 - t1) / theta2
    value = q * (a * np.sqrt(t1) - r1) + (1 - q) * (a * np.sqrt(t2) - r2)
    value[t1 > t2] = -np.inf
    return float(value.max())


def test_satisfies_protocol(contract_env, tracking_env):
    assert isinstance(contract_env, BatchedEnv)
    assert isinstance(tracking_env, BatchedEnv)


def test_closed_form_optimum_matches_grid(contract_env):
    state = contract_env.reset(6, torch.Generator().manual_seed(3)).double()
    closed = contract_env.optimum(state)
    for i in range(6):
        grid = _grid_optimum(*state[i].tolist())
        assert abs(closed[i].item() - grid) < 2e-3, (closed[i].item(), grid)
        assert closed[i].item() >= grid - 1e-9  # the grid can never beat the exact optimum


def test_optimal_action_attains_optimum_and_is_feasible():
    env = ScreeningContractEnv(dtype=torch.float64, penalty=0.0)
    state = env.reset(500, torch.Generator().manual_seed(0))
    result = env.evaluate(state, env.optimal_action(state))
    assert torch.allclose(result.reward, env.optimum(state), atol=1e-9)
    assert float(result.violation.max()) < 1e-9
    # a random contract is worse on average and still feasible (least payments)
    random = env.evaluate(state, torch.rand(500, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1)
    assert float(random.reward.mean()) < float(result.reward.mean()) - 0.3
    assert float(random.violation.max()) < 1e-9


def test_violation_detects_a_bad_menu(contract_env):
    """Swap the payments of the two types: the high type's IC constraint breaks."""
    state = torch.tensor([[1.5, 2.5, 0.5]], dtype=torch.float64)
    u11, u12, u21, u22 = contract_env._utilities(state, torch.tensor([[0.0, 0.0]], dtype=torch.float64))
    assert abs(u11.item()) < 1e-12 and abs((u22 - u21).item()) < 1e-12  # binding IR_1 and IC_2
    # T_2 = 5, T_1 = 2.5; R_1 = 2.5/1.5, R_2 = R_1 + 2.5/2.5 -> type 2 utility = 2.5*R_2 - 5
    assert abs(u22.item() - (2.5 * (2.5 / 1.5 + 1.0) - 5.0)) < 1e-12


def test_penalty_and_observation(contract_env, tracking_env):
    state = contract_env.reset(4, torch.Generator().manual_seed(0))
    action = torch.full((4, 2), 0.5)
    result = contract_env.evaluate(state, action)
    assert torch.allclose(result.penalty, torch.full((4,), 1e-3 * 0.5))
    assert torch.allclose(learning_reward(result), result.reward - result.penalty)
    bad = type(result)(result.reward, result.penalty, torch.tensor([0.0, 0.5, 0.0, 2.0]), result.info)
    expected = result.reward - result.penalty - 3.0 * torch.tensor([0.0, 0.5, 0.0, 2.0])
    assert torch.allclose(learning_reward(bad, violation_weight=3.0), expected)
    log_expected = result.reward - result.penalty - 3.0 * torch.log(1 + torch.tensor([0.0, 0.5, 0.0, 2.0]))
    assert torch.allclose(learning_reward(bad, violation_weight=3.0, violation_penalty="log1p"), log_expected)
    with pytest.raises(ValueError, match="violation_penalty"):
        learning_reward(bad, violation_weight=3.0, violation_penalty="square")
    obs = observation(contract_env, torch.tensor([[1.0, 3.0, 0.5]]))
    assert torch.allclose(obs, torch.tensor([[-1.0, 1.0, 0.0]]), atol=1e-6)
    s = tracking_env.reset(3, torch.Generator().manual_seed(0))
    assert torch.allclose(tracking_env.evaluate(s, s).reward, torch.ones(3))
    assert torch.allclose(TrackingEnv().optimum(s), torch.ones(3))
