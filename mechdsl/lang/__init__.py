"""Front end of mechdsl: grammar, AST, parser, checkers, diagnostics and formatter."""

from __future__ import annotations

from pathlib import Path

from mechdsl.lang import ast
from mechdsl.lang.checker import ContractChecker
from mechdsl.lang.checker import check as check_contract
from mechdsl.lang.diagnostics import Diagnostic, SpecError
from mechdsl.lang.game_checker import GameChecker
from mechdsl.lang.parser import parse
from mechdsl.lang.scenario_checker import ScenarioChecker
from mechdsl.lang.auction_design_checker import AuctionDesignChecker  # noqa: I001 - last: its statements' owners list it last

# The checker of each kind, in the order their declarations are looked for: a spec that
# declares `scenario NAME` is a scenario, else `game NAME` a game, else `design auction NAME`
# an auction to design, else a contract (whose checker reports a missing `mechanism NAME`).
CHECKERS = (ScenarioChecker, GameChecker, AuctionDesignChecker, ContractChecker)


def checker_for(spec: ast.Spec) -> type:
    """The checker class of a parsed spec's kind."""
    declared = {type(s) for s in spec.statements}
    return next((c for c in CHECKERS if c.DECLARATION in declared), ContractChecker)


def check(spec: ast.Spec, overrides: dict[str, float] | None = None):
    """Check a parsed spec with its kind's checker: a contract `Model`, a `GameModel` or a
    `ScenarioModel`; raises `SpecError` listing every mistake."""
    return checker_for(spec)(spec, dict(overrides or {})).check()


def load_source(source: str, path: str = "<string>", overrides: dict[str, float] | None = None):
    """Parse and check spec text; returns the checked model."""
    return check(parse(source, path), overrides)


def load_file(path: str | Path, overrides: dict[str, float] | None = None):
    path = Path(path)
    return load_source(path.read_text(encoding="utf-8"), str(path), overrides)


__all__ = ["CHECKERS", "Diagnostic", "SpecError", "check", "check_contract", "checker_for", "load_file",
           "load_source", "parse"]
