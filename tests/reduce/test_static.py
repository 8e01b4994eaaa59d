"""The static contract: the standard screening result (Laffont-Martimort ch. 2)."""

import numpy as np
import pytest
import sympy as sp

import mechdsl
from mechdsl.reduce import ReductionRefused, derive
from mechdsl.lang import load_source


@pytest.mark.parametrize("K", [2, 3, 5])
def test_static_payments_standard_screening(K):
    model = mechdsl.load("specs/static_contract.mech", {"K": K})
    d = derive(model)
    rho, c, c0 = (sp.Symbol(n, real=True) for n in ("rho", "c", "c0"))
    psi = [sp.Symbol(f"psi[{k}]", real=True) for k in range(K)]
    s = [sp.Symbol(f"s[{k}]", real=True) for k in range(K)]
    # lowest type's IR binds: rho*psi_0*r_0 = c*s_0 + c0; local downward IC binds:
    # r_i = r_{i-1} + c*(s_i - s_{i-1})/(rho*psi_i)
    expected = (c * s[0] + c0) / (rho * psi[0])
    for k in range(K):
        if k:
            expected = expected + c * (s[k] - s[k - 1]) / (rho * psi[k])
        assert sp.simplify(d.payment("r", k) - expected) == 0
    assert len(d.monotone) == K - 1
    assert not [c for c in d.residual if c.family in ("ic", "iic")]


def test_concave_payment_example_inverts_log_utility():
    d = derive(mechdsl.load("examples/concave_payment.mech", {"K": 2}))
    c = sp.Symbol("c", real=True)
    th = [sp.Symbol(f"theta[{k}]", real=True) for k in range(2)]
    T = [sp.Symbol(f"T[{k}]", real=True) for k in range(2)]
    r0 = sp.exp(c * T[0] / th[0]) - 1
    r1 = (1 + r0) * sp.exp(c * (T[1] - T[0]) / th[1]) - 1
    assert sp.simplify(d.payment("R", 0) - r0) == 0
    assert sp.simplify(d.payment("R", 1) - r1) == 0


BASE = """
mechanism m
size K = 2
principal p
agent a count 1
types theta[k in K] ~ uniform(1 + k, 2 + k)
prob q[K] ~ dirichlet(1)
allocation x[K] in [0, 1]
payment y[K] >= 0
{utility}
period 1 {{ type theta prob q  menu x, y }}
maximize sum(k in K, q[k] * (x[k] - y[k]))
constraint ir
constraint ic
"""


def test_single_crossing_failure_is_reported():
    # MRS = (theta - 2)^2 falls below theta = 2 and rises above it: no one direction to screen in
    model = load_source(BASE.format(utility="utility a(theta, x, y) = y - (theta - 2)^2 * x"))
    with pytest.raises(ReductionRefused, match="single crossing fails"):
        derive(model)


def test_cost_types_reduce_from_the_highest_type():
    """Higher types need MORE payment per unit of allocation (MRS = theta rises) and their utility
    falls with the type: single crossing in the other direction, so allocations fall with the type,
    the highest type's IR binds and each lower type's upward IC (procurement, Laffont-Martimort 2.12)."""
    model = load_source(BASE.format(utility="utility a(theta, x, y) = y - theta * x"))
    d = derive(model)
    assert d.single_crossing.holds and d.single_crossing.direction == 1
    assert d.type_orientation.binding_ir == "highest" and d.screening_order == (1, 0)
    theta0, theta1 = (sp.Symbol(f"theta[{k}]", real=True) for k in range(2))
    x0, x1 = (sp.Symbol(f"x[{k}]", real=True) for k in range(2))
    assert sp.simplify(d.payment("y", 1) - theta1 * x1) == 0
    assert sp.simplify(d.payment("y", 0) - (theta0 * x0 + (theta1 - theta0) * x1)) == 0  # rent (theta1 - theta0) x1
    assert [sp.expand(c.g) for c in d.monotone] == [x0 - x1]  # x[0] >= x[1]


def test_single_crossing_holds_for_nonlinear_cost():
    model = load_source(BASE.format(utility="utility a(theta, x, y) = theta * y - exp(x) * (2 + theta) / theta"))
    d = derive(model)
    assert d.single_crossing.holds
