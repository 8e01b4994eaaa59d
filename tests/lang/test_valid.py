"""The bundled specs check, and their models say what the papers say.

Numbers are asserted against independent computations: the objective is evaluated at a
random point and compared with the formulas of the papers typed in directly.
"""

from __future__ import annotations

import math
import random

import pytest
import sympy as sp

import mechdsl
from mechdsl.lang import SpecError, load_file
from spec_samples import BUNDLED, ROOT, TINY

TWO_PERIOD = ROOT / "specs" / "two_period.mech"
STATIC = ROOT / "specs" / "static_contract.mech"


def sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def ranges(model, types: str) -> list[list[float]]:
    return [list(d.args) for d in model.types[types].distributions]


@pytest.mark.parametrize("path", [*BUNDLED, TINY], ids=lambda p: p.name)
def test_spec_checks(path):
    model = load_file(path)
    if hasattr(model, "strategies"):  # a game spec
        assert model.strategies and model.players and model.summary().startswith("game ")
        return
    if hasattr(model, "bidders"):  # an auction-design spec
        assert model.bidders and model.ir and model.ic and model.summary().startswith("design auction ")
        return
    if hasattr(model, "transitions"):  # a scenario spec
        assert model.transitions and model.actions and model.summary().startswith("scenario ")
        return
    assert model.decision_symbols() and model.periods and model.summary().startswith("mechanism ")


# ================================================================ two_period
@pytest.fixture(scope="module")
def two_period():
    return load_file(TWO_PERIOD)


def test_two_period_structure(two_period):
    m = two_period
    assert (m.name, m.K, m.sizes, m.size_sweeps) == ("two_period", 2, {"K": 2}, {"K": (2, 3, 4, 5)})
    assert (m.principal, m.agent, m.agent_count) == ("cloud", "ES", sym("N"))
    assert {n: (v.kind, v.shape, v.lower, v.upper) for n, v in m.variables.items()} == {
        "T1": ("allocation", (2,), 0, 150), "R1": ("payment", (2,), 0, None),
        "T2": ("allocation", (2, 2), 0, 150), "R2": ("payment", (2, 2), 0, None),
    }
    assert len(m.decision_symbols()) == 12
    assert sym("T2[1, 0]") in m.decision_symbols()
    assert [(p.number, p.types, p.prob, p.allocation, p.payment, p.discount) for p in m.periods] == [
        (1, "theta1", "p1", "T1", "R1", 1), (2, "theta2", "p2", "T2", "R2", sym("beta"))]
    assert [c.kind for c in m.constraints] == ["ir", "ic", "iic", "monotone"] and m.ir_scope() == "per_period"


def test_two_period_parameters(two_period):
    m = two_period
    assert len(m.constants) == 14 and m.constants["N"].value == 12 and m.constants["N"].sweep == (3, 6, 12, 18)
    assert m.constants["beta"].value == 0.5 and m.constants["varsigma"].value == pytest.approx(1e-23)
    assert {n: (r.distribution.name, r.distribution.args) for n, r in m.randoms.items()} == {
        "P_dBm": ("uniform", (20, 33)), "r_nc": ("uniform", (1, 3)),
        "sigma": ("uniform", (0.5, 1)), "E_C": ("uniform", (20, 25))}
    assert ranges(m, "theta1") == ranges(m, "theta2") == [[15, 20], [20, 25]]
    assert m.probs["p1"].shape == (2,) and m.probs["p2"].shape == (2, 2)
    assert str(m.probs["p2"].distribution) == "dirichlet(1)"
    assert m.train == {"algorithm": "amortized", "steps": 188, "action_penalty": 0.01, "violation_weight": 300.0,
                       "violation_penalty": "log1p"}


def test_two_period_derived_quantities(two_period):
    derived = {n: d.expr for n, d in two_period.derived.items()}
    assert list(derived) == ["P_W", "c", "E"]
    sigma, rho, ups_cre, f = sym("sigma"), sym("rho"), sym("Ups_cre"), sym("f")
    assert sp.simplify(derived["c"] - sigma * rho * ups_cre * f**2) == 0
    assert sp.simplify(derived["P_W"] - 10 ** ((sym("P_dBm") - 30) / 10)) == 0
    expected_e = sigma * (sym("varsigma") * sym("Ups_per") * sym("D_fea") * f**2
                          + sym("P_W") * sym("D_agent") / (sym("r_nc") * sp.Float(1e6)))
    assert sp.simplify(derived["E"] - expected_e) == 0
    theta, t, r = sym("theta"), sym("T"), sym("R")
    assert sp.simplify(two_period.utility.expr - (theta * r - sym("c") * t - sym("E"))) == 0


