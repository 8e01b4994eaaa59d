"""`mechdsl solve` of a game spec prints JSON with the documented keys."""

import json

from mechdsl.cli.main import main

SPEC = "specs/iot_offloading.mech"


def test_solve_json_keys(capsys):
    assert main(["solve", SPEC, "--seed", "3", "--json", "--set", "N=2", "--set", "I=1", "--set", "J=1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"state", "equilibrium", "roles", "auction", "utilities", "certificate", "solver"}
    # every strategy under its declared name, with its player's role beside it
    assert set(report["equilibrium"]) == {"p_MA", "p_FA", "o", "q"}
    assert report["roles"] == {"p_MA": "leader", "p_FA": "leader", "o": "follower", "q": "follower"}
    assert len(report["equilibrium"]["o"]) == 2 and len(report["equilibrium"]["o"][0]) == 1  # o[N, I]
    assert report["certificate"]["max_relative_gain"] <= 1e-6
    assert report["auction"]["mechanism"] == "double_dutch"
    assert report["solver"]["followers"] == "symbolic KKT"


def test_game_spec_error_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.mech"
    bad.write_text("game g\nsize N = 2\nfollower W[n in N]\nstrategy x[N] of Wx in [0, 1]\n")
    assert main(["solve", str(bad)]) == 2
    assert "bad.mech:4:1: error: 'Wx' is not a declared leader or follower" in capsys.readouterr().err
