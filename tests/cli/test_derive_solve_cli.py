"""`mechdsl derive` and `mechdsl solve` from the command line (in-process)."""

import json

import sympy as sp

from mechdsl.cli.main import main


def test_solve_json_has_exactly_the_documented_keys(capsys):
    assert main(["solve", "specs/two_period.mech", "--seed", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"state", "contract", "objective", "solver", "certificate", "pooled"}
    assert {"T1", "R1", "T2", "R2"} == set(out["contract"])
    assert len(out["contract"]["T2"]) == 2 and len(out["contract"]["T2"][0]) == 2
    for name in ("N", "sigma", "c", "E", "theta1", "theta2", "p1", "p2"):
        assert name in out["state"]
    assert abs(sum(out["state"]["p2"][1]) - 1) < 1e-12
    assert out["certificate"]["worst_slack"] >= -1e-6


def test_solve_set_structural_size(capsys):
    assert main(["solve", "specs/two_period.mech", "--set", "K=3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["contract"]["T1"]) == 3


def test_derive_json_formulas_parse_back(capsys):
    assert main(["derive", "specs/two_period.mech", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    r = sp.sympify(out["payments"]["R2[0, 0]"]["closed_form"])
    assert r.free_symbols == {sp.Symbol(n, real=True) for n in ("E", "c", "T2[0, 0]", "theta2[0]")}


def test_derive_text_and_unknown_set(capsys):
    assert main(["derive", "specs/static_contract.mech", "--latex"]) == 0
    assert "## Least payments" in capsys.readouterr().out
    assert main(["solve", "specs/two_period.mech", "--set", "nope=1"]) == 2
    assert "not a parameter" in capsys.readouterr().err
