"""Objectives that are not finite numbers, found by the mutant fuzz (issue 34).

`specs/static_contract.mech` mutated so that its satisfaction g(s) is s^(-beta) (infinite at
the allowed s = 0: the maximisation is unbounded) or divides by 0.5 - beta with beta = 0.5
(every coefficient is complex infinity), and with beta = 1e12 (exponent 1 - 1e12, on which
CVXPY's rational approximation of a power divides by zero). `solve` used to end in exit 3
(`TypeError: Cannot convert complex to float`, `ZeroDivisionError`) or print `objective = nan`
with exit 0; now the first two are a user error naming the state, the third solves.
"""

from __future__ import annotations

import math
from pathlib import Path

import cvxpy as cp
import pytest
import sympy as sp

from mechdsl.cli.main import main
from mechdsl.solve.to_cvxpy import NotConvexible, power, real_number

ROOT = Path(__file__).resolve().parents[2]

SATISFACTION = "let g(x) = x^(1 - fairness) / (1 - fairness)"


def _mutant(tmp_path, old: str, new: str):
    text = (ROOT / "specs" / "static_contract.mech").read_text(encoding="utf-8")
    assert text.count(old) == 1
    spec = tmp_path / "mutant.mech"
    spec.write_text(text.replace(old, new), encoding="utf-8")
    return spec


@pytest.mark.parametrize("satisfaction", [
    "let g(x) = x^(0 - fairness) / (1 - fairness)",    # s^(-1/2): unbounded as s -> 0
    "let g(x) = x^(1 - fairness) / (0.5 - fairness)",  # a division by zero at fairness = 0.5
])
def test_an_objective_that_is_not_finite_is_a_user_error(satisfaction, tmp_path, capsys):
    spec = _mutant(tmp_path, SATISFACTION, satisfaction)
    code = main(["solve", str(spec)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "objective is not a finite real number at the contract" in captured.err
    assert "internal error" not in captured.err and "nan" not in captured.out


def test_an_extreme_exponent_solves(tmp_path, capsys):
    spec = _mutant(tmp_path, "param fairness = 0.5 in", "param fairness = 1000000000000 in")
    code = main(["solve", str(spec)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    objective = float(captured.out.split("objective = ")[1].split()[0])
    assert math.isfinite(objective)


@pytest.mark.parametrize("number", [sp.zoo, sp.nan, sp.oo, sp.I, sp.sqrt(-2)])
def test_a_constant_that_is_not_a_finite_real_has_no_convex_translation(number):
    with pytest.raises(NotConvexible):
        real_number(number)


def test_an_exponent_cvxpy_cannot_approximate_has_no_convex_translation():
    assert real_number(sp.Rational(1, 2)) == 0.5
    with pytest.raises(NotConvexible):
        power(cp.Variable(nonneg=True), 1 - 1e12)


@pytest.mark.parametrize(("route", "cost"), [("compiled", float("nan")), ("compiled", 1e308), ("per state", 1e308)])
def test_numbers_that_break_the_solver_are_a_user_error(route, cost):
    """Coefficients the solver cannot take (NaN; 1e308, which a spec could give before its limit of 1e12)
    ended in `ValueError: Problem data contains NaN or Inf`, `ScsWork allocation error` or a
    `RuntimeError` on the solver's status: exit 3. Now `ReferenceUnavailable`, naming the state."""
    import numpy as np

    import mechdsl
    from mechdsl.errors import ReferenceUnavailable
    from mechdsl.solve.exact import solve_unreduced
    from mechdsl.solve.parametric import ParametricOracle
    from mechdsl.solve.state import sample_states, state_at

    model = mechdsl.load(str(ROOT / "specs" / "static_contract.mech"))
    state = state_at(sample_states(model, 1, np.random.default_rng(0)), 0)
    state["c"] = cost
    with pytest.raises(ReferenceUnavailable, match="at this state") as raised:
        if route == "compiled":
            ParametricOracle(model).solve_state(state)
        else:
            solve_unreduced(model, state)
    assert "c" in raised.value.state
