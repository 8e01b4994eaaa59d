"""Stackelberg-Cournot with followers that interact (a Nash equilibrium among the followers),
against the textbook closed form and an independent numeric solve written here.

Inverse demand P = a - b (Q + sum_n q_n), unit costs c_L (leader) and c_n (followers). Given
the leader's Q, the followers' Cournot equilibrium solves b (I + 1 1^T) q = a - b Q - c; with
every q_n > 0 the sum is S = (N (a - b Q) - sum c) / ((N + 1) b), so P = (a - b Q + sum c) / (N + 1)
and the leader's profit (P - c_L) Q is maximised at

    Q* = (a + sum_n c_n - (N + 1) c_L) / (2 b),
    q*_n = (a - b Q* + sum_m c_m - (N + 1) c_n) / ((N + 1) b).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from mechdsl.cli.main import main
from mechdsl.games.equilibrium import LeaderGame, derive_followers
from mechdsl.games.nash import NashFollowers
from mechdsl.games.solve import solve_game
from mechdsl.games.state import sample_state
from mechdsl.lang.game_checker import load_game_source

SPEC = Path(__file__).with_name("cournot_stackelberg.mech")


def closed_form(a, b, c_leader, c_followers):
    c = np.asarray(c_followers, dtype=float)
    n = len(c)
    leader = (a + c.sum() - (n + 1) * c_leader) / (2 * b)
    followers = (a - b * leader + c.sum() - (n + 1) * c) / ((n + 1) * b)
    return leader, followers


def numeric_reference(a, b, c_leader, c_followers):
    """The leader's quantity from its first-order condition (a root of the central-difference
    derivative of its profit, bracketed on [0, 20]), the followers' Cournot equilibrium at
    each Q from their first-order conditions (a linear system)."""
    c = np.asarray(c_followers, dtype=float)
    n = len(c)

    def followers(q_leader):
        return np.linalg.solve(b * (np.eye(n) + np.ones((n, n))), a - b * q_leader - c)

    def leader_profit(q_leader):
        return (a - b * (q_leader + followers(q_leader).sum()) - c_leader) * q_leader

    def marginal_profit(q_leader, h=1e-3):
        return (leader_profit(q_leader + h) - leader_profit(q_leader - h)) / (2 * h)

    q_leader = brentq(marginal_profit, 0.0, 20.0, xtol=1e-14)
    return q_leader, followers(q_leader)


def solve_json(capsys, *args):
    assert main(["solve", str(SPEC), "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("seed,followers", [(0, 2), (7, 2), (3, 3)])
def test_solve_matches_the_closed_form(capsys, seed, followers):
    report = solve_json(capsys, "--seed", str(seed), "--set", f"N={followers}")
    state = report["state"]
    leader, others = closed_form(state["a"], state["b"], state["c_L"], state["c_F"])
    assert np.all(others > 0)  # the interior case the closed form covers
    assert report["equilibrium"]["Q"] == pytest.approx([leader], rel=1e-6)
    assert report["equilibrium"]["q"] == pytest.approx(others.tolist(), rel=1e-6)
    assert report["roles"] == {"Q": "leader", "q": "follower"}
    certificate = report["certificate"]
    assert certificate["within_target"] and certificate["max_relative_gain"] <= 1e-6
    assert set(certificate["per_player"]) == {"Leader[0]", *(f"Firm[{n}]" for n in range(followers))}
    assert "Nash equilibrium among followers" in report["solver"]["followers"]
    price = state["a"] - state["b"] * (leader + others.sum())
    assert report["utilities"]["Leader[0]"] == pytest.approx((price - state["c_L"]) * leader, rel=1e-6)


def test_closed_form_agrees_with_the_independent_numeric_solve():
    """The test's two references agree, so neither hides a slip in the algebra."""
    leader, others = closed_form(20, 1, 2, [2.3, 1.5])
    numeric_leader, numeric_others = numeric_reference(20, 1, 2, [2.3, 1.5])
    assert leader == pytest.approx(numeric_leader, rel=1e-8)
    assert others == pytest.approx(numeric_others, rel=1e-7)


def test_solver_matches_the_numeric_reference_off_the_textbook_parameters():
    source = SPEC.read_text().replace("param a = 20", "param a = 13").replace("param b = 1 ", "param b = 0.7 ")
    model = load_game_source(source, "cournot.mech")
    solution = solve_game(model, seed=11)
    state = solution.as_json()["state"]
    leader, others = numeric_reference(state["a"], state["b"], state["c_L"], state["c_F"])
    assert state["b"] == 0.7
    assert solution.strategies()["Q"] == pytest.approx([leader], rel=1e-6)
    assert solution.strategies()["q"] == pytest.approx(others.tolist(), rel=1e-6)


