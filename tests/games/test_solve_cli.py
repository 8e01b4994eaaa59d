"""`mechdsl solve` of a game spec prints JSON with the documented keys."""

import json

import pytest

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


CONVEX = """game convex
size L = 1
size N = 2
leader S[l in L]
follower F[n in N]
strategy p[L] of S in [0, 1]
strategy x[N] of F in [0, 1]
utility S[l] = p[l] * (x[0] + x[1]) - p[l]^2
utility F[n] = (x[n] - 0.4)^2 - p[0] * x[n] + 0.1 * x[0] * x[1]
"""


@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_an_uncertified_equilibrium_exits_2_at_the_utility(tmp_path, capsys, flags):
    """Followers whose utility is convex in their own strategy: the first-order condition
    gives a minimum, a unilateral deviation to a corner gains, and solve says so (exit 2,
    positioned at the follower's utility) instead of exit 0."""
    spec = tmp_path / "convex.mech"
    spec.write_text(CONVEX)
    assert main(["solve", str(spec), *flags]) == 2
    out, err = capsys.readouterr()
    assert "convex.mech:9:1: error: no certified equilibrium: F[" in err, err
    assert "concave in its own strategies" in err
    if flags:
        assert json.loads(out)["certificate"]["within_target"] is False
