"""Held-out evaluation of a trained agent: utility, optimality, feasibility, size, speed.

optimality ratio = mean_S U(S, pi(S)) / mean_S U*(S)   (U* from ``env.optimum``), both means
                   over the states that have a reference: a state whose exact optimum could not
                   be found (NaN from ``env.optimum``) is counted in ``reference_failures`` and
                   left out of the ratio
feasible ratio   = the same with every deployed contract that violates a constraint counted as
                   worth 0 (``feasible_ratio``; equal to the ratio when nothing violates): a
                   ratio above 1 from infeasible contracts is not a result, and the CLI and the
                   report say so beside it
violation rate   = fraction of states whose worst constraint violation exceeds ``tol``
                   (of the deployed contract; with a feasibility repair, the policy's own
                   proposals are scored too: ``proposal_violation_rate``, ``repair_rate`` =
                   fraction of states the repair changed, ``pooled_rate`` = fraction shrunk
                   toward the pooled menu, ``mean_repair`` = mean 1 - lambda*, and what the
                   repair cost: ``repair_value_lost_mean`` / ``_worst`` = (proposal reward -
                   deployed reward) / |optimum| over the repaired states, negative where
                   the repair's payments are worth more than the infeasible proposal's)
mean violation   = mean violation over the violating states (0 if there are none)
The optional ``solve_one(state) -> float`` (a per-state exact solver supplied by the caller)
is timed on a subset and extrapolated to ``timing_states``; ``solver_speedup`` = solver time /
policy time for the same number of states.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from mechdsl.rl.algorithms.base import Agent
from mechdsl.rl.env import BatchedEnv, learning_reward, observation
from mechdsl.rl.pruning import inference_flops, parameter_count
from mechdsl.seeds import ACTION_SEED_OFFSET, HELDOUT_SEED, INFERENCE_TIMING_SEED, TIMING_SEED_OFFSET
from mechdsl.tolerances import RATIO_FLOOR, VIOLATION_TOLERANCE



@dataclass(frozen=True)
class Evaluation:
    n_states: int
    mean_utility: float
    mean_reward: float
    mean_optimum: float | None
    optimality_ratio: float | None
    violation_rate: float
    mean_violation: float
    actor_params: int | None           # dense (masked) actor
    actor_params_deployed: int | None  # compacted after pruning (= dense without pruning)
    actor_flops: int | None
    actor_flops_deployed: int | None
    sparsity: float | None
    timing_states: int
    inference_seconds: float           # agent.act on ``timing_states`` states (deployed actor)
    inference_seconds_dense: float | None
    solver_states: int | None
    solver_seconds: float | None       # extrapolated to ``timing_states``
    solver_speedup: float | None
    solver_mean_objective: float | None
    proposal_violation_rate: float | None = None  # before the env's feasibility repair (None: no repair)
    repair_rate: float | None = None
    mean_repair: float | None = None
    pooled_rate: float | None = None
    repair_value_lost_mean: float | None = None
    repair_value_lost_worst: float | None = None
    reference_failures: int = 0                   # held-out states without an exact reference (left out of the ratio)
    critic: str | None = None                     # "exact" (the env's own reward), "learned" (a Q network), None
    feasible_ratio: float | None = None           # the ratio with violating deployed contracts worth 0
    violation_weight: float | None = None         # the penalty weight the learner trained with (None: not known)
    payments: str | None = None                   # a contract env's payment mode ("action" / "optimal"), else None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _run_network(net: nn.Module, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    with torch.no_grad():
        return net.sample(obs, generator) if hasattr(net, "sample") else net(obs)


def _repair_value_lost(result, optimum: torch.Tensor | None) -> tuple[float, float] | None:
    """(mean, worst) of (proposal objective - deployed reward) / |optimum| over the states the
    repair changed; (0, 0) when it changed none; None without a repair record or optimum."""
    repaired, proposal = result.info.get("repaired"), result.info.get("proposal_reward")
    if repaired is None or proposal is None or optimum is None:
        return None
    rows = repaired > 0
    if not bool(rows.any()):
        return 0.0, 0.0
    lost = (proposal[rows] - result.reward[rows]) / optimum[rows].abs().clamp(min=RATIO_FLOOR)
    return float(lost.mean()), float(lost.max())


def referenced_ratio(reward: torch.Tensor, optimum: torch.Tensor | None) -> tuple[float | None, float | None, int]:
    """(optimality ratio, mean optimum, reference failures) over the states whose optimum is
    finite: ratio = mean_S U(S) / mean_S U*(S) on those S; None where no state has a reference
    or |mean U*| < RATIO_FLOOR."""
    if optimum is None:
        return None, None, 0
    referenced = torch.isfinite(optimum)
    failures = int((~referenced).sum())
    if not bool(referenced.any()):
        return None, None, failures
    mean_opt = float(optimum[referenced].mean())
    ratio = None if abs(mean_opt) < RATIO_FLOOR else float(reward[referenced].mean()) / mean_opt
    return ratio, mean_opt, failures


def heldout_states(env: BatchedEnv, n: int, seed: int = HELDOUT_SEED) -> torch.Tensor:
    return env.reset(n, torch.Generator(device=env.device).manual_seed(seed))


def _trained_violation_weight(agent) -> float | None:
    """The constraint-penalty weight the agent trained with; None where it is not known (an
    agent rebuilt for `mechdsl eval` holds the unresolved automatic default, a negative number)."""
    weight = getattr(getattr(agent, "hp", None), "violation_weight", None)
    return float(weight) if weight is not None and weight >= 0 else None


def evaluate_policy(env: BatchedEnv, agent: Agent, *, n_states: int = 1000, seed: int = HELDOUT_SEED,
                    timing_states: int = 10_000, solve_one: Callable[[torch.Tensor], float] | None = None,
                    solver_states: int = 20, tol: float = VIOLATION_TOLERANCE) -> Evaluation:
    """Evaluate ``agent`` (explore=False) on ``n_states`` held-out states drawn with ``seed``."""
    if n_states < 1:
        raise ValueError("n_states must be >= 1")
    state = heldout_states(env, n_states, seed)
    obs = observation(env, state)
    gen = torch.Generator(device=obs.device).manual_seed(seed + ACTION_SEED_OFFSET)
    result = env.evaluate(state, agent.act(obs, explore=False, generator=gen))
    utility = float(result.reward.mean())
    opt = env.optimum(state)
    ratio, mean_opt, reference_failures = referenced_ratio(result.reward, opt)
    violating = result.violation > tol
    feasible_ratio, _, _ = referenced_ratio(torch.where(violating, torch.zeros_like(result.reward), result.reward), opt)
    repair = result.info.get("repair")
    proposal = result.info.get("proposal_violation")
    repaired = result.info.get("repaired")
    lost = _repair_value_lost(result, opt)
    mean_violation = float(result.violation[violating].mean()) if bool(violating.any()) else 0.0

    dense, deployed = agent.actor, agent.deployable_actor()
    timing_obs = observation(env, heldout_states(env, timing_states, seed + TIMING_SEED_OFFSET))
    def fresh() -> torch.Generator:
        return torch.Generator(device=obs.device).manual_seed(INFERENCE_TIMING_SEED)

    inference = _timed(lambda: agent.act(timing_obs, explore=False, generator=fresh()))
    inference_dense = None
    if dense is not None:
        inference_dense = _timed(lambda: _run_network(dense, timing_obs, fresh()))

    solver_seconds = speedup = solver_mean = None
    n_solve = None
    if solve_one is not None:
        n_solve = min(solver_states, n_states)
        values: list[float] = []
        elapsed = _timed(lambda: values.extend(float(solve_one(state[i])) for i in range(n_solve)))
        solver_seconds = elapsed / n_solve * timing_states
        speedup = solver_seconds / inference if inference > 0 else None
        solved = [v for v in values if math.isfinite(v)]
        solver_mean = sum(solved) / len(solved) if solved else None

    return Evaluation(
        n_states=n_states, mean_utility=utility, mean_reward=float(learning_reward(result).mean()),
        mean_optimum=mean_opt, optimality_ratio=ratio, violation_rate=float(violating.float().mean()),
        mean_violation=mean_violation,
        proposal_violation_rate=None if proposal is None else float((proposal > tol).float().mean()),
        repair_rate=None if repair is None else float(((repair > 0) if repaired is None else (repaired > 0)).float().mean()),
        pooled_rate=None if repaired is None else float((repaired == 2).float().mean()),
        repair_value_lost_mean=None if lost is None else lost[0], repair_value_lost_worst=None if lost is None else lost[1],
        mean_repair=None if repair is None else float(repair.mean()),
        actor_params=parameter_count(dense) if dense is not None else None,
        actor_params_deployed=parameter_count(deployed) if deployed is not None else None,
        actor_flops=inference_flops(dense) if dense is not None else None,
        actor_flops_deployed=inference_flops(deployed) if deployed is not None else None,
        sparsity=agent.pruning_sparsity(), timing_states=timing_states, inference_seconds=inference,
        inference_seconds_dense=inference_dense, solver_states=n_solve, solver_seconds=solver_seconds,
        solver_speedup=speedup, solver_mean_objective=solver_mean, reference_failures=reference_failures,
        critic=agent.critic_kind(), feasible_ratio=feasible_ratio,
        violation_weight=_trained_violation_weight(agent), payments=getattr(env, "payments", None))
