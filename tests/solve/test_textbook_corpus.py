"""Textbook models written as the textbooks write them, each against an independent reference
computed in the test (issue 29's corpus; Laffont-Tirole is in test_certified_solve.py).

Stiglitz (1977) monopoly insurance with log utility: type = probability of loss p, coverage x,
premium y paid by the insuree, u = (1 - p) log(W - y) + p log(W - L + x - y) minus the
uninsured utility. SymPy cannot invert u for the premium in closed form, but u falls strictly in
it, so the reduction keeps each premium as the numeric root of its binding constraint (issue 29,
item 5), and du/dp >= 0 wherever the low risk accepts (u >= 0, y >= 0) decides that its IR binds.
Reference: the high risk is fully insured (x = L) with its IC binding, the low risk's IR binds; a
one-dimensional search over the low risk's coverage with both premiums by root finding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

import mechdsl
import mechdsl.reduce
import mechdsl.solve.exact
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


INSURANCE_STATE = {"W": 10.0, "L": 5.0, "p[0]": 0.2, "p[1]": 0.4, "q[0]": 0.5, "q[1]": 0.5}


def log_utility(pk, x, y, W=10.0, L=5.0):
    return (1 - pk) * np.log(W - y) + pk * np.log(W - L + x - y) - (1 - pk) * np.log(W) - pk * np.log(W - L)


def test_log_utility_insurance_solves_from_the_numeric_inverse():
    """The reduced problem (least premiums as numeric roots) solves to the textbook optimum
    0.210709, certified, and so does an independent multi-start SLSQP of the unreduced problem."""
    model = mechdsl.load(INSURANCE)
    d = mechdsl.reduce.derive(model)
    assert [s.name for s in d.numeric_payments] == ["y[0]", "y[1]"]
    assert d.type_orientation.rises is True and d.type_orientation.method == "numeric (accepted set)"
    reference = insurance_reference()
    with np.errstate(all="ignore"):
        searched, z = unreduced_optimum(log_utility, lambda k, x, y: y - (0.2, 0.4)[k] * x, (0.2, 0.4), (0.5, 0.5),
                                        (0.0, 5.0), (0.0, 5.0))
    assert reference == pytest.approx(0.210709, abs=5e-7) and searched == pytest.approx(reference, rel=1e-7)
    solution = solve(model, INSURANCE_STATE)
    assert certified(solution) and "reduced" in solution.solver
    assert "unreduced" not in solution.solver and "refused" not in solution.solver
    assert solution.objective == pytest.approx(reference, rel=1e-6)
    assert solution.contract["x[1]"] == pytest.approx(5.0, abs=1e-6)  # full insurance at the top
    reduced = mechdsl.solve.exact.solve_reduced(d, INSURANCE_STATE)
    assert certified(reduced) and reduced.objective == pytest.approx(reference, rel=1e-6)
    # the least premiums of the optimal coverages are brentq roots of the binding IR and IC
    allocations = {k: solution.contract[k] for k in ("x[0]", "x[1]")}
    completed = mechdsl.solve.exact._complete(d, INSURANCE_STATE, allocations)
    x0, x1 = allocations["x[0]"], allocations["x[1]"]
    y0 = brentq(lambda y: log_utility(0.2, x0, y), -10.0, 5.0 + x0 - 1e-12, xtol=1e-15)
    y1 = brentq(lambda y: log_utility(0.4, x1, y) - log_utility(0.4, x0, y0), -10.0, 5.0 + x1 - 1e-12, xtol=1e-15)
    assert completed["y[0]"] == pytest.approx(y0, abs=1e-12) and completed["y[1]"] == pytest.approx(y1, abs=1e-12)
    assert [completed["y[0]"], completed["y[1]"]] == pytest.approx([solution.contract["y[0]"],
                                                                   solution.contract["y[1]"]], abs=1e-6)


def test_log_utility_insurance_solve_json(capsys):
    report = solve_json(INSURANCE, capsys)
    assert report["objective"] == pytest.approx(insurance_reference(), rel=1e-6)
    assert report["contract"]["x"][1] == pytest.approx(5.0, abs=1e-6)


# ---------------------------------------------------------------- issue 29, item 8: cost types, CARA, ironing
SPECS = Path(__file__).parent / "specs"


def unreduced_optimum(u, value, theta, f, x_bounds, y_bounds, starts=24, seed=0) -> tuple[float, np.ndarray]:
    """max sum_k f_k value(k, x_k, y_k) subject to EVERY IR u(theta_k, x_k, y_k) >= 0 and EVERY IC
    u(theta_k, x_k, y_k) >= u(theta_k, x_j, y_j), by SLSQP from `starts` random points (the
    unreduced problem, written here independently of mechdsl); the best feasible end point."""
    from scipy.optimize import minimize

    K = len(theta)
    rng = np.random.default_rng(seed)

    def constraints(z):
        x, y = z[:K], z[K:]
        own = [u(theta[k], x[k], y[k]) for k in range(K)]
        return np.array(own + [own[k] - u(theta[k], x[j], y[j]) for k in range(K) for j in range(K) if j != k])

    def objective(z):
        return -sum(f[k] * value(k, z[k], z[K + k]) for k in range(K))

    best = None
    for _ in range(starts):
        z0 = np.concatenate([rng.uniform(*x_bounds, K), rng.uniform(*y_bounds, K)])
        result = minimize(objective, z0, method="SLSQP", bounds=[x_bounds] * K + [y_bounds] * K,
                          constraints=[{"type": "ineq", "fun": constraints}], options={"maxiter": 500, "ftol": 1e-14})
        if np.all(constraints(result.x) >= -1e-9) and (best is None or result.fun < best.fun):
            best = result
    return -best.fun, best.x


def solve_json(spec: Path, capsys) -> dict:
    from mechdsl.cli.main import main

    assert main(["solve", "--json", str(spec)]) == 0
    report = json.loads(capsys.readouterr().out)
    scale = max(1.0, *(abs(v) for row in report["contract"].values() for v in np.ravel(row)))
    assert report["certificate"]["worst_slack"] >= -1e-6 * scale  # a feasible certificate
    return report


def test_laffont_tirole_as_written_solves_from_the_reduction(capsys):
    """Cost types beta = (1, 1.5), psi(e) = e^2 / 2, S = 5, lam = 0.3 (the issue's 3.973077). Closed
    form (Laffont-Tirole 1993, ch. 1): the efficient firm's effort is first best (psi'(e0) = 1, so
    C0 = beta0 - 1 = 0), the inefficient firm's is distorted, psi'(e1) = 1 - q0 lam (beta1 - beta0) /
    (q1 (1 + lam)), its IR binds and the efficient firm keeps the rent psi(e1) - psi(e1 - (beta1 - beta0))."""
    S, lam, beta, q = 5.0, 0.3, (1.0, 1.5), (0.5, 0.5)
    psi = lambda e: e * e / 2  # noqa: E731
    e1 = 1 - q[0] * lam * (beta[1] - beta[0]) / (q[1] * (1 + lam))
    c = (beta[0] - 1.0, beta[1] - e1)
    t = (psi(1.0) + psi(e1) - psi(e1 - (beta[1] - beta[0])), psi(e1))
    closed = sum(qk * (S - (1 + lam) * (ck + tk) + tk - psi(b - ck)) for qk, ck, tk, b in zip(q, c, t, beta))
    searched, _ = unreduced_optimum(lambda b, C, tt: tt - psi(b - C),
                                    lambda k, C, tt: S - (1 + lam) * (C + tt) + tt - psi(beta[k] - C),
                                    beta, q, (0.0, 1.0), (0.0, 3.0))
    assert closed == pytest.approx(3.973077, abs=5e-7) and searched == pytest.approx(closed, rel=1e-7)
    report = solve_json(SPECS / "laffont_tirole.mech", capsys)
    assert report["objective"] == pytest.approx(closed, rel=1e-6)
    assert "reduced" in report["solver"] and "unreduced" not in report["solver"]  # from the reduction
    assert report["contract"]["C"] == pytest.approx(list(c), abs=1e-6)
    assert report["contract"]["t"] == pytest.approx(list(t), abs=1e-6)
    assert report["certificate"]["where"] == "IR period 1: type 1"  # the inefficient firm's IR binds


def test_procurement_with_cost_types_and_concave_value(capsys):
    """Buy x from a supplier of unit cost theta (u = t - theta x), value 2 sqrt(x). Closed form: the
    highest cost's IR binds, each lower cost's upward IC; quantity at virtual cost
    c_k = theta_k + (F_{k-1} / f_k)(theta_k - theta_{k-1}), 1 / sqrt(x_k) = c_k (no distortion at the top)."""
    theta, f = (1.0, 1.25, 1.5), (0.3, 0.4, 0.3)
    F = np.cumsum(f)
    virtual = [theta[0]] + [theta[k] + F[k - 1] / f[k] * (theta[k] - theta[k - 1]) for k in (1, 2)]
    x = [1 / v ** 2 for v in virtual]
    rent = [sum((theta[j] - theta[j - 1]) * x[j] for j in range(k + 1, 3)) for k in range(3)]
    t = [theta[k] * x[k] + rent[k] for k in range(3)]
    closed = sum(f[k] * (2 * np.sqrt(x[k]) - t[k]) for k in range(3))
    searched, _ = unreduced_optimum(lambda c, q, tt: tt - c * q, lambda k, q, tt: 2 * np.sqrt(max(q, 0.0)) - tt,
                                    theta, f, (0.0, 4.0), (0.0, 8.0))
    assert searched == pytest.approx(closed, rel=1e-7)
    report = solve_json(SPECS / "procurement_cost_types.mech", capsys)
    assert report["objective"] == pytest.approx(closed, rel=1e-6)
    assert report["contract"]["x"] == pytest.approx(x, rel=1e-4)
    d = mechdsl.reduce.derive(mechdsl.load(SPECS / "procurement_cost_types.mech"))
    reduced = mechdsl.solve.exact.solve_reduced(d, dict(zip(("theta[0]", "theta[1]", "theta[2]", "f[0]", "f[1]", "f[2]"),
                                                            (*theta, *f))))
    assert certified(reduced) and reduced.objective == pytest.approx(closed, rel=1e-6)


def cara_reference(W=10.0, L=5.0, a=0.5, p=(0.2, 0.4), q=(0.5, 0.5)) -> float:
    """Certainty equivalents CE(p, x) - y; the low risk's IR binds, the high risk is fully insured
    with its IC binding (Stiglitz 1977): a one-dimensional search over the low risk's coverage."""
    def ce(pk, x):
        return -np.log(1 - pk + pk * np.exp(a * (L - x))) / a

    def value(x0):
        y0 = ce(p[0], x0) - ce(p[0], 0.0)                      # IR of the low risk
        y1 = ce(p[1], L) - ce(p[1], x0) + y0                   # IC of the high risk (fully insured)
        return q[0] * (y0 - p[0] * x0) + q[1] * (y1 - p[1] * L)

    grid = np.linspace(0.0, L, 501)
    best = grid[int(np.argmax([value(x) for x in grid]))]
    fine = minimize_scalar(lambda x: -value(x), bounds=(max(0.0, best - L / 500), min(L, best + L / 500)),
                           method="bounded", options={"xatol": 1e-11})
    return max(value(best), -fine.fun)


