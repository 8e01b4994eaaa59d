"""The table of spec kinds the CLI reads: adding a kind is one entry here plus its module.

`kind_of_spec` picks the kind of a parsed spec by the checker `mechdsl.lang.checker_for`
chooses (so checking and the CLI can never disagree); `kind_of_model` by the model's class.
"""

from __future__ import annotations

from mechdsl.kinds.auction_design import AUCTION_DESIGN
from mechdsl.kinds.contract import CONTRACT
from mechdsl.kinds.game import GAME
from mechdsl.kinds.kind import Kind
from mechdsl.kinds.scenario import SCENARIO
from mechdsl.lang import ast, checker_for, parse

KINDS: dict[str, Kind] = {kind.name: kind for kind in (CONTRACT, GAME, SCENARIO, AUCTION_DESIGN)}


def kind_of_spec(spec: ast.Spec) -> Kind:
    checker = checker_for(spec)
    return next(kind for kind in KINDS.values() if kind.checker is checker)


def kind_of_source(source: str, path: str) -> Kind:
    """The kind of spec text (parsed, not checked: a syntax error is a `SpecError`)."""
    return kind_of_spec(parse(source, path))


def kind_of_model(model) -> Kind:
    for kind in KINDS.values():
        if isinstance(model, kind.model):
            return kind
    raise TypeError(f"{type(model).__name__} is not the model of a spec kind ({', '.join(KINDS)})")
