"""The kind registry: each kind's checker, model, back end and verbs agree with the CLI."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from mechdsl.errors import UnsupportedVerb, UsageError
from mechdsl.kinds import KINDS, VERBS, Kind, kind_of_model, kind_of_source
from mechdsl.lang import CHECKERS, load_file

ROOT = Path(__file__).resolve().parents[2]
BACK_END_FUNCTIONS = ("compile", "build_env", "train_run", "evaluate_run")


def test_one_kind_per_checker_and_the_cli_knows_every_verb():
    from mechdsl.cli.main import SUBCOMMANDS

    assert {kind.checker for kind in KINDS.values()} == set(CHECKERS)
    assert [kind.name for kind in KINDS.values()] == [k.checker.KIND for k in KINDS.values()]
    assert set(SUBCOMMANDS) == set(VERBS)


@pytest.mark.parametrize("spec, name", [("specs/two_period.mech", "contract"), ("specs/iot_offloading.mech", "game"),
                                        ("specs/agent_migration.mech", "scenario")])
def test_the_kind_of_a_spec_and_of_its_model(spec, name):
    path = ROOT / spec
    assert kind_of_source(path.read_text(encoding="utf-8"), str(path)).name == name
    assert kind_of_model(load_file(path)).name == name


def test_a_spec_without_a_declaration_is_checked_as_a_contract():
    assert kind_of_source("size K = 2\n", "x.mech").name == "contract"


def test_an_unsupported_verb_names_the_supported_ones():
    game = KINDS["game"]
    with pytest.raises(UnsupportedVerb) as raised:
        game.require("derive", "g.mech")
    assert isinstance(raised.value, UsageError)
    assert str(raised.value) == ("derive: g.mech is a game spec (game NAME); game specs support "
                                 "check, fmt, solve, compile, train, eval, run, sweep; compile, train, eval, run and "
                                 "sweep learn the tier-2 auctioneer: they need an `auction` block with `mechanism "
                                 "double_dutch`; a game without one supports check, fmt and solve")
    game.require("solve", "g.mech")  # supported: no error
    assert KINDS["contract"].verbs == VERBS and not KINDS["scenario"].supports("solve")


def test_a_kind_refuses_an_unknown_verb():
    with pytest.raises(ValueError, match="unknown verb"):
        Kind(checker=CHECKERS[0], model=object, back_end="x", verbs=("check", "prove"), summary="")


def test_a_non_model_has_no_kind():
    with pytest.raises(TypeError):
        kind_of_model(object())


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_back_end_has_the_same_interface(name):
    """compile / build_env / train_run / evaluate_run with one signature per function."""
    reference = KINDS["contract"].pipeline()
    module = KINDS[name].pipeline()
    for function in BACK_END_FUNCTIONS:
        ours, theirs = inspect.signature(getattr(module, function)), inspect.signature(getattr(reference, function))
        assert list(ours.parameters) == list(theirs.parameters), (name, function)


def test_every_kind_that_solves_has_a_solver_in_the_cli():
    from mechdsl.cli.solve_cmd import SOLVERS

    assert set(SOLVERS) == {name for name, kind in KINDS.items() if kind.supports("solve")}