def test_a_follower_priced_out_stays_at_its_bound():
    """Follower 1's cost (about 16) is above the price the others leave, so it produces 0 and
    the game is the Stackelberg duopoly of the leader and follower 0:
    Q = (a - 2 c_L + c_0) / (2 b), q_0 = (a - b Q - c_0) / (2 b)."""
    source = SPEC.read_text().replace("uniform(1, 3)", "uniform(1 + 15 * n, 1.01 + 15 * n)")
    solution = solve_game(load_game_source(source, "cournot.mech"), seed=0)
    state = solution.as_json()["state"]
    a, b, c_leader, (c0, c1) = state["a"], state["b"], state["c_L"], state["c_F"]
    leader = (a - 2 * c_leader + c0) / (2 * b)
    follower = (a - b * leader - c0) / (2 * b)
    assert a - b * (leader + follower) < c1  # follower 1 would lose on any unit
    assert solution.strategies()["Q"] == pytest.approx([leader], rel=1e-6)
    assert solution.strategies()["q"] == pytest.approx([follower, 0.0], rel=1e-6, abs=1e-12)
    assert solution.certificate.as_dict()["within_target"]


def test_followers_nash_equilibrium_in_a_batch():
    """The followers' equilibrium for a batch of leader quantities equals the solution of
    their first-order conditions (interior) and is reached in every lane."""
    model = load_game_source(SPEC.read_text(), str(SPEC), {"N": 3})
    state = sample_state(model, np.random.default_rng(5))
    game = LeaderGame(model, state, derive_followers(model))
    assert isinstance(game.followers, NashFollowers) and game.followers.symbolic
    leader_values = np.array([[0.0], [4.0], [9.5]])
    got = game.followers.respond(leader_values)
    assert game.followers.unconverged == 0
    assert game.followers.sweeps <= 15  # the Newton polish (plain sweeps took 32 here)
    costs = np.array([state[s] for s in model.indexed_randoms["c_F"].symbols()])
    for row, q_leader in zip(got, leader_values[:, 0]):
        expected = np.linalg.solve(np.eye(3) + np.ones((3, 3)), 20 - q_leader - costs)
        assert row == pytest.approx(expected, rel=1e-10)
    assert game.followers.second_order_ok(got[1], leader_values[1])


def test_a_unilateral_deviation_is_measured_with_the_others_held():
    """The certificate's follower utility holds the other followers at their equilibrium:
    follower 0 moving off its Cournot quantity loses exactly b (dq)^2."""
    model = load_game_source(SPEC.read_text(), str(SPEC))
    state = sample_state(model, np.random.default_rng(2))
    game = LeaderGame(model, state, derive_followers(model))
    leader = np.array([[6.0]])
    x = game.followers.respond(leader)[0]
    at = game.followers.utility(0, x[:1][None, :], leader)[0]
    moved = game.followers.utility(0, (x[:1] + 0.25)[None, :], leader)[0]
    assert at - moved == pytest.approx(0.25**2, rel=1e-9)
    assert game.followers.best_response_numeric(0, [6.0]) == pytest.approx(x[:1], rel=1e-7)


def test_compile_train_and_sweep_of_a_game_without_auction_exit_2_positioned(capsys, tmp_path):
    for verb in (["compile", str(SPEC), "-o", str(tmp_path / "out")], ["train", str(SPEC), "--out", str(tmp_path / "run")],
                 ["sweep", str(SPEC), "--grid", "a=10,20", "--out", str(tmp_path / "sweep")]):
        assert main(verb) == 2
        err = capsys.readouterr().err
        assert f"{SPEC}:11:1: error: cannot compile this game: it has no auction" in err, err
        assert "hint: add an `auction NAME" in err and "Traceback" not in err
    assert not any((tmp_path / folder).exists() for folder in ("out", "run", "sweep"))


def test_derive_of_a_game_says_what_compile_and_train_need(capsys):
    assert main(["derive", str(SPEC)]) == 2
    err = capsys.readouterr().err
    assert "game specs support check, fmt, solve, compile" in err
    assert "need an `auction` block" in err and "a game without one supports check, fmt and solve" in err
