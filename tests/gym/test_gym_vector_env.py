"""`mechdsl.gym.as_vector_env`: spaces from the layout, a reset/step round trip against
`env.evaluate` (reward = objective - penalty, violation, contract items, same-step
autoreset), seeding determinism and the bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

gymnasium = pytest.importorskip("gymnasium")

from mechdsl.gym import as_vector_env  # noqa: E402
from mechdsl.rl.env import observation  # noqa: E402

N = 16


def test_spaces_follow_the_layout(package):
    env = package.Env()
    vector = as_vector_env(env, N)
    assert isinstance(vector, gymnasium.vector.VectorEnv) and vector.num_envs == N
    single = vector.single_observation_space
    assert isinstance(single, gymnasium.spaces.Box) and single.shape == (len(package.STATE_LAYOUT),)
    assert single.dtype == np.float32
    np.testing.assert_array_equal(single.low, np.array(package.env.STATE_LOW, dtype=np.float32))
    np.testing.assert_array_equal(single.high, np.array(package.env.STATE_HIGH, dtype=np.float32))
    action = vector.single_action_space
    assert action.shape == (len(package.ACTION_LAYOUT),)
    assert np.all(action.low == -1.0) and np.all(action.high == 1.0)
    assert vector.observation_space.shape == (N, env.state_dim)
    assert vector.action_space.shape == (N, env.action_dim)
    obs, info = vector.reset(seed=0)
    assert obs.shape == (N, env.state_dim) and obs.dtype == np.float32 and info == {}
    assert vector.observation_space.contains(obs)
    normalized = as_vector_env(env, N, normalize=True)
    assert np.all(normalized.single_observation_space.low == -1.0)
    obs, _ = normalized.reset(seed=0)
    assert np.all(np.abs(obs) <= 1.0 + 1e-6)


def test_step_matches_evaluate_and_autoresets(package):
    env = package.Env(dtype=torch.float64)
    vector = as_vector_env(env, N)
    obs, _ = vector.reset(seed=3)
    vector.action_space.seed(4)
    actions = vector.action_space.sample()
    next_obs, reward, terminated, truncated, info = vector.step(actions)
    expected = env.evaluate(torch.from_numpy(obs), torch.from_numpy(actions))
    np.testing.assert_allclose(reward, (expected.reward - expected.penalty).numpy(), rtol=1e-12)
    np.testing.assert_allclose(info["objective"], expected.reward.numpy(), rtol=1e-12)
    np.testing.assert_allclose(info["penalty"], expected.penalty.numpy(), rtol=1e-12)
    np.testing.assert_allclose(info["violation"], expected.violation.numpy(), rtol=1e-12, atol=1e-12)
    for name in package.env.CONTRACT_LAYOUT:
        assert info[name].shape == (N,)
        np.testing.assert_allclose(info[name], expected.info[name].numpy(), rtol=1e-12)
    assert reward.shape == (N,) and terminated.all() and not truncated.any()
    # horizon 1, same-step autoreset: the scored states come back as final_obs, fresh ones as obs
    np.testing.assert_array_equal(info["final_obs"], obs)
    assert info["_final_obs"].all()
    assert next_obs.shape == obs.shape and not np.array_equal(next_obs, obs)
    assert vector.observation_space.contains(next_obs.astype(np.float64))


def test_normalized_observations_are_the_rl_observation(package):
    env = package.Env(dtype=torch.float64)
    raw, normalized = as_vector_env(env, N), as_vector_env(env, N, normalize=True)
    state, _ = raw.reset(seed=9)
    obs, _ = normalized.reset(seed=9)
    np.testing.assert_allclose(obs, observation(env, torch.from_numpy(state)).numpy(), rtol=1e-12)


def test_seeding_is_deterministic(package):
    first, second = as_vector_env(package.Env(), N), as_vector_env(package.Env(), N)
    actions = np.linspace(-1.0, 1.0, N * first.env.action_dim, dtype=np.float32).reshape(N, -1)
    a, _ = first.reset(seed=11)
    b, _ = second.reset(seed=11)
    np.testing.assert_array_equal(a, b)
    for _ in range(3):
        step_a, step_b = first.step(actions), second.step(actions)
        for x, y in zip(step_a[:4], step_b[:4]):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(step_a[4]["violation"], step_b[4]["violation"])
    again, _ = first.reset(seed=11)
    np.testing.assert_array_equal(again, a)
    other, _ = second.reset(seed=12)
    assert not np.array_equal(other, a)


def test_bad_inputs(package):
    vector = as_vector_env(package.Env(), N)
    with pytest.raises(RuntimeError, match="reset"):
        vector.step(np.zeros((N, vector.env.action_dim), dtype=np.float32))
    vector.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        vector.step(np.zeros((N + 1, vector.env.action_dim), dtype=np.float32))
    with pytest.raises(ValueError, match="num_envs"):
        as_vector_env(package.Env(), 0)

    class LongEnv:
        horizon = 3

    with pytest.raises(ValueError, match="horizon"):
        as_vector_env(LongEnv(), N)
    vector.close()
