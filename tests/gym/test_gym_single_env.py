"""`mechdsl.gym.as_env` and `register` (a `gymnasium.make` id per compiled package), and
what every adapter does with out-of-bounds actions (clip by default, or raise)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

gymnasium = pytest.importorskip("gymnasium")

from mechdsl.gym import as_env, as_vector_env, bounded_actions, register  # noqa: E402


def test_single_env_round_trip(package):
    env = package.Env(dtype=torch.float64)
    single = as_env(env)
    assert isinstance(single, gymnasium.Env)
    assert single.observation_space.shape == (env.state_dim,) and single.action_space.shape == (env.action_dim,)
    obs, info = single.reset(seed=5)
    assert obs.shape == (env.state_dim,) and info == {}
    single.action_space.seed(1)
    action = single.action_space.sample()
    final, reward, terminated, truncated, info = single.step(action)
    expected = env.evaluate(torch.from_numpy(obs)[None], torch.from_numpy(action)[None])
    assert reward == pytest.approx(float(expected.reward[0] - expected.penalty[0]), rel=1e-12)
    assert info["objective"] == pytest.approx(float(expected.reward[0]), rel=1e-12)
    assert info["clipped_actions"] == 0 and isinstance(reward, float)
    np.testing.assert_array_equal(final, obs)  # the scored state
    assert terminated is True and truncated is False
    with pytest.raises(RuntimeError, match="reset"):
        single.step(action)  # one step per episode
    again, _ = single.reset(seed=5)
    np.testing.assert_array_equal(again, obs)


def test_single_env_passes_gymnasiums_checker(package):
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a normal draw outside its +-3 sd box
        check_env(as_env(package.Env(), normalize=True), skip_render_check=True)


def test_register_gives_a_gym_make_id(package):
    env_id = register(package)
    assert env_id == f"mechdsl/{package.__name__.rsplit('.', 1)[-1]}-v0"
    made = gymnasium.make(env_id, normalize=True, dtype=torch.float64)
    obs, _ = made.reset(seed=2)
    assert obs.dtype == np.float64 and np.all(np.abs(obs) <= 1.0 + 1e-9)
    _, reward, terminated, _, _ = made.step(made.action_space.sample())
    assert terminated and np.isfinite(reward)
    strict = gymnasium.make(env_id, out_of_bounds="raise")
    strict.reset(seed=0)
    with pytest.raises(ValueError, match="outside the action space"):
        strict.step(np.full(strict.action_space.shape, 5.0, dtype=np.float32))


def test_out_of_bounds_actions_are_clipped_and_counted(package):
    env = package.Env(dtype=torch.float64)
    vector = as_vector_env(env, 4)
    obs, _ = vector.reset(seed=7)
    wild = np.linspace(-5.0, 5.0, 4 * env.action_dim).reshape(4, env.action_dim)
    _, reward, _, _, info = vector.step(wild)
    clipped = np.clip(wild, -1.0, 1.0)
    expected = env.evaluate(torch.from_numpy(obs), torch.from_numpy(clipped))
    np.testing.assert_allclose(reward, (expected.reward - expected.penalty).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(info["clipped_actions"], (np.abs(wild) > 1.0).sum(axis=1))
    assert info["clipped_actions"].sum() > 0


def test_out_of_bounds_can_be_rejected(package):
    vector = as_vector_env(package.Env(), 3, out_of_bounds="raise")
    vector.reset(seed=0)
    action = np.zeros((3, vector.env.action_dim), dtype=np.float32)
    action[1, 0] = 5.0
    with pytest.raises(ValueError, match=r"1 action entry is outside the action space \[-1, 1\] .*5"):
        vector.step(action)
    action[1, 0] = 1.0  # the bound itself is inside
    vector.step(action)
    action[0, 0] = np.nan
    for mode in ("clip", "raise"):
        lenient = as_vector_env(package.Env(), 3, out_of_bounds=mode)
        lenient.reset(seed=0)
        with pytest.raises(ValueError, match="finite"):
            lenient.step(action)
        with pytest.raises(ValueError, match="finite"):
            bounded_actions(action, mode)
    with pytest.raises(ValueError, match="out_of_bounds must be one of clip, raise"):
        as_env(package.Env(), out_of_bounds="wrap")