def test_cara_insurance(capsys):
    reference = cara_reference()
    searched, _ = unreduced_optimum(
        lambda pk, x, y: (np.log(1 - pk + pk * np.exp(2.5)) - np.log(1 - pk + pk * np.exp(0.5 * (5 - x)))) / 0.5 - y,
        lambda k, x, y: y - (0.2, 0.4)[k] * x, (0.2, 0.4), (0.5, 0.5), (0.0, 5.0), (0.0, 5.0))
    assert searched == pytest.approx(reference, rel=1e-7)
    report = solve_json(SPECS / "insurance_cara.mech", capsys)
    assert report["objective"] == pytest.approx(reference, rel=1e-6)
    assert report["contract"]["x"][1] == pytest.approx(5.0, abs=1e-6)  # full insurance at the top
    assert "unreduced" not in report["solver"]
    # the same model in expected utility: du/dp has both signs on the declared box, but it is >= 0
    # wherever the low risk accepts (u >= 0), so its IR binds; the reduced problem, same optimum
    eu = mechdsl.load(SPECS / "insurance_cara_eu.mech")
    orientation = mechdsl.reduce.derive(eu).type_orientation
    assert orientation.rises is True and orientation.method == "numeric (accepted set)"
    report = solve_json(SPECS / "insurance_cara_eu.mech", capsys)
    assert report["objective"] == pytest.approx(reference, rel=1e-6)
    assert "reduced" in report["solver"] and "unreduced" not in report["solver"]
    assert "orientation undecided" not in report["solver"]


