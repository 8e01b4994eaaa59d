"""Refusals of a checked game by a later stage (solver, compiler), positioned at the statement
they are about: file:line:col, the source line with carets, and a hint, like a checker error.

The game model keeps the spec's text and the span of each statement a later stage may
refuse (`GameModel.spans`); a model built without them (a spec given as a string) gets the
same message and hint, unpositioned.
"""

from __future__ import annotations

from mechdsl.errors import MechdslError
from mechdsl.games.model import GameModel
from mechdsl.lang.diagnostics import Diagnostic, SpecError


def refusal(model: GameModel, where: str, message: str, hint: str | None = None,
            unpositioned: type[MechdslError] = MechdslError) -> MechdslError:
    """The error to raise: a `SpecError` at statement `where` ("game", "auction", "player NAME",
    "strategy NAME", "utility NAME"), or `unpositioned(message, hint)` when its span is unknown."""
    span = model.spans.get(where)
    if span is None or not model.source:
        return unpositioned(message, hint=hint)
    return SpecError(model.path, model.source, [Diagnostic(message, span, hint=hint)])
