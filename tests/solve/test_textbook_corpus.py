"""Textbook models written as the textbooks write them, each against an independent reference
computed in the test (issue 29's corpus; Laffont-Tirole is in test_certified_solve.py).

Stiglitz (1977) monopoly insurance with log utility: type = probability of loss p, coverage x,
premium y paid by the insuree, u = (1 - p) log(W - y) + p log(W - L + x - y) minus the
uninsured utility. SymPy cannot invert u for the premium in closed form, so the reduction is
refused and `solve` solves the unreduced problem. Reference: the high risk is fully insured
(x = L) with its IC binding, the low risk's IR binds; a one-dimensional search over the low
risk's coverage with both premiums by root finding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

import mechdsl
from mechdsl.solve.exact import certified, solve

INSURANCE = Path(__file__).parent / "specs" / "insurance_log_utility.mech"


def insurance_reference(W=10.0, L=5.0, p=(0.2, 0.4), q=(0.5, 0.5)) -> float:
    def u(pk, x, y):
        return (1 - pk) * np.log(W - y) + pk * np.log(W - L + x - y) - (1 - pk) * np.log(W) - pk * np.log(W - L)

    def value(x0: float) -> float:
        y0 = brentq(lambda y: u(p[0], x0, y), -W, W - L + x0 - 1e-12)   # low risk's IR binds
        rent = max(u(p[1], x0, y0), 0.0)                                 # high risk's IC (and IR)
        y1 = brentq(lambda y: u(p[1], L, y) - rent, -W, W - 1e-12)
        return q[0] * (y0 - p[0] * x0) + q[1] * (y1 - p[1] * L)

    grid = np.linspace(0.0, L, 201)
    best = grid[int(np.argmax([value(x) for x in grid]))]
    fine = minimize_scalar(lambda x: -value(x), bounds=(max(0.0, best - L / 200), min(L, best + L / 200)),
                           method="bounded", options={"xatol": 1e-10})
    return max(value(best), -fine.fun)


def test_log_utility_insurance_solves_to_the_textbook_optimum():
    model = mechdsl.load(INSURANCE)
    state = {"W": 10.0, "L": 5.0, "p[0]": 0.2, "p[1]": 0.4, "q[0]": 0.5, "q[1]": 0.5}
    solution = solve(model, state)
    assert certified(solution)
    assert "the reduction was refused" in solution.solver
    assert solution.objective == pytest.approx(insurance_reference(), rel=1e-6)
    assert solution.contract["x[1]"] == pytest.approx(5.0, abs=1e-6)  # full insurance at the top
