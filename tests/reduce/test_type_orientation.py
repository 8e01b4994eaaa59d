"""`derive` says why the lowest type's IR is the one kept, and says so when it is not (issue 29).

With IC, U_k >= u(theta_k; item 0) >= u(theta_0; item 0) = U_0 needs du/dtheta >= 0: true for
every bundled contract, false for Laffont-Tirole written with cost types (du/dbeta = C - beta)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mechdsl
from mechdsl.cli.main import main
from mechdsl.reduce.single_crossing import check_type_orientation

ROOT = Path(__file__).resolve().parents[2]
COST_TYPES = ROOT / "tests" / "solve" / "specs" / "laffont_tirole_cost_types.mech"


@pytest.mark.parametrize("spec", ["specs/two_period.mech", "specs/static_contract.mech", "examples/monopoly.mech",
                                  "examples/concave_payment.mech", "examples/three_period.mech"])
def test_bundled_contracts_have_utility_rising_with_the_type(spec):
    verdict = check_type_orientation(mechdsl.load(ROOT / spec))
    assert verdict.rises is True and verdict.method == "symbolic"


def test_cost_types_are_reported_as_not_rising(capsys):
    verdict = check_type_orientation(mechdsl.load(COST_TYPES))
    assert verdict.rises is False and str(verdict.du_dtheta) == "C - beta"
    assert main(["derive", "--json", str(COST_TYPES)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["type_orientation"]["rises"] is False
    assert "highest type's IR binds" in report["type_orientation"]["message"]
    assert main(["derive", str(COST_TYPES)]) == 0
    assert "utility does NOT rise with the type" in capsys.readouterr().out
