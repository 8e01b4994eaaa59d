"""A state without an exact reference is a flagged state or an exit-2 error, never exit 3 (issue 33).

The local solver is forced to fail everywhere (`mechdsl.solve.exact._run_local` returns
nothing): `solve` must exit 2 naming the state, and `train`/`eval` must finish, count the
states in `reference_failures` and leave them out of the optimality ratio."""

from __future__ import annotations

import json

import pytest

import mechdsl.solve.exact as exact
from mechdsl.cli.main import main

SPEC = "examples/concave_payment.mech"


@pytest.fixture
def failing_local_solver(monkeypatch):
    monkeypatch.setattr(exact, "_run_local", lambda problem, z0, method: None)


def test_solve_exits_2_naming_the_state(failing_local_solver, capsys):
    assert main(["solve", SPEC]) == 2
    err = capsys.readouterr().err
    assert "no exact reference for concave_payment" in err
    assert "theta[0] = " in err and "internal error" not in err


def test_train_and_eval_flag_states_without_reference(failing_local_solver, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", SPEC, "--algo", "random", "--steps", "2", "--eval-states", "4", "--out", str(run_dir),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "states without an exact reference (left out of the ratio) 4" in out
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["reference_failures"] == 4
    assert evaluation["optimality_ratio"] is None and evaluation["mean_optimum"] is None
    assert "4 of 4 held-out states have no exact reference" in (run_dir / "report.md").read_text()

    assert main(["eval", str(run_dir), "--states", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reference_failures"] == 3
    assert report["optimum"] == [None, None, None] and report["optimality_ratio"] is None


def test_training_verbs_pass_with_the_real_local_solver(tmp_path, capsys):
    """The command that failed on main with SciPy 1.17.1 (the every-verb matrix runs it too)."""
    run_dir = tmp_path / "run"
    assert main(["train", SPEC, "--steps", "2", "--eval-states", "4", "--out", str(run_dir), "--quiet"]) == 0
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["reference_failures"] == 0
    assert evaluation["mean_optimum"] > 0
