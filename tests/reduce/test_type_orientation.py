"""`derive` decides which type's IR binds from the sign of du/dtheta and says why (issue 29).

With IC, U_k >= u(theta_k; item 0) >= u(theta_0; item 0) = U_0 when du/dtheta >= 0 (every bundled
contract); with cost types (du/dtheta <= 0, Laffont-Tirole as written) the highest type's IR binds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

import mechdsl
from mechdsl.cli.main import main
from mechdsl.reduce import derive
from mechdsl.reduce.single_crossing import check_type_orientation

ROOT = Path(__file__).resolve().parents[2]
COST_TYPES = ROOT / "tests" / "solve" / "specs" / "laffont_tirole_cost_types.mech"


@pytest.mark.parametrize("spec", ["specs/two_period.mech", "specs/static_contract.mech", "examples/monopoly.mech",
                                  "examples/concave_payment.mech", "examples/three_period.mech"])
def test_bundled_contracts_have_utility_rising_with_the_type(spec):
    verdict = check_type_orientation(mechdsl.load(ROOT / spec))
    assert verdict.rises is True and verdict.method == "symbolic"


LT_AS_WRITTEN = ROOT / "tests" / "solve" / "specs" / "laffont_tirole.mech"  # C in [0, 1]: effort beta - C >= 0
PROCUREMENT = ROOT / "tests" / "solve" / "specs" / "procurement_cost_types.mech"


def test_a_utility_whose_slope_in_the_type_changes_sign_is_undecided_and_refused(capsys):
    """C in [0, 3], beta in [1, 1.5]: du/dbeta = C - beta has both signs, so neither end's IR is
    implied; derive refuses at the utility statement (exit 2) instead of assuming an end."""
    verdict = check_type_orientation(mechdsl.load(COST_TYPES))
    assert verdict.rises is None and verdict.binding_ir is None and str(verdict.du_dtheta) == "C - beta"
    assert main(["derive", "--json", str(COST_TYPES)]) == 2
    err = capsys.readouterr().err
    assert f"{COST_TYPES}:19:1: error: cannot reduce this contract: type orientation: cannot decide which type's IR" in err
    assert "hint:" in err and "internal error" not in err


def test_laffont_tirole_as_written_reduces_from_the_highest_type(capsys):
    """Cost types: du/dbeta = C - beta <= 0 on C in [0, 1]; the inefficient firm's IR binds and the
    efficient firm's upward IC: t1 = psi(beta1 - C1), t0 = psi(beta0 - C0) + psi(beta1 - C1) - psi(beta0 - C1)."""
    verdict = check_type_orientation(mechdsl.load(LT_AS_WRITTEN))
    assert verdict.rises is False and verdict.binding_ir == "highest"
    assert main(["derive", "--json", str(LT_AS_WRITTEN)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["type_orientation"]["binding_ir"] == "highest"
    assert report["binding"] == ["period 1: highest-type IR and local upward IC bind for the least payments"]
    assert list(report["payments"]) == ["t[1]", "t[0]"]  # evaluation order: from the binding IR down
    beta0, beta1, c0, c1 = (sp.Symbol(n, real=True) for n in ("beta[0]", "beta[1]", "C[0]", "C[1]"))
    psi = lambda e: e ** 2 / 2  # noqa: E731
    d = derive(mechdsl.load(LT_AS_WRITTEN))
    assert sp.simplify(d.payment("t", 1) - psi(beta1 - c1)) == 0
    assert sp.simplify(d.payment("t", 0) - (psi(beta0 - c0) + psi(beta1 - c1) - psi(beta0 - c1))) == 0
    assert main(["derive", str(LT_AS_WRITTEN)]) == 0
    assert "why the highest type's IR: utility falls with the type" in capsys.readouterr().out


def test_procurement_allocations_fall_with_the_cost_type():
    """MRS = theta rises with the cost: the monotone chain runs x[0] >= x[1] >= x[2]."""
    d = derive(mechdsl.load(PROCUREMENT))
    assert d.single_crossing.direction == 1 and not d.allocation_rises
    x = [sp.Symbol(f"x[{k}]", real=True) for k in range(3)]
    assert [sp.expand(c.g) for c in d.monotone] == [x[0] - x[1], x[1] - x[2]]
    assert d.screening_order == (2, 1, 0)


INSURANCE_LOG = ROOT / "tests" / "solve" / "specs" / "insurance_log_utility.mech"
INSURANCE_EU = ROOT / "tests" / "solve" / "specs" / "insurance_cara_eu.mech"


@pytest.mark.parametrize("spec", [INSURANCE_LOG, INSURANCE_EU])
def test_insurance_orientation_is_decided_where_the_low_risk_accepts(spec):
    """Stiglitz insurance: du/dp changes sign on the declared box (a premium without coverage hurts
    the high risk more), but U_k(c) >= U_0(c) wherever U_0(c) >= 0 is all the lowest type's IR
    needs, and du/dp >= 0 on every sample with u >= 0 (y >= 0): the low risk's IR binds."""
    import numpy as np

    model = mechdsl.load(spec)
    verdict = check_type_orientation(model)
    assert verdict.rises is True and verdict.binding_ir == "lowest" and verdict.method == "numeric (accepted set)"
    assert "has both signs on the declared ranges" in verdict.message and "where the agent accepts" in verdict.message
    # independently: on a grid of the box, du/dp takes both signs, and is >= 0 wherever u >= 0
    u, du = (sp.lambdify([sp.Symbol(n, real=True) for n in "pxy"], e.subs({sp.Symbol("W", real=True): 10,
                                                                           sp.Symbol("L", real=True): 5,
                                                                           sp.Symbol("a", real=True): 0.5}))
             for e in (model.utility.expr, verdict.du_dtheta))
    p, x, y = np.meshgrid(np.linspace(0.2, 0.4, 21), np.linspace(0, 5, 51), np.linspace(0, 4.99, 51))
    slope, level = du(p, x, y), u(p, x, y)
    assert slope.min() < 0 < slope.max() and slope[level >= 0].min() >= -1e-12  # 0 at x = y = 0, up to rounding


def test_where_the_accepted_set_keeps_both_signs_the_orientation_stays_undecided():
    """Laffont-Tirole with C in [0, 3]: du/dbeta = C - beta has both signs where u = t - psi(beta - C) >= 0 too."""
    verdict = check_type_orientation(mechdsl.load(COST_TYPES))
    assert verdict.rises is None and "(and on the samples where u >= 0)" in verdict.message
