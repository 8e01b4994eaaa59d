"""Held-out evaluation numbers against independent computations; the report files."""
from __future__ import annotations

import time

import pytest
import torch
from toy_env import ScreeningContractEnv

from mechdsl.rl import train
from mechdsl.rl.algorithms.base import Agent
from mechdsl.rl.evaluate import HELDOUT_SEED, evaluate_policy, heldout_states
from mechdsl.rl.report import contract_items, write_report


class _OracleAgent(Agent):
    """Plays the closed-form optimal contract (maps observations back to raw states)."""

    uses_replay = False

    def __init__(self, env: ScreeningContractEnv) -> None:
        self.env = env

    def act(self, obs, *, explore, generator):
        state = self.env.state_low + (obs + 1) / 2 * (self.env.state_high - self.env.state_low)
        return self.env.optimal_action(state)

    def update(self, batch, *, step, generator, env):
        return {}  # the oracle does not learn


def test_oracle_scores_ratio_one_and_no_violations():
    env = ScreeningContractEnv(dtype=torch.float64)
    ev = evaluate_policy(env, _OracleAgent(env), n_states=1000, timing_states=2000)
    state = heldout_states(env, 1000)
    assert ev.mean_optimum == pytest.approx(float(env.optimum(state).mean()), rel=1e-12)
    assert ev.optimality_ratio == pytest.approx(1.0, abs=1e-9)
    assert ev.violation_rate == 0.0 and ev.mean_violation == 0.0
    assert ev.actor_params is None and ev.inference_seconds > 0


def test_random_agent_numbers_match_a_direct_computation():
    env = ScreeningContractEnv()
    agent = train(env, "random", steps=1, eval_every=1, log="none").agent
    ev = evaluate_policy(env, agent, n_states=1000, timing_states=1000)
    state = heldout_states(env, 1000)
    gen = torch.Generator().manual_seed(HELDOUT_SEED + 1)
    action = torch.rand(1000, 2, generator=gen) * 2 - 1  # what RandomAgent draws with that generator
    direct = env.evaluate(state, action)
    assert ev.mean_utility == pytest.approx(float(direct.reward.mean()), rel=1e-6)
    assert ev.optimality_ratio == pytest.approx(float(direct.reward.mean() / env.optimum(state).mean()), rel=1e-6)
    assert ev.optimality_ratio == pytest.approx(0.707, abs=0.005)


def test_pruned_agent_sizes_and_solver_timing(tmp_path):
    env = ScreeningContractEnv()
    run = train(env, "edmsac", steps=12, seed=0, eval_every=12, log="none",
                hparams={"hidden": (64, 64), "batch_size": 64, "prune_rate": 0.5, "prune_every": 1, "prune_events": 5,
                         "updates_per_step": 2})  # sizes and timing, not learning: not the exact-reward default 16

    def solve_one(state: torch.Tensor) -> float:
        time.sleep(0.002)  # stands in for an exact solver call
        return float(env.optimum(state[None])[0])

    ev = evaluate_policy(env, run.agent, n_states=1000, timing_states=10_000, solve_one=solve_one, solver_states=5)
    assert ev.sparsity == 0.5
    assert (ev.actor_params, ev.actor_params_deployed) == (6_770, 2_370)
    assert ev.actor_flops == 6 * (2 * (21 * 64 + 64 * 64 + 64 * 2) + 130)
    assert ev.actor_flops_deployed == 6 * (2 * (21 * 32 + 32 * 32 + 32 * 2) + 66)
    assert ev.solver_states == 5
    assert ev.solver_seconds >= 0.002 * 10_000
    assert ev.solver_speedup == pytest.approx(ev.solver_seconds / ev.inference_seconds)
    assert ev.solver_mean_objective == pytest.approx(float(env.optimum(heldout_states(env, 5)).mean()), rel=1e-6)

    items = contract_items(env, run.agent)
    assert set(items) == {"T", "R", "utility"} and set(items["T"]) == {1, 2}
    assert items["T"][1] <= items["T"][2] + 1e-6  # monotone by construction
    rows = {"edmsac": run.rows, "random": train(env, "random", steps=12, eval_every=6, log="none").rows}
    report = write_report(tmp_path, rows, {"edmsac": ev}, optimum=float(env.optimum(heldout_states(env, 256, 0)).mean()),
                          comparisons={"pruning rate": {"0.0": 0.9, "0.5": 0.95}}, items=items)
    text = report.read_text()
    for png in ("test_utility.png", "optimality_ratio.png", "compare_pruning_rate.png", "contract_items.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in text
    assert "| edmsac |" in text and "6770" in text
