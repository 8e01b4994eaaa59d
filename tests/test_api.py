"""The Python API (`mechdsl.api`, exposed lazily on `mechdsl`): what the README documents,
checked against the CLI's own output (`mechdsl solve --json`) and with the bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import mechdsl
from mechdsl.api import StateError
from mechdsl.cli.main import main
from mechdsl.rl.runs import RunFolderError

ROOT = Path(__file__).resolve().parents[1]
TWO_PERIOD = str(ROOT / "specs" / "two_period.mech")
STATIC = str(ROOT / "specs" / "static_contract.mech")


def fresh_python(code: str) -> str:
    """stdout of `code` in a new interpreter (nothing imported yet)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return done.stdout.strip()


def test_import_mechdsl_stays_light():
    heavy = fresh_python("import sys, mechdsl; "
                         "print(sorted(m for m in ('sympy', 'torch', 'cvxpy', 'lark', 'numpy', 'scipy') "
                         "if m in sys.modules))")
    assert heavy == "[]"


def test_subpackages_need_no_import_first():
    out = fresh_python("import mechdsl; m = mechdsl.load('specs/static_contract.mech'); "
                       "print(type(mechdsl.reduce.derive(m)).__name__, "
                       "round(mechdsl.solve.exact.solve(m, mechdsl.sample_state(m, 0)).objective, 6))")
    name, objective = out.split()
    assert name == "Derivation" and float(objective) > 0


def test_solve_is_callable_whichever_is_imported_first():
    out = fresh_python("import mechdsl.solve.exact, mechdsl; m = mechdsl.load('specs/static_contract.mech'); "
                       "a = mechdsl.solve(m, seed=3).objective; b = mechdsl.solve.exact.solve(m, "
                       "mechdsl.sample_state(m, 3)).objective; print(abs(a - b) < 1e-6 * abs(b))")
    assert out == "True"


@pytest.fixture(scope="module")
def two_period():
    return mechdsl.load(TWO_PERIOD)


@pytest.fixture(scope="module")
def cli_solution():
    """What `mechdsl solve specs/two_period.mech --seed 4 --json` prints."""
    done = subprocess.run([sys.executable, "-m", "mechdsl.cli.main", "solve", TWO_PERIOD, "--seed", "4", "--json"],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout)


def test_state_from_the_cli_json_solves_to_the_cli_optimum(two_period, cli_solution):
    state = mechdsl.state_from_json(two_period, cli_solution["state"])
    assert state == pytest.approx(mechdsl.sample_state(two_period, seed=4), rel=1e-12)
    for given in (cli_solution, cli_solution["state"], state):  # whole output, its state, the flat state
        solution = mechdsl.solve(two_period, given)
        assert solution.objective == pytest.approx(cli_solution["objective"], rel=1e-6)
        assert set(solution.arrays(two_period)) == set(cli_solution["contract"])  # (optimal menus need not be unique)
        assert solution.certificate.worst >= -1e-5
    assert mechdsl.solve(two_period, seed=4).objective == pytest.approx(cli_solution["objective"], rel=1e-6)


def test_derive_and_pinned_sample_state(two_period):
    derivation = mechdsl.derive(two_period)
    assert derivation.single_crossing.holds and derivation.rules
    state = mechdsl.sample_state(two_period, 0, sigma=0.7)
    assert state["sigma"] == 0.7
    assert state["theta1[0]"] <= state["theta1[1]"]
    with pytest.raises(StateError, match="not a random parameter or state entry"):
        mechdsl.sample_state(two_period, 0, nosuch=1.0)


def _edited(state: dict, **changes) -> dict:
    out = json.loads(json.dumps(state))
    for key, value in changes.items():
        if value is None:
            del out[key]
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("changes, message", [
    ({"sigma": None}, "missing random parameter 'sigma'"),
    ({"theta1": None}, "missing 'theta1'"),
    ({"colour": 3}, "'colour' is not an entry"),
    ({"theta1": [30.0, 20.0]}, "must be ascending"),
    ({"theta1": [20.0, 25.0, 30.0]}, "must have shape \\[2\\]"),
    ({"p1": [0.5, 0.6]}, "sum to 1"),
    ({"p2": [[1.2, -0.2], [0.5, 0.5]]}, "non-negative"),
    ({"sigma": "high"}, "sigma must be a number"),
    ({"N": 6}, "N is the constant 12"),
])
def test_state_from_json_bad_inputs(two_period, cli_solution, changes, message):
    with pytest.raises(StateError, match=message):
        mechdsl.state_from_json(two_period, _edited(cli_solution["state"], **changes))


def test_derived_quantities_are_recomputed(two_period, cli_solution):
    edited = _edited(cli_solution["state"], sigma=0.9, c=-1.0)  # a stale derived value is ignored
    state = mechdsl.state_from_json(two_period, edited)
    assert state["sigma"] == 0.9 and state["c"] > 0
    assert state["c"] == pytest.approx(cli_solution["state"]["c"] * 0.9 / cli_solution["state"]["sigma"])


def test_kinds_are_checked():
    game = mechdsl.load(ROOT / "specs" / "iot_offloading.mech")
    with pytest.raises(TypeError, match="contract model"):
        mechdsl.derive(game)
    with pytest.raises(StateError, match="solved for a seed"):
        mechdsl.solve(game, {"x": 1.0})


def test_compile_and_train_from_python(tmp_path):
    model = mechdsl.load(STATIC, {"K": 3})
    written = mechdsl.compile(model, tmp_path / "pkg")
    assert tmp_path / "pkg" / "env.py" in written
    assert json.loads((tmp_path / "pkg" / "spec.json").read_text())["sizes"] == {"K": 3}
    run = mechdsl.train(model, algo="random", steps=3, out=tmp_path / "run", eval_states=10)
    assert run.run_dir == tmp_path / "run" and 0 < run.evaluation["optimality_ratio"] <= 1 + 1e-6
    assert set(run.stage_seconds) == {"compile", "train", "evaluate", "report"}
    assert json.loads((tmp_path / "run" / "run.json").read_text())["overrides"] == {"K": 3.0}
    with pytest.raises(RunFolderError, match="already exists"):
        mechdsl.train(STATIC, algo="random", steps=3, out=tmp_path / "run", eval_states=10)
    # the CLI reads the API's run folder
    assert main(["eval", str(tmp_path / "run"), "--states", "3"]) == 0
