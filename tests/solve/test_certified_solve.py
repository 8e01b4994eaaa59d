"""`solve` never returns a contract whose certificate fails (issue 29, "certify before claiming").

Laffont-Tirole regulation with COST types (a higher beta is a less efficient firm) and C in
[0, 3]: du/dbeta = C - beta changes sign on the declared ranges (the effort beta - C may be
negative), so `derive` cannot decide which type's IR binds and refuses; `solve` solves the reduced
problem of each orientation, a relaxation of the original, and keeps the one whose certificate
passes, which must be the textbook optimum derived in the test (with C <= min beta the reduction
decides the orientation itself: tests/solve/test_textbook_corpus.py).
Before the orientation step, the reduction assumed the lowest type's IR binds and its optimum
violated the highest type's IR by 0.625 while `solve` exited 0; the certificate must catch such
a wrong assumption (simulated below by forcing the old orientation).

    psi(e) = e^2 / 2, e = beta - C, weights q = (1/2, 1/2), shadow cost lam:
    efficient type: C0 minimises C0 + psi(1 - C0)  ->  C0 = 0 (the lower bound)
    inefficient type's IR binds: t1 = psi(beta1 - C1)
    efficient type's rent U0 = psi(beta1 - C1) - psi(beta0 - C1)
    C1 solves q1 (1 + lam) (1 - (beta1 - C1)) = q0 lam (beta1 - beta0)
"""

from __future__ import annotations

from pathlib import Path

import pytest

import mechdsl
import mechdsl.solve.exact as exact
from mechdsl.cli.main import main
from mechdsl.errors import ReferenceUnavailable

SPEC = Path(__file__).parent / "specs" / "laffont_tirole_cost_types.mech"


def textbook_optimum(S=10.0, lam=0.3, beta=(1.0, 1.5), q=(0.5, 0.5)) -> dict[str, float]:
    psi = lambda e: e * e / 2  # noqa: E731
    c0 = 0.0
    c1 = beta[1] - 1 + q[0] * lam * (beta[1] - beta[0]) / (q[1] * (1 + lam))
    rent = psi(beta[1] - c1) - psi(beta[0] - c1)
    t0, t1 = psi(beta[0] - c0) + rent, psi(beta[1] - c1)
    value = sum(qk * (S - (1 + lam) * (c + t) + t - psi(b - c)) for qk, c, t, b in zip(q, (c0, c1), (t0, t1), beta))
    return {"C[0]": c0, "C[1]": c1, "t[0]": t0, "t[1]": t1, "objective": value}


def test_cost_type_regulation_solves_to_the_textbook_optimum():
    model = mechdsl.load(SPEC)
    state = {"S": 10.0, "lam": 0.3, "beta[0]": 1.0, "beta[1]": 1.5, "q[0]": 0.5, "q[1]": 0.5}
    solution = exact.solve(model, state)
    expected = textbook_optimum()
    assert exact.certified(solution)
    assert solution.objective == pytest.approx(expected["objective"], rel=1e-6)
    for name in ("C[0]", "C[1]", "t[0]", "t[1]"):
        assert solution.contract[name] == pytest.approx(expected[name], abs=1e-5), name
    # the reduced problem with the highest type's IR is a relaxation: certified, so it is the optimum
    assert "orientation undecided" in solution.solver and "highest type's IR is a relaxation" in solution.solver


def test_solve_cli_reports_a_feasible_certificate(capsys):
    assert main(["solve", str(SPEC)]) == 0
    out = capsys.readouterr().out
    assert f"objective = {textbook_optimum()['objective']:.6g}" in out
    worst = float(out.split("worst slack ")[1].split()[0])
    assert worst >= -1e-6


def test_an_uncertifiable_solution_is_an_exit_2_error_naming_the_constraint(monkeypatch, capsys):
    """A reduction whose orientation is wrong (forced: utility said to rise with beta) yields a
    contract violating the highest type's IR; with no fallback, solve exits 2 naming it."""
    import mechdsl.reduce.screening as screening
    from mechdsl.reduce.single_crossing import TypeOrientation

    monkeypatch.setattr(screening, "check_type_orientation",
                        lambda model: TypeOrientation(True, "numeric", model.utility.expr, "forced by the test"))
    monkeypatch.setattr(exact, "_unreduced_local", lambda model, state, starts: None)
    with pytest.raises(ReferenceUnavailable, match=r"violates IR period 1: type 1 \(worst slack -0\.625\)"):
        exact.solve(mechdsl.load(SPEC), {"S": 10.0, "lam": 0.3, "beta[0]": 1.0, "beta[1]": 1.5,
                                          "q[0]": 0.5, "q[1]": 0.5})
    assert main(["solve", str(SPEC)]) == 2
    err = capsys.readouterr().err
    assert "no certified optimum for laffont_tirole" in err and "internal error" not in err


BROKEN = Path(__file__).parent / "specs" / "single_crossing_fails.mech"


def test_a_refused_reduction_is_positioned_and_solve_falls_back_to_the_unreduced_problem(capsys):
    """Single crossing fails (dMRS/dbeta changes sign): derive and compile refuse with exit 2 at the
    utility statement (file:line:col, caret, hint); solve solves the unreduced problem, says so,
    and its answer is certified."""
    for argv in (["derive", str(BROKEN)], ["compile", str(BROKEN), "-o", "/nonexistent-never-written"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{BROKEN}:19:1: error: cannot reduce this contract: single crossing fails" in err
        assert "^^^^" in err and "hint:" in err and "internal error" not in err
    assert main(["solve", str(BROKEN)]) == 0
    out = capsys.readouterr().out
    assert "unreduced; local optimum" in out and "the reduction was refused" in out
    assert float(out.split("worst slack ")[1].split()[0]) >= -1e-6


STATE = {"S": 10.0, "lam": 0.3, "beta[0]": 1.0, "beta[1]": 1.5, "q[0]": 0.5, "q[1]": 0.5}


def test_only_a_certified_relaxation_is_kept():
    """Orientation undecided: the relaxation with the lowest type's IR ends at a contract violating
    the highest type's IR (-0.625), so it is dropped; the one with the highest type's IR is certified."""
    from mechdsl.reduce import OrientationUndecided, derive

    model = mechdsl.load(SPEC)
    with pytest.raises(OrientationUndecided):
        derive(model)
    lowest = exact.solve_reduced(derive(model, orientation=True), STATE)
    assert not exact.certified(lowest) and lowest.certificate.worst == pytest.approx(-0.625, abs=1e-6)
    kept = exact._relaxation_solve(model, STATE)
    assert exact.certified(kept) and "highest type's IR is a relaxation" in kept.solver
    assert kept.objective == pytest.approx(textbook_optimum()["objective"], rel=1e-6)


def test_without_a_certified_relaxation_solve_falls_back_to_the_unreduced_problem(monkeypatch):
    monkeypatch.setattr(exact, "_relaxation_solve", lambda model, state: None)
    solution = exact.solve(mechdsl.load(SPEC), STATE)
    assert exact.certified(solution) and "unreduced" in solution.solver
    assert "the reduction was refused: type orientation: cannot decide" in solution.solver
    assert solution.objective == pytest.approx(textbook_optimum()["objective"], rel=1e-6)
