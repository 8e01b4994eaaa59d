"""Decisions that violate (22b)-(22d) are penalised (w_c times the excess, in the learning
reward) and counted (info["violations_<label>"]); feasible decisions cost nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mechdsl.lang import load_source
from mechdsl.rl.env import learning_reward
from mechdsl.rl.runs import load_package
from mechdsl.scenario.codegen import compile_scenario
from transcription import S, V, columns

from conftest import SPEC


def raw_actions(target: np.ndarray, alpha_raw: float = 0.0, mtd_on: bool = False) -> torch.Tensor:
    """Raw actions picking `target[b, v]` (RSU index) for every vehicle."""
    batch = len(target)
    logits = -np.ones((batch, V, S))
    np.put_along_axis(logits, target[:, :, None], 1.0, 2)
    mtd = np.full((batch, S), 1.0 if mtd_on else -1.0)
    return torch.from_numpy(np.concatenate([logits.reshape(batch, -1), np.full((batch, V * S), alpha_raw), mtd], 1))


def spread_targets(batch: int) -> np.ndarray:
    return np.tile(np.arange(V) % S, (batch, 1))          # two agents per RSU: load 2 <= L_max = 3


@pytest.fixture(scope="module")
def trusted_state(package, env64):
    state = env64.reset(32, torch.Generator().manual_seed(2)).clone()
    layout = package.STATE_LAYOUT
    for u in range(V):
        for s in range(S):
            state[:, layout.index(f"rep[{u}, {s}]")] = 0.8
    return state


def test_feasible_decisions_cost_nothing(env64, trusted_state):
    result = env64.evaluate(trusted_state, raw_actions(spread_targets(32)))
    for label in ("c22b", "c22c", "c22d"):
        assert (result.info[f"violations_{label}"] == 0).all()
    assert (result.penalty == 0).all() and (result.violation == 0).all()


def test_overloading_an_rsu_violates_22c(package, env64, trusted_state):
    everyone_to_0 = np.zeros((32, V), dtype=int)
    result = env64.evaluate(trusted_state, raw_actions(everyone_to_0))
    assert (result.info["violations_c22c"] == 1).all()               # only RSU 0 is over L_max
    excess = V - package.CONSTANTS["L_max"]
    weight = package.CONSTRAINTS["c22c"][0]
    np.testing.assert_allclose(result.penalty.numpy(), weight * excess, rtol=1e-12)
    np.testing.assert_allclose(result.violation.numpy(), excess)
    learned = learning_reward(result)
    np.testing.assert_allclose(learned.numpy(), (result.reward - weight * excess).numpy(), rtol=1e-12)


def test_migrating_to_a_distrusted_rsu_violates_22d(package, env64, trusted_state):
    state = trusted_state.clone()
    layout = package.STATE_LAYOUT
    for u in range(V):
        state[:, layout.index(f"rep[{u}, 1]")] = 0.2                 # every user distrusts RSU 1
    targets = spread_targets(32)
    result = env64.evaluate(state, raw_actions(targets))
    users_to_1 = (targets == 1).sum(1)
    np.testing.assert_array_equal(result.info["violations_c22d"].numpy(), users_to_1)
    weight = package.CONSTRAINTS["c22d"][0]
    np.testing.assert_allclose(result.penalty.numpy(), weight * users_to_1 * (package.CONSTANTS["B_thre"] - 0.2),
                               rtol=1e-9)


def test_simplex_shares_satisfy_22b_by_construction(package, env64, trusted_state):
    action = torch.rand(32, env64.action_dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    result = env64.evaluate(trusted_state, action)
    assert (result.info["violations_c22b"] == 0).all()
    host = columns(package, trusted_state.numpy(), "host", (V, S))
    alpha = result.info["decisions"].numpy()[:, V * S:2 * V * S].reshape(-1, S, V)
    used = (host.transpose(0, 2, 1) * alpha).sum(2)
    np.testing.assert_allclose(used[host.sum(1) > 0], 1.0, rtol=1e-12)


def test_interval_shares_violating_22b_are_penalised(tmp_path: Path, trusted_state):
    """The same spec with `alpha` mapped to an interval instead of a simplex: full shares for
    every hosted agent overbook an RSU hosting two or more."""
    source = SPEC.read_text(encoding="utf-8").replace("action alpha[s in S, v in V] simplex over v where host[v, s]",
                                                      "action alpha[s in S, v in V] in [0.05, 1]")
    assert "in [0.05, 1]" in source
    model = load_source(source, "interval_shares.mech")
    compile_scenario(model, tmp_path / "pkg", source=source)
    package = load_package(tmp_path / "pkg")
    env = package.Env(dtype=torch.float64)
    state = trusted_state
    result = env.evaluate(state, raw_actions(spread_targets(32), alpha_raw=1.0))
    host = columns(package, state.numpy(), "host", (V, S))
    hosted = host.sum(1)                                              # agents per RSU
    np.testing.assert_array_equal(result.info["violations_c22b"].numpy(), (hosted > 1).sum(1))
    weight = package.CONSTRAINTS["c22b"][0]
    np.testing.assert_allclose(result.penalty.numpy(), weight * np.clip(hosted - 1, 0, None).sum(1), rtol=1e-9)
