"""A `let` of constants only has one value per state, like every other state entry.

Found by the mutant fuzz (issue 34): `specs/two_period.mech` with `let P_W = 10^((-30) / 10)`
(the `P_dBm` deleted) checks, but `sample_states` gave P_W as a 0-dimensional array, and
`mechdsl solve` ended in exit 3 (`IndexError: too many indices for array`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import mechdsl
from mechdsl.cli.main import main
from mechdsl.solve.state import sample_states, state_at

ROOT = Path(__file__).resolve().parents[2]


def _spec(tmp_path) -> Path:
    text = (ROOT / "specs" / "two_period.mech").read_text(encoding="utf-8")
    old = "let P_W = 10^((P_dBm - 30) / 10)"
    assert text.count(old) == 1
    spec = tmp_path / "constant_let.mech"
    spec.write_text(text.replace(old, "let P_W = 10^((-30) / 10)"), encoding="utf-8")
    return spec


def test_a_constant_let_is_one_value_per_state(tmp_path):
    model = mechdsl.load(str(_spec(tmp_path)))
    values = sample_states(model, 3, np.random.default_rng(0))
    assert values["P_W"].shape == (3,)
    assert np.allclose(values["P_W"], 10 ** (-3))
    assert state_at(values, 2)["P_W"] == values["P_W"][2]


def test_solve_of_a_spec_with_a_constant_let(tmp_path, capsys):
    code = main(["solve", str(_spec(tmp_path))])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "objective = " in captured.out
