"""Every latency and trust equation of the generated env equals a direct NumPy transcription
(tests/scenario/transcription.py) on random states and random actions, to 1e-9 in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transcription import S, V, columns, random_states, transcribe

RTOL = 1e-9
EQUATIONS = ["dist", "gain", "rate_up", "rate_down", "lat_uc", "lat_dep", "lat_um", "lat_pro", "lat_down",
             "lat_mig", "lat_tot", "attitude", "norm", "reliability", "efficiency", "control", "rep_near", "hits"]


@pytest.fixture(scope="module")
def case(package, env64):
    state = random_states(package, env64, 256, seed=3)
    action = torch.rand(256, env64.action_dim, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1
    result, next_state = env64.transition(torch.from_numpy(state), action, torch.Generator().manual_seed(5))
    expected, expected_next = transcribe(package, state, result.info["decisions"].numpy())
    return state, result, next_state.numpy(), expected, expected_next


@pytest.mark.parametrize("name", EQUATIONS)
def test_equation_matches_numpy(case, name):
    _, result, _, expected, _ = case
    got = result.info[name].numpy()
    assert got.shape == expected[name].shape
    np.testing.assert_allclose(got, expected[name], rtol=RTOL, atol=0)


def test_inputs_exercise_every_branch(package, case):
    """The random inputs cover hits and no hits, migrations and stays, missing replicas,
    RSUs in and out of range, users over and under their tolerable latency."""
    state, result, _, expected, _ = case
    assert 0 < expected["hits"].mean() < 1
    assert 0 < (expected["lat_mig"] > 0).mean() < 1
    assert 0 < (columns(package, state, "copy", (V,)) == 0).mean() < 1
    assert 0 < (expected["dist"] < 300).mean() < 1
    assert 0 < (expected["efficiency"] == 0).mean() < 1


@pytest.mark.parametrize("name", ["rep", "ev_pos", "ev_neg", "rx_ok", "rx_fail", "fw_ok", "fw_fail", "lat_sum",
                                  "lat_cnt", "host", "load", "copy", "pos"])
def test_transition_matches_numpy(package, case, name):
    _, _, next_state, _, expected_next = case
    shape = expected_next[name].shape[1:]
    np.testing.assert_allclose(columns(package, next_state, name, shape), expected_next[name], rtol=RTOL, atol=1e-12)


def test_reward_and_constraint_excesses(case, package):
    _, result, _, expected, _ = case
    np.testing.assert_allclose(result.reward.numpy(), expected["reward"], rtol=RTOL)
    penalty = sum(package.CONSTRAINTS[label][0] * np.clip(expected[f"excess_{label}"], 0, None).sum(1)
                  for label in ("c22b", "c22c", "c22d"))
    np.testing.assert_allclose(result.penalty.numpy(), penalty, rtol=RTOL, atol=1e-12)
    for label in ("c22b", "c22c", "c22d"):
        count = (expected[f"excess_{label}"] > 1e-6).sum(1)
        np.testing.assert_array_equal(result.info[f"violations_{label}"].numpy(), count)


def test_decisions_follow_the_action_maps(case):
    _, result, _, _, _ = case
    decided = result.info["decisions"].numpy()
    target = decided[:, :V * S].reshape(-1, V, S)
    assert set(np.unique(target)) == {0.0, 1.0} and (target.sum(2) == 1).all()
    alpha = decided[:, V * S:2 * V * S].reshape(-1, S, V)
    assert (alpha >= 0).all()
    mtd = decided[:, 2 * V * S:]
    assert set(np.unique(mtd)) <= {0.0, 1.0}
