"""The generated contract envs' action map and its inverse `action_from_contract`: every
feasible contract is the image of an action (the exact optimum included), and specs whose
least payments are provably optimal keep an allocation-only action."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codegen_fixtures import ROOT, import_package

from mechdsl.codegen import compile_spec
from mechdsl.lang import load_file
from mechdsl.solve.exact import solve
from mechdsl.solve.state import with_derived


def _feasible_contracts(package, n, seed):
    """Contracts of random actions that the env's certificate passes (float64, no repair)."""
    generator = torch.Generator().manual_seed(seed)
    state = package.sample_states(n, generator, dtype=torch.float64)
    action = 2 * torch.rand(n, len(package.ACTION_LAYOUT), generator=generator, dtype=torch.float64) - 1
    result = package.env.evaluate(state, action, repair=False)
    feasible = result.violation == 0
    contract = {name: result.info[name][feasible] for name in package.env.CONTRACT_LAYOUT}
    return state[feasible], action[feasible], contract, result.reward[feasible]


def test_round_trip_action_contract_action(bundled):
    name, model, derivation, package = bundled
    state, action, contract, reward = _feasible_contracts(package, 2000, seed=21)
    if name == "static_declared":  # its declared `r[1] - r[0] == 3` fails on every random action
        assert len(state) == 0
        return
    assert len(state) > 100
    again = package.action_from_contract(state, contract)
    canonical = action.clone()  # a slack entry a <= 0 is the least payment, d = max(a, 0), and comes back as 0
    canonical[:, package.env.ALLOCATION_DIM:] = canonical[:, package.env.ALLOCATION_DIM:].clamp(min=0.0)
    inside = torch.ones_like(action, dtype=torch.bool)  # beyond the cap of an unbounded slack, d = 0.99
    inside[:, list(package.env.UNBOUNDED_SLACKS)] = action[:, list(package.env.UNBOUNDED_SLACKS)] < package.env.SLACK_D_MAX
    torch.testing.assert_close(again[inside], canonical[inside], rtol=0, atol=1e-7)
    back = package.env.evaluate(state, again, repair=False)
    torch.testing.assert_close(back.reward, reward, rtol=1e-9, atol=1e-9)
    assert bool((back.violation == 0).all())


def test_round_trip_of_feasible_contracts_the_map_did_not_build(bundled):
    """Feasible contracts from the repair's LP (payments at vertices of their feasible set, so
    on floors and ceilings): the round trip keeps the objective (1e-6) and feasibility. A
    payment without slack returns at its floor, which can only raise the objective."""
    name, model, derivation, package = bundled
    if model.ir_scope() == "lifetime":
        pytest.skip("with lifetime IR the map spans the normalised contracts (lowest later-period utility 0), "
                    "and the LP's vertices need not be normalised (mechdsl.reduce.payment_ranges)")
    generator = torch.Generator().manual_seed(22)
    state = package.sample_states(2000, generator, dtype=torch.float64)
    action = 2 * torch.rand(2000, len(package.ACTION_LAYOUT), generator=generator, dtype=torch.float64) - 1
    result = package.env.evaluate(state, action)
    rows = result.info["repaired"] == 1
    if not bool(rows.any()):
        pytest.skip(f"{name}: no proposal needed new payments")
    state = state[rows]
    contract = {n: result.info[n][rows] for n in package.env.CONTRACT_LAYOUT}
    action = package.action_from_contract(state, contract)
    # representable: no slack without ceiling at its cap (49 scales above the floor)
    within = (action[:, list(package.env.UNBOUNDED_SLACKS)] < 2 * package.env.SLACK_D_MAX - 1 - 1e-9).all(1)
    assert float(within.double().mean()) > 0.5
    again = package.env.evaluate(state[within], action[within], repair=False)
    deployed = result.reward[rows][within]
    assert bool((again.violation == 0).all())
    if package.env.SLACK_DIM == len(package.env.PAYMENT_COLUMNS):
        torch.testing.assert_close(again.reward, deployed, rtol=1e-6, atol=1e-9)
    else:
        assert bool((again.reward >= deployed - 1e-9 * deployed.abs()).all())


def _solved_contracts(model, package, state):
    contract = {name: [] for name in package.env.CONTRACT_LAYOUT}
    objectives = []
    for row in state.numpy():
        named = {name: np.array([value]) for name, value in package.env.CONSTANTS.items()}
        named.update({name: np.array([float(v)]) for name, v in zip(package.STATE_LAYOUT, row)})
        solution = solve(model, {k: float(v[0]) for k, v in with_derived(model, named).items()})
        for name in contract:
            contract[name].append(solution.contract[name])
        objectives.append(solution.objective)
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in contract.items()}, torch.tensor(objectives)


@pytest.mark.parametrize("K", [2, 3])
def test_the_exact_optimum_is_deployed_through_the_inverse_map(K, tmp_path):
    spec = ROOT / "specs" / "two_period.mech"
    model = load_file(spec, {"K": K})
    compile_spec(model, tmp_path / f"k{K}", source=spec.read_text(encoding="utf-8"))
    package = import_package(tmp_path / f"k{K}", f"mechdsl_action_map_k{K}")
    state = package.sample_states(4, torch.Generator().manual_seed(23), dtype=torch.float64)
    contract, optimum = _solved_contracts(model, package, state)
    result = package.env.evaluate(state, package.action_from_contract(state, contract))
    assert bool((result.violation == 0).all())
    torch.testing.assert_close(result.reward, optimum.double(), rtol=1e-6, atol=0)


def test_static_specs_keep_an_allocation_only_action():
    import importlib

    static = importlib.import_module("generated.static_contract")
    model = load_file(ROOT / "specs" / "static_contract.mech")
    allocations = [s for v in model.variables.values() if v.kind == "allocation" for s in v.symbols()]
    assert static.ACTION_LAYOUT == tuple(str(s) for s in allocations)
    assert static.env.ALLOCATION_DIM == len(static.ACTION_LAYOUT) and static.env.SLACK_DIM == 0
    dynamic = importlib.import_module("generated.two_period")
    assert dynamic.env.SLACK_DIM == 6 and dynamic.ACTION_LAYOUT[-1] == "slack R1[1]"
