"""The reduced problem's optimum equals the unreduced CVXPY optimum; certificates hold."""

import numpy as np
import pytest

import mechdsl
from mechdsl.constraints import declared_constraints
from mechdsl.reduce import derive
from mechdsl.solve.exact import solve, solve_reduced, solve_unreduced
from mechdsl.solve.state import sample_states, state_at


@pytest.mark.parametrize("K", [2, 3, 5])
def test_reduced_equals_unreduced_two_period(K):
    model = mechdsl.load("specs/two_period.mech", {"K": K})
    derivation = derive(model)
    states = sample_states(model, 20, np.random.default_rng(100 + K))
    for n in range(20):
        state = state_at(states, n)
        # the unreduced problem, compiled once (test_parametric checks it against solve_unreduced)
        full = solve(model, state)
        reduced = solve_reduced(derivation, state)
        assert "unreduced" in full.solver
        assert abs(reduced.objective - full.objective) <= 1e-4 * abs(full.objective)
        assert full.certificate.worst >= -1e-6
        assert reduced.certificate.worst >= -1e-6
        if K == 2 and n < 5:  # the per-state (uncompiled) reduced problem agrees too
            direct = solve_reduced(derivation, state, compiled=False)
            assert "compiled" not in direct.solver
            assert abs(direct.objective - full.objective) <= 1e-4 * abs(full.objective)


def test_static_contract_exact_optimum_certified():
    model = mechdsl.load("specs/static_contract.mech")
    derivation = derive(model)
    states = sample_states(model, 10, np.random.default_rng(3))
    for n in range(10):
        state = state_at(states, n)
        full, reduced = solve_unreduced(model, state), solve_reduced(derivation, state)
        assert abs(reduced.objective - full.objective) <= 1e-4 * abs(full.objective)
        assert full.certificate.worst >= -1e-6


@pytest.mark.parametrize("path", ["examples/concave_payment.mech", "examples/three_period.mech"])
def test_examples_solve_and_certify(path):
    model = mechdsl.load(path)
    derivation = derive(model)
    state = state_at(sample_states(model, 1, np.random.default_rng(0)), 0)
    assert solve_unreduced(model, state) is None  # not DCP: falls back to the reduced problem
    solution = solve(model, state, derivation)
    assert "scipy" in solution.solver
    assert solution.certificate.worst >= -1e-6
    # the optimum beats the least-payment contract at the midpoint allocations
    assert np.isfinite(solution.objective)


def test_declared_plain_and_monotone_constraints_are_enforced():
    source = open("specs/static_contract.mech").read().replace(
        "constraint ic ", "constraint ic\nconstraint s[k] >= 400 for k in K\nconstraint monotone r\n", 1)
    assert "s[k] >= 400" in source
    from mechdsl.lang import load_source

    model = load_source(source, "<declared>")
    state = state_at(sample_states(model, 1, np.random.default_rng(5)), 0)
    solution = solve(model, state)
    s = solution.arrays(model)["s"]
    assert min(s) >= 400 - 1e-6
    assert solution.certificate.worst >= -1e-6
    names = [c.name for c in declared_constraints(model)]
    line = source.splitlines().index("constraint s[k] >= 400 for k in K") + 1
    assert names == [f"line {line}: s[k] >= 400 for k in K [0]", f"line {line}: s[k] >= 400 for k in K [1]",
                     "monotone: r[1] >= r[0]"]


def test_solve_derives_a_non_dcp_model_once_and_keeps_it_past_other_programs(monkeypatch):
    import mechdsl.reduce
    from mechdsl.solve import exact

    model = mechdsl.load("examples/concave_payment.mech")
    calls = []
    monkeypatch.setattr(mechdsl.reduce, "derive", lambda m: calls.append(m) or derive(m))
    states = sample_states(model, 2, np.random.default_rng(1))
    first = solve(model, state_at(states, 0))
    for k in range(8):  # other programs fill their own caches, not the derivations'
        exact._ORACLES.get(("other", k), object(), lambda: None)
    second = solve(model, state_at(states, 1))
    assert len(calls) == 1 and calls[0] is model
    assert np.isfinite(first.objective) and np.isfinite(second.objective)
