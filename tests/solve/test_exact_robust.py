"""Exact references of non-convex specs survive a failing local start (issue 33).

examples/concave_payment.mech is not DCP, so `solve` runs local solves of the reduced
problem. Its objective a * sqrt(T) has an infinite derivative at T = 0, where SciPy 1.17's
SLSQP stopped with "Inequality constraints incompatible" from the one start that was tried,
and `mechdsl train` died with an internal error. The optimum is checked here against an
independent global search written in the test (least payments by hand, differential
evolution over the monotone allocations)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import differential_evolution

import mechdsl
import mechdsl.solve.exact as exact
from mechdsl.errors import ReferenceUnavailable
from mechdsl.reduce import derive

SPEC = "examples/concave_payment.mech"
# The held-out state on which main failed with SciPy 1.17.1 (`mechdsl train ... --eval-states 4`).
FAILING_STATE = {"a": 4.0, "c": 1.3313677310943604, "theta[0]": 1.21193528175354, "theta[1]": 2.21592116355896,
                 "theta[2]": 3.3384666442871094, "q[0]": 0.0863080769777298, "q[1]": 0.28849637508392334,
                 "q[2]": 0.6251955628395081}


def _by_hand_value(T: np.ndarray, state: dict[str, float]) -> float:
    """Principal's value sum_k q_k (a sqrt(T_k) - R_k) with the least payments of u = theta log(1 + R) - c T:
    the lowest type's IR binds, log(1 + R_0) = c T_0 / theta_0, and each local downward IC binds,
    theta_k log(1 + R_k) - c T_k = theta_k log(1 + R_{k-1}) - c T_{k-1}; -inf unless T is monotone."""
    if np.any(np.diff(T) < 0):
        return -math.inf
    a, c = state["a"], state["c"]
    theta = [state[f"theta[{k}]"] for k in range(3)]
    q = [state[f"q[{k}]"] for k in range(3)]
    log_payment = c * T[0] / theta[0]
    value = q[0] * (a * math.sqrt(T[0]) - math.expm1(log_payment))
    for k in (1, 2):
        log_payment = log_payment + c * (T[k] - T[k - 1]) / theta[k]
        value += q[k] * (a * math.sqrt(T[k]) - math.expm1(log_payment))
    return value


def test_state_that_broke_main_is_solved_to_the_global_optimum():
    model = mechdsl.load(SPEC)
    solution = exact.solve(model, FAILING_STATE)
    assert "scipy" in solution.solver
    assert solution.certificate.worst >= -1e-6
    search = differential_evolution(lambda T: -_by_hand_value(np.sort(T), FAILING_STATE), [(0.0, 10.0)] * 3,
                                    seed=0, tol=1e-12, polish=True)
    assert solution.objective == pytest.approx(-search.fun, rel=1e-6)
    assert solution.objective == pytest.approx(3.4657400018528, rel=1e-9)


def test_local_solver_failing_everywhere_is_a_user_error_naming_the_state(monkeypatch):
    model = mechdsl.load(SPEC)
    derivation = derive(model)
    monkeypatch.setattr(exact, "_run_local", lambda problem, z0, method: None)
    with pytest.raises(ReferenceUnavailable) as caught:
        exact.solve(model, FAILING_STATE, derivation)
    assert "concave_payment" in str(caught.value)
    assert "c = 1.33137" in str(caught.value)
    assert caught.value.state == FAILING_STATE
    assert caught.value.hint


def test_second_method_runs_when_every_slsqp_start_fails(monkeypatch):
    model = mechdsl.load(SPEC)
    derivation = derive(model)
    real = exact._run_local
    methods = []

    def slsqp_broken(problem, z0, method):
        methods.append(method)
        return None if method == "SLSQP" else real(problem, z0, method)

    monkeypatch.setattr(exact, "_run_local", slsqp_broken)
    solution = exact.solve(model, FAILING_STATE, derivation)
    assert "trust-constr" in methods
    assert solution.certificate.worst >= -1e-6
    assert solution.objective == pytest.approx(3.4657400018528, rel=1e-5)


def test_infinite_gradient_entries_are_made_finite():
    values = exact._finite([np.inf, -np.inf, np.nan, 2.5])
    assert values.tolist() == [exact.SINGULAR_DERIVATIVE_CAP, -exact.SINGULAR_DERIVATIVE_CAP, 0.0, 2.5]
