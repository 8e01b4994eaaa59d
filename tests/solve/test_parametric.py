"""The compiled (DPP) oracle equals the per-state unreduced solve."""

import numpy as np
import pytest

import mechdsl
from mechdsl.solve.exact import solve, solve_unreduced
from mechdsl.solve.parametric import oracle
from mechdsl.solve.state import sample_states, state_at


@pytest.mark.parametrize("path,K", [("specs/two_period.mech", 2), ("specs/two_period.mech", 3),
                                    ("specs/static_contract.mech", 3)])
def test_compiled_oracle_matches_unreduced(path, K):
    model = mechdsl.load(path, {"K": K})
    compiled = oracle(model)
    assert compiled is not None
    states = sample_states(model, 8, np.random.default_rng(11))
    values = compiled.optimum(states)
    for n in range(8):
        reference = solve_unreduced(model, state_at(states, n)).objective
        assert abs(values[n] - reference) <= 1e-5 * abs(reference)


def test_solve_uses_compiled_oracle_and_certifies():
    model = mechdsl.load("specs/two_period.mech")
    state = state_at(sample_states(model, 1, np.random.default_rng(0)), 0)
    solution = solve(model, state)
    assert "compiled" in solution.solver
    assert solution.certificate.worst >= -1e-6


def test_non_dcp_model_has_no_compiled_oracle():
    assert oracle(mechdsl.load("examples/concave_payment.mech")) is None
