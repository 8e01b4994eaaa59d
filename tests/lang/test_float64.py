"""Values beyond float64 are refused before SymPy computes them (issue 34: `mechdsl check` of a
utility with exp(exp(exp(exp(exp(exp(c0)))))), c0 = 0.01, never finished: substituting the
constant made SymPy compute e^(10^(2.3e6)) exactly)."""

from __future__ import annotations

import math

import sympy as sp

from mechdsl.cli.main import main
from mechdsl.lang.float64 import beyond_float64, float64_value

SPEC = "specs/static_contract.mech"
UTILITY = "utility iiot(psi, s, r) = rho * psi * r - c * s - c0"
c, x = sp.Symbol("c", real=True), sp.Symbol("x", real=True)


def test_float64_value_equals_sympy_where_both_are_finite():
    expr = sp.sqrt(c) + c ** 2 + sp.log(c) + sp.Max(c, 1) * sp.exp(-c) + sp.Abs(c - 3) / (1 + c)
    assert math.isclose(float64_value(expr, {c: 0.7}), float(expr.subs(c, 0.7)), rel_tol=1e-14)
    assert float64_value(x + c, {c: 1.0}) is None  # x has no value


def test_overflow_is_inf_and_undefined_is_nan():
    assert float64_value(sp.exp(sp.exp(c)), {c: 10.0}) == math.inf
    assert math.isnan(float64_value(1 / (c - 1), {c: 1.0}))
    assert math.isnan(float64_value(sp.log(c), {c: -1.0}))


def test_beyond_float64_is_the_innermost_overflowing_subexpression():
    tower = x * c ** (c ** c) + c
    assert beyond_float64(tower, {c: 30.0}) == c ** (c ** c)
    assert beyond_float64(x * c ** c, {c: 30.0}) is None              # 30^30 = 2e44
    assert beyond_float64(x / (c - 1), {c: 1.0}) is None              # undefined is not an overflow...
    assert beyond_float64(x / (c - 1), {c: 1.0}, undefined=True) == 1 / (c - 1)  # ...unless asked


def check_utility(tmp_path, capsys, extra: str, types: str | None = None) -> tuple[int, str]:
    source = open(SPEC).read().replace(UTILITY, f"{UTILITY} - {extra}")
    if types is not None:
        source = source.replace("types psi[k in K] ~ uniform(50 + 150 * k, 100 + 150 * k)", types)
    path = tmp_path / "spec.mech"
    path.write_text(source)
    return main(["check", str(path)]), capsys.readouterr().err


def test_a_utility_beyond_float64_once_constants_are_substituted_is_refused(tmp_path, capsys):
    code, err = check_utility(tmp_path, capsys, "exp(exp(exp(exp(exp(exp(c0))))))")
    assert code == 2
    assert "error: the utility's exp(exp(exp(exp(exp(c0))))) is beyond float64 (about 1.8e308) once the " \
           "constants are substituted" in err


def test_a_utility_beyond_float64_at_a_type_value_is_refused(tmp_path, capsys):
    code, err = check_utility(tmp_path, capsys, "exp(exp(exp(psi)))", types="types psi[k in K] ~ uniform(5 + k, 6 + k)")
    assert code == 2
    assert "the utility's exp(exp(exp(psi))) is beyond float64 (about 1.8e308) at type 0 of 'psi' = 5" in err
