"""The generated environments against independent NumPy references: payments and reward vs
SymPy `lambdify` of the derivation's closed forms and the objective, violation vs
`mechdsl.solve.certificate.certify`, and the state sampler's invariants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp
import torch

from codegen_fixtures import derivation_of, model_of

from mechdsl.codegen.layout import monotonicity
from mechdsl.solve.certificate import certify
from mechdsl.solve.state import with_derived

N = 1000


def _states_and_actions(package, seed=0):
    env = package.Env(dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    state = env.reset(N, generator)
    action = 2 * torch.rand(N, env.action_dim, generator=generator, dtype=torch.float64) - 1
    return env, state, action


def _numpy_values(model, package, state):
    values = {name: np.full(len(state), value) for name, value in package.env.CONSTANTS.items()}
    values.update({name: state[:, k].numpy() for k, name in enumerate(package.STATE_LAYOUT)})
    return with_derived(model, values)


def _lambdify(expr):
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    return symbols, sp.lambdify(symbols, expr, modules=[{"Max": np.maximum, "Min": np.minimum}, "numpy"])


def _close(actual, expected, rel=1e-6):
    scale = np.maximum(1.0, np.abs(expected))
    assert np.all(np.abs(actual - expected) <= rel * scale), float(np.max(np.abs(actual - expected) / scale))


def _least_actions(package, action):
    """The same allocations with every payment slack at d = 0 (the least payments)."""
    least = action.clone()
    least[:, package.env.ALLOCATION_DIM:] = -1.0
    return least


def test_payments_and_reward_match_lambdify(bundled):
    """With every slack at 0 and no repair, payments are the derivation's closed forms."""
    name, model, derivation, package = bundled
    env, state, action = _states_and_actions(package)
    action = _least_actions(package, action)
    result = package.env.evaluate(state, action, repair=False)
    values = _numpy_values(model, package, state)
    for symbol in derivation.allocation_symbols:
        values[symbol.name] = result.info[symbol.name].numpy()
    rules = derivation.rules
    assert len(rules) == len([s for v in model.variables.values() if v.kind == "payment" for s in v.symbols()])
    residual_bounds = {c.bound[:2] for c in derivation.residual if c.family == "bound"}
    lower = {s: v.lower for v in model.variables.values() if v.kind == "payment" for s in v.symbols()}
    for symbol, expr in rules.items():  # in order, each on the payments computed before it
        symbols, function = _lambdify(expr)
        expected = np.broadcast_to(function(*(values[s.name] for s in symbols)), (N,))
        if (symbol, "lower") in residual_bounds:  # a bound the rule does not imply is in the floor
            expected = np.maximum(expected, lower[symbol])
        _close(result.info[symbol.name].numpy(), expected)
        values[symbol.name] = expected
    symbols, function = _lambdify(model.objective.expr)
    expected = np.broadcast_to(function(*(values[s.name] for s in symbols)), (N,))
    _close(result.reward.numpy(), expected if model.objective.sense == "maximize" else -expected)
    penalty = float(model.train.get("action_penalty", 0.0)) * (action.numpy() ** 2).sum(1)
    _close(result.penalty.numpy(), penalty)


def test_slack_payments_follow_their_ranges(bundled):
    """Random slacks: every payment is floor + d (ceiling - floor), or floor + scale d^2 / (1 - d^2), with
    floor and ceiling of `derivation.payment_ranges` evaluated by lambdify at the env's own
    other items; payments without slack sit at their floor."""
    name, model, derivation, package = bundled
    env, state, action = _states_and_actions(package, seed=5)
    result = package.env.evaluate(state, action, repair=False)
    values = _numpy_values(model, package, state)
    for symbol in model.decision_symbols():
        values[symbol.name] = result.info[symbol.name].numpy()
    slack_names = [n[len("slack "):] for n in package.ACTION_LAYOUT[package.env.ALLOCATION_DIM:]]
    assert slack_names == [str(y) for y, r in derivation.payment_ranges.items() if r.slack]
    d = np.clip(action.numpy()[:, package.env.ALLOCATION_DIM:], 0, 1)  # d = max(a, 0)

    def at(expr):
        symbols, function = _lambdify(expr)
        return np.broadcast_to(function(*(values[s.name] for s in symbols)), (N,))

    for symbol, r in derivation.payment_ranges.items():
        floor = at(r.floor)
        if not r.slack:
            expected = floor
        elif r.ceiling is not None:
            expected = floor + d[:, slack_names.index(str(symbol))] * np.maximum(at(r.ceiling) - floor, 0)
        else:
            square = np.minimum(d[:, slack_names.index(str(symbol))], package.env.SLACK_D_MAX) ** 2
            expected = floor + at(r.scale) * square / (1 - square)
        _close(result.info[symbol.name].numpy(), expected)


def test_violation_matches_certificate_on_env_contracts(bundled):
    name, model, derivation, package = bundled
    env, state, action = _states_and_actions(package, seed=1)
    result = package.env.evaluate(state, action, repair=False)
    contract = {n: result.info[n].numpy() for n in package.env.CONTRACT_LAYOUT}
    expected = certify(model, _numpy_values(model, package, state), contract).violation()
    _close(result.violation.numpy(), expected)