def test_ironing_pools_the_types_whose_virtual_values_fall(capsys):
    """Mussa-Rosen, u = theta x - t, cost x^2 / 2, theta = (4, 5, 6), f = (0.5, 0.1, 0.4): virtual
    values nu_k = theta_k - (theta_{k+1} - theta_k)(1 - F_k) / f_k = (3, 1, 6) are not monotone, so
    the relaxed optimum x = nu is not implementable; ironing pools types 0 and 1 at their
    f-weighted mean virtual value 8/3 (Myerson 1981, Mussa-Rosen 1978), x = (8/3, 8/3, 6)."""
    theta, f = (4.0, 5.0, 6.0), (0.5, 0.1, 0.4)
    F = np.cumsum(f)
    nu = [theta[k] - (theta[k + 1] - theta[k]) * (1 - F[k]) / f[k] for k in range(2)] + [theta[2]]
    assert nu == pytest.approx([3.0, 1.0, 6.0]) and nu[1] < nu[0]  # the model needs ironing
    pooled = (f[0] * nu[0] + f[1] * nu[1]) / (f[0] + f[1])
    x = [pooled, pooled, nu[2]]
    closed = sum(f[k] * (nu[k] * x[k] - x[k] ** 2 / 2) for k in range(3))
    searched, z = unreduced_optimum(lambda th, xx, tt: th * xx - tt, lambda k, xx, tt: tt - xx ** 2 / 2,
                                    theta, f, (0.0, 10.0), (0.0, 100.0))
    assert searched == pytest.approx(closed, rel=1e-7) and z[:3] == pytest.approx(x, abs=1e-4)
    report = solve_json(SPECS / "ironing.mech", capsys)
    assert report["objective"] == pytest.approx(closed, rel=1e-6)
    assert report["contract"]["x"] == pytest.approx(x, abs=1e-6)
    assert [(g["allocation"], g["types"], g["at_bound"]) for g in report["pooled"]] == [("x", [0, 1], False)]
    assert report["pooled"][0]["level"] == pytest.approx(pooled, abs=1e-6)
    # the reduction's own problem (monotone allocations as constraints) irons too
    d = mechdsl.reduce.derive(mechdsl.load(SPECS / "ironing.mech"))
    state = dict(zip(("theta[0]", "theta[1]", "theta[2]", "f[0]", "f[1]", "f[2]"), (*theta, *f)))
    reduced = mechdsl.solve.exact.solve_reduced(d, state)
    assert certified(reduced) and reduced.objective == pytest.approx(closed, rel=1e-6)
