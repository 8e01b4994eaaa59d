"""Invalid game specs give positioned errors (line:col and message)."""

import pytest

from mechdsl.lang.diagnostics import SpecError
from mechdsl.lang.game_checker import load_game_source

BASE = """game g
size I = 2
size N = 3
leader S[i in I]
follower U[n in N]
param D[n in N] ~ uniform(1, 2)
strategy p[I] of S in [0, 10]
strategy o[N, I] of U in [0, 1]
constraint sum(i in I, o[n, i]) <= 1 for n in N
utility S[i] = p[i] * sum(n in N, o[n, i])
utility U[n] = sum(i in I, log(1 + D[n] * o[n, i]) - p[i] * o[n, i])
"""


def first_error(source):
    with pytest.raises(SpecError) as info:
        load_game_source(source, "t.mech")
    d = info.value.first
    return d.span.line, d.span.col, d.message, d.hint or ""


def test_base_is_valid():
    model = load_game_source(BASE, "t.mech")
    assert [p.name for p in model.leaders] == ["S"] and len(model.budgets) == 3


CASES = [
    # (replace, with, line, col, message fragment, hint fragment)
    ("log(1 + D[n]", "log(1 + DD[n]", 11, 36, "'DD' is not defined", "did you mean 'D'"),
    ("p[i] * o[n, i])\n", "p[i] * o[i, n])\n", 11, 63, "index 'i' ranges over I, but position 1 of 'o'", ""),
    ("strategy p[I] of S in [0, 10]", "strategy p[I] of S in [10, 0]", 7, 1, "empty bounds [10, 0]", ""),
    ("strategy p[I] of S in [0, 10]", "strategy p[I] of S >= 0", 7, 1, "needs finite bounds", ""),
    ("utility S[i] = p[i] * sum(n in N, o[n, i])", "utility S[i] = sum(n in N, o[n, i])", 10, 16,
     "does not depend on its own strategy", ""),
    ("strategy o[N, I] of U", "strategy o[N, I] of Uu", 8, 1, "'Uu' is not a declared leader or follower",
     "did you mean 'U'"),
    ("strategy o[N, I] of U", "strategy o[I, N] of U", 8, 1, "first index of strategy 'o' must be its owner's", ""),
    ("<= 1 for n in N", ">= 1 for n in N", 9, 12, "budget", "'<='"),
    ("utility U[n]", "utility UU[n]", 11, 1, "'UU' is not a declared leader or follower", "did you mean 'U'"),
    ("D[n] * o[n, i])", "D[n] * o[n])", 11, 43, "'o' takes 2 index(es), got 1", ""),
]


@pytest.mark.parametrize("old,new,line,col,message,hint", CASES)
def test_positioned_errors(old, new, line, col, message, hint):
    assert old in BASE
    got = first_error(BASE.replace(old, new, 1))
    assert got[:2] == (line, col), got
    assert message in got[2], got
    assert hint in got[3], got


AUCTION = """auction a {
  mechanism double_dutch
  buyer S[i in I] demand p[i] value ~ uniform(1, 2)
  seller A[m in N] supply 1 cost ~ uniform(0, 1)
  step 0.1
}
"""


def test_auction_is_valid():
    model = load_game_source(BASE + AUCTION, "t.mech")
    assert model.auction.mechanism == "double_dutch" and model.auction.sellers.count == 3


def test_unknown_auction_mechanism():
    line, col, message, hint = first_error(BASE + AUCTION.replace("double_dutch", "double_dutc"))
    assert (line, col) == (13, 3) and "unknown auction mechanism 'double_dutc'" in message
    assert "did you mean 'double_dutch'" in hint


def test_negative_clock_step():
    line, col, message, _ = first_error(BASE + AUCTION.replace("step 0.1", "step -0.1"))
    assert (line, col) == (16, 3) and "clock step must be positive" in message


def test_contract_statement_in_game():
    line, col, message, _ = first_error(BASE + "principal cloud\n")
    assert (line, col) == (12, 1) and "belongs to contract specs" in message


def test_syntax_error_is_positioned():
    line, col, message, _ = first_error(BASE.replace("leader S[i in I]", "leader S[i I]"))
    assert (line, col) == (4, 12) and "expected" in message


def test_followers_that_interact_play_a_nash_equilibrium(tmp_path, capsys):
    """A follower's utility that mentions another follower's strategies is solved as a Nash
    equilibrium among the followers (mechdsl.games.nash), certified per follower."""
    import json

    from mechdsl.cli.main import main

    coupled = BASE.replace("- p[i] * o[n, i])", "- p[i] * o[n, i]) - sum(i in I, o[0, i]) * D[n]")
    path = tmp_path / "coupled.mech"
    path.write_text(coupled)
    assert main(["solve", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "Nash equilibrium among followers" in report["solver"]["followers"]
    assert report["certificate"]["within_target"]
    assert report["equilibrium"]["o"][0] == [0.0, 0.0]  # U[0] pays D[0] per unit it takes


def test_games_outside_the_solver_class_exit_2_positioned(tmp_path, capsys):
    from mechdsl.cli.main import main

    two = BASE.replace("strategy o[N, I] of U in [0, 1]\n",
                       "strategy o[N, I] of U in [0, 1]\nstrategy r[I] of S in [0, 1]\n")
    two = two.replace("utility S[i] = p[i]", "utility S[i] = (p[i] - r[i]^2)")
    path = tmp_path / "two.mech"
    path.write_text(two)
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert "two.mech:9:1: error: leader S[0] chooses 2 strategies (p[0], r[0])" in err, err
    assert "hint:" in err and "Traceback" not in err


def test_interacting_followers_without_a_derived_best_response_exit_2_positioned(tmp_path, capsys):
    """A follower utility that is not separable in its own strategies (x[n, 0] x[n, 1]) has no
    derived best response; with followers that interact it is refused at the utility
    (a numeric solve per follower, sweep and leader candidate took minutes)."""
    from mechdsl.cli.main import main

    coupled = BASE.replace("- p[i] * o[n, i])", "- p[i] * o[n, i]) - o[n, 0] * o[n, 1] - o[0, 0] * D[n]")
    path = tmp_path / "nonseparable.mech"
    path.write_text(coupled)
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert "nonseparable.mech:11:1: error: the followers interact, but the best response of U[0]" in err, err
    assert "separable in their own strategies" in err and "Traceback" not in err