def test_two_period_objective_matches_eq_11_12(two_period):
    """U1 + beta U2 with Q(T) = 1 - 2^(-T (2 - L delta) delta eps / 2), at a random point."""
    m, rng = two_period, random.Random(3)
    point = {s: rng.uniform(0.1, 1.0) for s in m.objective.expr.free_symbols}
    value = float(m.objective.expr.xreplace(point))
    v = {str(s): x for s, x in point.items()}
    n, alpha, beta, sigma, e_c = (v[k] for k in ("N", "alpha", "beta", "sigma", "E_C"))

    def quality(t):
        return 1 - 2 ** (-t * (2 - v["L"] * v["delta"]) * v["delta"] * v["eps"] / 2)

    u1 = sum(v[f"p1[{k}]"] * n * (alpha * quality(v[f"T1[{k}]"]) - v[f"R1[{k}]"]) for k in range(2)) - sigma * e_c
    u2 = sum(v[f"p1[{k}]"] * v[f"p2[{k}, {j}]"] * n * (alpha * quality(v[f"T2[{k}, {j}]"]) - v[f"R2[{k}, {j}]"])
             for k in range(2) for j in range(2)) - sigma * e_c
    assert value == pytest.approx(u1 + beta * u2, rel=1e-12)
    assert m.objective.sense == "maximize" and len(point) == 26


def test_override_k_changes_every_shape():
    m = load_file(TWO_PERIOD, {"K": 3})
    assert m.K == 3 and m.sizes == {"K": 3}
    assert {n: v.shape for n, v in m.variables.items()} == {"T1": (3,), "R1": (3,), "T2": (3, 3), "R2": (3, 3)}
    assert len(m.decision_symbols()) == 3 + 3 + 9 + 9
    assert ranges(m, "theta1") == [[15, 20], [20, 25], [25, 30]]
    assert m.probs["p2"].shape == (3, 3)
    assert repr(m) == "<Model two_period: K=3, 2 period(s), 24 decision variables>"


def test_override_constant():
    m = load_file(TWO_PERIOD, {"N": 6})
    assert m.constants["N"].value == 6 and m.constant_values()[sym("N")] == 6


def test_override_of_an_unknown_name_is_a_spec_error():
    with pytest.raises(SpecError) as raised:
        load_file(TWO_PERIOD, {"KK": 3})
    assert raised.value.first.message == "--set KK: not a size or constant parameter of this spec"
    assert raised.value.first.hint == "did you mean 'K'?"


def test_load_repr():
    assert repr(mechdsl.load(TWO_PERIOD)) == "<Model two_period: K=2, 2 period(s), 12 decision variables>"
    assert repr(mechdsl.load(str(STATIC))) == "<Model static_contract: K=2, 1 period(s), 4 decision variables>"


# ================================================================ static_contract
def test_static_contract():
    m = load_file(STATIC)
    assert (m.name, m.K, len(m.periods), len(m.decision_symbols())) == ("static_contract", 2, 1, 4)
    assert ranges(m, "psi") == [[50, 100], [200, 250]]
    assert load_file(STATIC, {"K": 5}).types["psi"].distributions[4].args == (650, 700)
    assert [(c.kind, c.scope) for c in m.constraints] == [("ir", "per_period"), ("ic", None)]
    psi, s, r = sym("psi"), sym("s"), sym("r")
    assert sp.simplify(m.utility.expr - (sym("rho") * psi * r - sym("c") * s - sym("c0"))) == 0


def test_static_contract_objective_matches_eq_2_3():
    """M sum_k q_k (vartheta g(s_k) - r_k) with g(x) = x^(1 - beta) / (1 - beta), beta = fairness."""
    m, rng = load_file(STATIC), random.Random(5)
    point = {s: rng.uniform(0.5, 2.0) for s in m.objective.expr.free_symbols}
    v = {str(s): x for s, x in point.items()}
    b = v["fairness"]
    expected = v["M"] * sum(v[f"q[{k}]"] * (v["vartheta"] * v[f"s[{k}]"] ** (1 - b) / (1 - b) - v[f"r[{k}]"])
                            for k in range(2))
    assert math.isclose(float(m.objective.expr.xreplace(point)), expected, rel_tol=1e-12)