def arbitrary_contracts(model, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Every decision uniform on [lower - 1, upper + 1] (upper 30 when undeclared), float64."""
    contract = {}
    for variable in model.variables.values():
        upper = variable.upper if variable.upper is not None else 30.0
        for symbol in variable.symbols():
            contract[symbol.name] = (variable.lower - 1.0 + (upper - variable.lower + 2.0)
                                     * torch.rand(n, generator=generator, dtype=torch.float64))
    return contract


def test_violation_matches_certificate_on_arbitrary_contracts(bundled):
    """Random allocations AND payments (most infeasible) exercise every slack."""
    name, model, derivation, package = bundled
    generator = torch.Generator().manual_seed(2)
    state = package.sample_states(N, generator, dtype=torch.float64)
    contract = arbitrary_contracts(model, N, generator)
    objective, violation, _ = package.score(state, contract)
    certificate = certify(model, _numpy_values(model, package, state), {k: v.numpy() for k, v in contract.items()})
    assert certificate.violation().max() > 0
    _close(violation.numpy(), certificate.violation())


def test_monotone_chains_hold_by_construction(bundled):
    name, model, derivation, package = bundled
    env, state, action = _states_and_actions(package, seed=3)
    info = env.step(action).info
    for inequality in monotonicity(derivation):  # derived and declared (`constraint monotone T1`)
        symbols = sorted(inequality.g.free_symbols, key=lambda s: s.name)
        _, function = _lambdify(inequality.g)
        assert np.all(function(*(info[s.name].numpy() for s in symbols)) >= -1e-12), inequality.name


def test_declared_monotonicity_becomes_a_chain():
    from mechdsl.codegen.layout import build_layout

    model = model_of("two_period")
    chains = [[str(s) for s in chain.symbols] for chain in build_layout(model, derivation_of("two_period")).chains]
    assert ["T1[0]", "T1[1]"] in chains and ["T2[0, 0]", "T2[0, 1]"] in chains and len(chains) == 3


def test_evaluate_is_pure_and_differentiable(bundled):
    name, model, derivation, package = bundled
    env, state, action = _states_and_actions(package, seed=4)
    action = (0.9 * action).requires_grad_(True)
    first = env.evaluate(state, action)
    (first.reward - first.penalty).sum().backward()
    assert action.grad is not None and torch.isfinite(action.grad).all() and action.grad.abs().sum() > 0
    again = env.evaluate(state, action.detach())
    assert torch.equal(first.reward.detach(), again.reward)


def test_state_sampling(bundled):
    name, model, derivation, package = bundled
    layout = list(package.STATE_LAYOUT)
    first = package.sample_states(2000, torch.Generator().manual_seed(7), dtype=torch.float64)
    second = package.sample_states(2000, torch.Generator().manual_seed(7), dtype=torch.float64)
    assert torch.equal(first, second)
    other_seed = package.sample_states(2000, torch.Generator().manual_seed(8), dtype=torch.float64)
    fixed = all(t.values is not None for t in model.types.values()) and not model.randoms and all(
        p.values is not None for p in model.probs.values())
    assert torch.equal(first, other_seed) == fixed  # a spec without random entries has one state
    for types in model.types.values():
        columns = first[:, [layout.index(s.name) for s in types.symbols()]]
        assert torch.all(columns[:, 1:] >= columns[:, :-1])
        if types.values is not None:
            assert torch.equal(columns, torch.tensor(types.values, dtype=torch.float64).expand(len(first), -1))
            continue
        low = min(d.args[0] for d in types.distributions)
        high = max(d.args[1] for d in types.distributions)
        assert torch.all((columns >= low) & (columns <= high))
    for table in model.probs.values():
        columns = first[:, [layout.index(s.name) for s in table.symbols()]]
        rows = columns.reshape(len(first), -1, table.shape[-1])
        assert torch.all(rows >= 0)
        assert torch.allclose(rows.sum(-1), torch.ones(1, dtype=torch.float64), atol=1e-12)
    for param in model.randoms.values():
        column = first[:, layout.index(param.name)]
        low, high = param.distribution.args[:2]
        assert torch.all((column >= low) & (column <= high))
        # uniform draws: mean close to the midpoint (4 standard errors)
        assert abs(float(column.mean()) - (low + high) / 2) < 4 * (high - low) / np.sqrt(12 * 2000)


def test_satisfies_batched_env_protocol(bundled):
    from mechdsl.rl.env import BatchedEnv

    name, model, derivation, package = bundled
    env = package.Env()
    assert isinstance(env, BatchedEnv)
    state = env.reset(8)
    assert state.shape == (8, env.state_dim) and state.dtype == torch.float32
    assert env.state_low.shape == env.state_high.shape == (env.state_dim,)
    result = env.step(torch.zeros(8, env.action_dim))
    for field in (result.reward, result.penalty, result.violation):
        assert field.shape == (8,)
    assert torch.all(result.violation >= 0)


def test_optimum_of_a_package_compiled_with_overrides(tmp_path):
    """`--set K=3`: the package's exact optimum solves the K = 3 problem, not the spec's K = 2."""
    from mechdsl.codegen import compile_spec
    from mechdsl.lang import load_file
    from mechdsl.rl.runs import load_package, load_package_of, state_dicts
    from mechdsl.solve.exact import solve

    spec = Path(__file__).resolve().parents[2] / "specs" / "static_contract.mech"
    model = load_file(spec, {"K": 3})
    compile_spec(model, tmp_path / "k3", source=spec.read_text(encoding="utf-8"))
    env = load_package(tmp_path / "k3").Env(dtype=torch.float64)
    assert load_package_of(env).SIZES == {"K": 3}
    state = env.reset(2, torch.Generator().manual_seed(0))
    expected = [solve(model, named).objective for named in state_dicts(model, env, state)]
    assert np.allclose(env.optimum(state).numpy(), expected, rtol=1e-9)
