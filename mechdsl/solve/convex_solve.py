"""Solving a convex CVXPY problem, with the fallbacks that make an exact reference robust.

CLARABEL (interior point) first. CVXPY warm-starts it from the previous solve of the same
parametrised problem (`mechdsl.solve.parametric`, one compiled problem for every state), and a
warm start can make it fail where a cold one succeeds: on `specs/two_period.mech` at K = 5,
3 of 1000 held-out states failed after the states before them and solve from a cold start
(419.282, 1051.905, 1429.491). So a failure is retried cold, then with SCS at SCS_ACCURACY.
"""

from __future__ import annotations

import cvxpy as cp

from mechdsl.tolerances import SCS_ACCURACY

ATTEMPTS = (
    {"solver": cp.CLARABEL},
    {"solver": cp.CLARABEL, "warm_start": False},
    {"solver": cp.SCS, "eps": SCS_ACCURACY, "max_iters": 200000},
)
"""The solver settings tried in turn, each only where the one before raised `SolverError`."""


def solve_convex(problem: cp.Problem) -> None:
    """Solve `problem` in place with the first of ATTEMPTS that does not raise `SolverError`;
    the last attempt's `SolverError` (or NaN/Inf data's ValueError) propagates. The caller
    reads `problem.status` and the variables' values."""
    for attempt in ATTEMPTS[:-1]:
        try:
            problem.solve(**attempt)
            return
        except cp.error.SolverError:
            continue
    problem.solve(**ATTEMPTS[-1])


__all__ = ["ATTEMPTS", "solve_convex"]
