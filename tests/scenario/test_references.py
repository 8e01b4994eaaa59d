"""The reference policies: the myopic per-slot optimum equals a brute force over every target
and MTD assignment (shares by L-BFGS on the env's own latency) on small instances, and the
greedy nearest-trusted-RSU heuristic is feasible through the map."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from mechdsl.lang import load_source
from mechdsl.rl.runs import load_package
from mechdsl.scenario.codegen import compile_scenario
from mechdsl.scenario.myopic import myopic_optimum, optimal_shares
from mechdsl.scenario.rollout import greedy_nearest_trusted, rollout

from conftest import SPEC

SMALL = {"V": 3, "S": 2, "L_max": 2}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    source = SPEC.read_text(encoding="utf-8")
    model = load_source(source, str(SPEC), SMALL)
    folder = tmp_path_factory.mktemp("small") / "pkg"
    compile_scenario(model, folder, source=source)
    return load_package(folder)


def small_states(package, count: int = 4) -> torch.Tensor:
    """Starts after a few random slots (replicas lost, reputations moved), some users
    distrusting an RSU, so moves are forced and the MTD trade-off matters."""
    env = package.Env(dtype=torch.float64)
    generator = torch.Generator().manual_seed(5)
    state = env.reset(count, generator)
    for _ in range(3):
        state = env.transition(state, torch.rand(count, env.action_dim, generator=generator,
                                                 dtype=torch.float64) * 2 - 1, generator)[1]
    state = state.clone()
    layout = package.STATE_LAYOUT
    state[0, layout.index("rep[0, 0]")] = state[0, layout.index("rep[0, 1]")] = 0.2   # user 0 trusts nothing
    state[1, layout.index("rep[1, 1]")] = 0.3
    state[2, [layout.index("attack[0]"), layout.index("attack[1]")]] = 1.0
    state[3, layout.index("copy[2]")] = 0.0
    return state


def brute_force_latency(package, state: torch.Tensor) -> float:
    """Every capacity-respecting target assignment with the most trusted placements, times
    every MTD assignment; each candidate's shares minimise the env's own latency (L-BFGS on
    all candidates at once: their sum is separable, and each is convex in the shares)."""
    V, S = package.ACTIONS["target"][1]
    layout, cap = package.STATE_LAYOUT, package.CHOICES["target"][0]
    host = np.array([[state[layout.index(f"host[{v}, {s}]")].item() for s in range(S)] for v in range(V)]).argmax(1)
    q = package.qualifying(state[None])["target"][0].numpy()
    combos = [t for t in itertools.product(range(S), repeat=V) if max(np.bincount(t, minlength=S)) <= cap]
    trusted = [sum(q[v, s] for v, s in enumerate(t)) for t in combos]
    candidates = [(t, mtd) for t, n in zip(combos, trusted) if n == max(trusted)
                  for mtd in itertools.product((0.0, 1.0), repeat=S)]
    n = len(candidates)
    fixed = torch.zeros(n, len(package.ACTION_LAYOUT), dtype=torch.float64)
    for k, (targets, mtd) in enumerate(candidates):
        for v, s in enumerate(targets):
            fixed[k, package.ACTION_LAYOUT.index(f"target[{v}, {s}]")] = 1.0
        for s in range(S):
            fixed[k, package.ACTION_LAYOUT.index(f"mtd[{s}]")] = mtd[s]
    columns = torch.tensor([package.ACTION_LAYOUT.index(f"alpha[{host[v]}, {v}]") for v in range(V)])
    states = state[None].expand(n, -1)
    same_host = torch.tensor(host[:, None] == host[None, :])

    def latencies(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Shares = softmax of free logits over each RSU's agents (every interior split)."""
        weights = torch.exp(logits - logits.amax(1, keepdim=True))
        decided = fixed[rows].clone()
        decided[:, columns] = weights / (weights[:, None, :] * same_host).sum(2)
        return -package.score(states[rows], decided).reward

    def minimise(start: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        logits = start.clone().requires_grad_(True)
        optimiser = torch.optim.LBFGS([logits], lr=1, max_iter=3000, tolerance_grad=1e-14, tolerance_change=1e-18,
                                      history_size=50, line_search_fn="strong_wolfe")

        def closure():
            optimiser.zero_grad()
            total = latencies(logits, rows).sum()
            total.backward()
            return total

        for _ in range(3):                                   # restarts: the kink of max(T^pro, T^mig) stalls L-BFGS
            optimiser.step(closure)
        return latencies(logits.detach(), rows)

    coarse = minimise(torch.zeros(n, V, dtype=torch.float64), torch.arange(n))
    best = torch.argsort(coarse)[:4]                          # then each of the best few on its own
    return float(min(minimise(torch.zeros(1, V, dtype=torch.float64), best[k:k + 1]).item() for k in range(len(best))))


def test_the_myopic_optimum_matches_brute_force_on_small_instances(small):
    state = small_states(small)
    policy = myopic_optimum(small)
    decided = policy(state)
    result = small.score(state, decided)
    assert np.allclose(-result.reward.numpy(), policy.last_latency)
    for b in range(len(state)):
        np.testing.assert_allclose(policy.last_latency[b], brute_force_latency(small, state[b]), rtol=1e-6)
    assert (small.Env(dtype=torch.float64).transition_decided(state, decided)[0].violation < 1e-9).all()


def test_the_share_solution_meets_its_optimality_conditions():
    """KKT of step 1: every member with a share below its kink has -h'(alpha) = lambda, equal
    across the group; the shares use the whole RSU."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 5, (200, 6)), rng.uniform(0.1, 5, (200, 6))
    m = np.where(rng.random((200, 6)) < 0.5, rng.uniform(0.5, 20, (200, 6)), 0.0)
    member = rng.random((200, 6)) < 0.7
    member[:, 0] = True
    alpha, cost = optimal_shares(a, b, m, member)
    with np.errstate(divide="ignore"):
        below = member & (alpha < np.where(m > 0, b / np.where(m > 0, m, 1), np.inf) * (1 - 1e-9))
    slope = (a + b) / alpha ** 2
    for n in range(200):
        if below[n].sum() >= 2 and np.isclose(alpha[n].sum(), 1.0):
            np.testing.assert_allclose(slope[n][below[n]], slope[n][below[n]][0], rtol=1e-8)
    assert (alpha[member] > 0).all() and (alpha.sum(1) <= 1 + 1e-12).all()
    np.testing.assert_allclose(cost, np.where(member, a / np.where(member, alpha, 1) + np.maximum(
        b / np.where(member, alpha, 1), m), 0).sum(1))


def test_the_greedy_heuristic_is_feasible_through_the_map(package, env64):
    episodes = rollout(env64, greedy_nearest_trusted(package), 16, seed=3)
    assert episodes.violation_rate == 0
    assert episodes.violations["c22c"].sum() == 0
    assert (episodes.violations["c22d"] <= episodes.unavoidable["c22d"]).all()
