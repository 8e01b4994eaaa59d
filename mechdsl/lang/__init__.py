"""Front end of mechdsl: grammar, AST, parser, checker, diagnostics and formatter."""

from __future__ import annotations

from pathlib import Path

from mechdsl.lang.checker import check as check_contract
from mechdsl.lang.diagnostics import Diagnostic, SpecError
from mechdsl.lang.parser import parse


def check(spec, overrides: dict[str, float] | None = None):
    """Check a parsed spec: a `game` spec gives a `GameModel`, a `scenario` spec a
    `ScenarioModel`, any other a contract `Model`."""
    from mechdsl.lang.game_checker import check_game, is_game
    from mechdsl.lang.scenario_checker import check_scenario, is_scenario

    if is_scenario(spec):
        return check_scenario(spec, overrides)
    return check_game(spec, overrides) if is_game(spec) else check_contract(spec, overrides)


def load_source(source: str, path: str = "<string>", overrides: dict[str, float] | None = None):
    """Parse and check spec text; returns the checked `Model`."""
    return check(parse(source, path), overrides)


def load_file(path: str | Path, overrides: dict[str, float] | None = None):
    path = Path(path)
    return load_source(path.read_text(encoding="utf-8"), str(path), overrides)


__all__ = ["Diagnostic", "SpecError", "check", "check_contract", "load_file", "load_source", "parse"]
