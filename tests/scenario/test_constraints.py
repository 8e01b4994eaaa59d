"""(22b) is penalised (w times the excess, in the learning reward) and counted; (22c) and (22d)
are hard: the choice `target` keeps them by construction (capacity L_max, mask rep >= B_thre),
decisions handed in directly that break them are counted and reported as avoidable violations,
and only the rows no capacity-respecting decision can place on a trusted RSU are excused."""

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


def decided_targets(package, state, target: np.ndarray) -> torch.Tensor:
    """Decisions (not raw actions) sending vehicle v to RSU target[b, v], equal shares, no MTD."""
    batch = len(target)
    one_hot = np.zeros((batch, V, S))
    np.put_along_axis(one_hot, target[:, :, None], 1.0, 2)
    host = columns(package, state.numpy(), "host", (V, S))
    alpha = host.transpose(0, 2, 1) / np.maximum(host.sum(1)[:, :, None], 1)
    return torch.from_numpy(np.concatenate([one_hot.reshape(batch, -1), alpha.reshape(batch, -1),
                                            np.zeros((batch, S))], 1))


def test_the_map_keeps_22c_when_every_vehicle_asks_for_the_same_rsu(package, env64, trusted_state):
    everyone_to_0 = np.zeros((32, V), dtype=int)
    result = env64.evaluate(trusted_state, raw_actions(everyone_to_0))
    target = result.info["decisions"].numpy()[:, :V * S].reshape(-1, V, S)
    np.testing.assert_array_equal(target.sum(1)[:, 0], package.CONSTANTS["L_max"])   # RSU 0 is full, not over
    assert (target.sum(1) <= package.CONSTANTS["L_max"]).all() and (target.sum(2) == 1).all()
    np.testing.assert_array_equal(target[:, :3, 0], 1)           # ties in score: the lower vehicles first
    assert (result.info["violations_c22c"] == 0).all() and (result.violation < 1e-9).all()
    assert (result.penalty < 1e-9).all()                         # hard constraints cost nothing


def test_decisions_overloading_an_rsu_are_an_avoidable_violation_of_22c(package, env64, trusted_state):
    everyone_to_0 = np.zeros((32, V), dtype=int)
    result, _ = env64.transition_decided(trusted_state, decided_targets(package, trusted_state, everyone_to_0))
    assert (result.info["violations_c22c"] == 1).all()               # only RSU 0 is over L_max
    np.testing.assert_allclose(result.violation.numpy(), V - package.CONSTANTS["L_max"])
    assert package.CONSTRAINTS["c22c"][0] == 0 and package.HARD["c22c"] == ("target", "capacity")
    np.testing.assert_allclose(learning_reward(result).numpy(), (result.reward - result.penalty).numpy())


def test_the_map_never_sends_a_vehicle_to_a_distrusted_rsu(package, env64, trusted_state):
    state = trusted_state.clone()
    layout = package.STATE_LAYOUT
    for u in range(V):
        state[:, layout.index(f"rep[{u}, 1]")] = 0.2                 # every user distrusts RSU 1
    targets = spread_targets(32)
    result = env64.evaluate(state, raw_actions(targets))
    chosen = result.info["decisions"].numpy()[:, :V * S].reshape(-1, V, S)
    assert (chosen[:, :, 1] == 0).all()
    assert (result.info["violations_c22d"] == 0).all() and (result.info["fallback_target"] == 0).all()
    direct, _ = env64.transition_decided(state, decided_targets(package, state, targets))
    users_to_1 = (targets == 1).sum(1)
    np.testing.assert_array_equal(direct.info["violations_c22d"].numpy(), users_to_1)
    np.testing.assert_array_equal(direct.info["unavoidable_c22d"].numpy(), 0)
    np.testing.assert_allclose(direct.violation.numpy(), package.CONSTANTS["B_thre"] - 0.2, rtol=1e-12)


def test_only_rows_without_a_trusted_place_fall_back_and_they_are_excused(package, env64, trusted_state):
    """Users 0-3 trust only RSU 2 (room for L_max = 3 of them): one of the four cannot get a
    trusted RSU; it stays on its host (the fallback) and its (22d) violation is unavoidable."""
    state = trusted_state.clone()
    layout = package.STATE_LAYOUT
    for u in range(4):
        for s in (0, 1, 3):
            state[:, layout.index(f"rep[{u}, {s}]")] = 0.3
    action = torch.zeros(32, env64.action_dim, dtype=torch.float64)
    result = env64.evaluate(state, action)
    chosen = result.info["decisions"].numpy()[:, :V * S].reshape(-1, V, S)
    assert (chosen.sum(1) <= package.CONSTANTS["L_max"]).all()
    np.testing.assert_array_equal(chosen[:, :4, 2].sum(1), 3)
    np.testing.assert_array_equal(result.info["fallback_target"].numpy(), 1)
    np.testing.assert_array_equal(result.info["violations_c22d"].numpy(), 1)
    np.testing.assert_array_equal(result.info["unavoidable_c22d"].numpy(), 1)
    # equal scores: pairs in row order, so users 0-2 fill RSU 2 and user 3 is the one left out;
    # it takes its host if the host has room, else the lowest RSU with room (all scores tie)
    np.testing.assert_array_equal(chosen[:, :3, 2], 1)
    host = columns(package, state.numpy(), "host", (V, S)).argmax(2)
    others = chosen.sum(1) - chosen[:, 3]
    lowest_with_room = (others < package.CONSTANTS["L_max"]).argmax(1)
    has_room = others[np.arange(32), host[:, 3]] < package.CONSTANTS["L_max"]
    expected = np.where(has_room, host[:, 3], lowest_with_room)
    np.testing.assert_array_equal(chosen[:, 3].argmax(1), expected)
    assert has_room.any() and (~has_room).any()                       # both branches are exercised
    assert (result.violation < 1e-9).all()


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
