"""Numbers beyond float64 are a user error naming the statement (issue 34): `c^c^c` with
c ~ uniform(25, 35) is 30^(30^30); `solve` crashed with `OverflowError` (exit 3) and `train`
with "internal error (TrainingDiverged ...)". Now `solve` exits 2 positioned at the utility,
naming the subexpression and the state's value, and `train` exits 2 with a hint."""

from __future__ import annotations

import sympy as sp

from mechdsl.cli.main import main
from mechdsl.errors import MechdslError
from mechdsl.rl import TrainingDiverged
from mechdsl.solve.float_range import offending_subexpression

SPEC = "specs/static_contract.mech"
UTILITY = "utility iiot(psi, s, r) = rho * psi * r - c * s - c0"


def tower_spec(tmp_path, height: int) -> str:
    tower = "^".join(["c"] * height)
    path = tmp_path / "tower.mech"
    path.write_text(open(SPEC).read().replace(UTILITY, f"{UTILITY} - ({tower})"))
    return str(path)


def test_solve_names_the_subexpression_beyond_float64(tmp_path, capsys):
    spec = tower_spec(tmp_path, 3)
    assert main(["solve", spec]) == 2
    err = capsys.readouterr().err
    line = next(n for n, text in enumerate(open(spec).read().splitlines(), 1) if text.startswith("utility"))
    assert f"{spec}:{line}:1: error: numbers beyond float64: the utility's c**(c**c) is beyond float64" in err
    assert "hint: rescale the spec's units" in err and "internal error" not in err


def test_a_tall_tower_is_found_as_quickly(tmp_path, capsys):
    assert main(["solve", tower_spec(tmp_path, 46)]) == 2
    assert "the utility's c**(c**c) is beyond float64" in capsys.readouterr().err


def test_offending_subexpression_is_innermost_and_exact():
    c, x = sp.Symbol("c", real=True), sp.Symbol("x", real=True)
    numbers = {c: sp.Float(30)}
    assert offending_subexpression(x * c ** (c ** c) + c, numbers) == c ** (c ** c)
    assert offending_subexpression(x * c ** c + c, numbers) is None     # 30^30 = 2e44 is a float64
    assert offending_subexpression(x / (c - 30), numbers) == 1 / (c - 30)  # division by zero


def test_a_non_finite_reward_in_training_is_a_user_error(tmp_path, capsys):
    assert issubclass(TrainingDiverged, MechdslError)
    assert main(["train", tower_spec(tmp_path, 3), "--steps", "1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "training diverged at step 1: reward = -inf" in err
    assert "`mechdsl solve SPEC` names the statement" in err and "internal error" not in err
