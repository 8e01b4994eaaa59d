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


def test_state_values_fill_a_few_signed_vector_parameters():
    """Each state-only subexpression is an entry of a signed vector parameter (BLOCK entries per
    block), so a state sets a few values, each validated once, not one per subexpression (at
    K = 5: 214 of them, whose one-by-one validation was half of a solve); a value of the wrong
    sign is still refused as a user error naming the state."""
    import cvxpy as cp

    from mechdsl.errors import ReferenceUnavailable
    from mechdsl.solve.parametric import BLOCK

    model = mechdsl.load("specs/two_period.mech", {"K": 5})
    compiled = oracle(model)
    parameters = compiled.problem.parameters()
    entries = len(compiled._slot_blocks)
    assert entries > 200 and all(p.size == BLOCK for p in parameters)
    assert len(parameters) <= entries // BLOCK + 3                  # at most one part-filled block per sign
    assert any(p.is_nonneg() for p in parameters) and all(isinstance(p, cp.Parameter) for p in parameters)
    state = state_at(sample_states(model, 1, np.random.default_rng(0)), 0)
    assert compiled.solve_state(state)[0] == pytest.approx(solve_unreduced(model, state).objective, rel=1e-5)
    state["p1[0]"] = -0.5  # a probability below 0: the nonnegative entries p1[0] N alpha, ... turn negative
    with pytest.raises(ReferenceUnavailable, match="at this state"):
        compiled.solve_state(state)
