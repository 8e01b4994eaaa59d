"""`mechdsl.solve.convex_solve`: CLARABEL, CLARABEL from a cold start, then SCS, each only where
the one before raised; and the failure that made the cold retry necessary."""

from __future__ import annotations

import math
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest

from mechdsl.solve import convex_solve
from mechdsl.solve.convex_solve import ATTEMPTS, solve_convex

ROOT = Path(__file__).resolve().parents[2]


def small_problem() -> tuple[cp.Problem, cp.Variable]:
    x = cp.Variable(2)
    problem = cp.Problem(cp.Maximize(3 * x[0] + 2 * x[1]), [x >= 0, x[0] + x[1] <= 4, x[0] <= 3])
    return problem, x


def failing_until(monkeypatch, failures: int) -> list[dict]:
    """Make the first `failures` solves raise SolverError; return the settings each solve got."""
    seen: list[dict] = []
    real = cp.Problem.solve

    def solve(self, *args, **kwargs):
        seen.append(kwargs)
        if len(seen) <= failures:
            raise cp.error.SolverError("Solver 'CLARABEL' failed.")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cp.Problem, "solve", solve)
    return seen


@pytest.mark.parametrize("failures", [0, 1, 2])
def test_each_attempt_only_after_the_one_before_raised(monkeypatch, failures):
    problem, x = small_problem()
    seen = failing_until(monkeypatch, failures)
    solve_convex(problem)
    assert seen == list(ATTEMPTS[:failures + 1])
    assert problem.status == cp.OPTIMAL
    assert problem.value == pytest.approx(11.0, rel=1e-6) and np.allclose(x.value, [3.0, 1.0], atol=1e-5)


def test_the_last_attempts_error_propagates(monkeypatch):
    problem, _ = small_problem()
    failing_until(monkeypatch, len(ATTEMPTS))
    with pytest.raises(cp.error.SolverError):
        solve_convex(problem)


def test_the_second_attempt_is_clarabel_cold_and_the_last_scs():
    assert ATTEMPTS[0]["solver"] == ATTEMPTS[1]["solver"] == cp.CLARABEL
    assert ATTEMPTS[1]["warm_start"] is False and ATTEMPTS[-1]["solver"] == cp.SCS
    assert convex_solve.__all__ == ["ATTEMPTS", "solve_convex"]


@pytest.mark.slow
def test_two_period_k5_states_that_failed_warm_have_their_reference(tmp_path):
    """The held-out state 35 of two_period at K = 5 failed in CLARABEL after states 0-34 were
    solved with the same compiled problem (reference NaN); it solves cold to 419.282."""
    import torch

    from mechdsl.cli.main import main
    from mechdsl.rl.evaluate import heldout_states
    from mechdsl.rl.runs import load_package

    assert main(["compile", str(ROOT / "specs" / "two_period.mech"), "--set", "K=5", "--out", str(tmp_path / "k5")]) == 0
    env = load_package(tmp_path / "k5").Env()
    states = heldout_states(env, 1000)[:36]
    optima = env.optimum(states).double()
    assert bool(torch.isfinite(optima).all())
    assert math.isclose(float(optima[35]), 419.28213786394605, rel_tol=1e-5)
