"""Numbers a spec produces beyond float64: a user error naming the statement, not a crash.

The solvers evaluate the spec in float64 (largest finite value about 1.8e308). A legal spec can
leave that range at a sampled state, e.g. `c^c^c` with c ~ uniform(25, 35) (30^(30^30)); the
lambdified functions then raise `OverflowError` (or `ZeroDivisionError`) deep inside a solve.
`out_of_float_range` turns that into `FloatRangeExceeded`, a `ReferenceUnavailable` (exit 2 in
`solve`; a flagged state in training and evaluation), positioned at the first statement (the
utility, then the objective) holding a subexpression of the state's numbers alone whose exact
value in float64 is not finite (`mechdsl.lang.float64`).
"""

from __future__ import annotations

import sympy as sp

from mechdsl.errors import ReferenceUnavailable
from mechdsl.lang.float64 import beyond_float64
from mechdsl.model import Model


class FloatRangeExceeded(ReferenceUnavailable):
    """A state at which the spec's numbers leave float64; `statement` names the AST class of the
    statement holding the offending subexpression (None when none was found)."""

    headline = "numbers beyond float64"

    def __init__(self, message: str, state: dict[str, float], statement: str | None, hint: str):
        super().__init__(message, state, hint)
        self.statement = statement


def offending_subexpression(expr: sp.Expr, numbers: dict[sp.Symbol, sp.Expr]) -> sp.Expr | None:
    """The first subexpression of `expr` (innermost first) that depends only on the state's
    numbers and whose value is beyond float64 or undefined there (`mechdsl.lang.float64`), or None."""
    return beyond_float64(expr, {symbol: float(value) for symbol, value in numbers.items()}, undefined=True)


def out_of_float_range(model: Model, state: dict[str, float], numbers: dict[sp.Symbol, sp.Expr],
                       error: ArithmeticError) -> FloatRangeExceeded:
    """The user error for an `OverflowError`/`ZeroDivisionError` raised while solving `state`."""
    statements = [("UtilityDecl", "the utility", model.utility.expr)]
    if model.objective is not None:
        statements.append(("ObjectiveDecl", "the objective", model.objective.expr))
    for statement, what, expr in statements:
        culprit = offending_subexpression(expr, numbers)
        if culprit is not None:
            shown = ", ".join(f"{s} = {float(numbers[s]):.6g}" for s in sorted(culprit.free_symbols, key=str))
            return FloatRangeExceeded(
                f"{what}'s {sp.sstr(culprit)} is beyond float64 (about 1.8e308) at a sampled state ({shown})",
                state, statement, hint="rescale the spec's units or bound the parameters so every value stays "
                                       "far below 1e308; the solvers and the generated env compute in float64")
    return FloatRangeExceeded(
        f"the spec's numbers leave float64 at a sampled state ({type(error).__name__}: {error})", state, None,
        hint="rescale the spec's units or bound the parameters; the solvers compute in float64")
