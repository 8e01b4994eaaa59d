"""The unreduced problem's pieces that both exact solvers build on: every original constraint
with truthful later play (g >= 0, from the constraint families of `mechdsl.constraints`) and one
CVXPY variable per decision symbol with the bounds family as its box. `solve.exact` (one
program per state) and `solve.parametric` (one compiled program for every state) share them."""

from __future__ import annotations

import cvxpy as cp
import sympy as sp

from mechdsl import constraints as constraint_families
from mechdsl.constraints import BOUNDS, TRUTHFUL
from mechdsl.model import Model


def original_constraints(model: Model) -> list[tuple[str, sp.Expr]]:
    """Every original constraint as (label, g) meaning g >= 0, with truthful later play
    (`mechdsl.constraints`; the bounds are the CVXPY variables' own, `cvxpy_variables`)."""
    return [(c.name, c.g) for c in constraint_families.original_constraints(model, TRUTHFUL)]


def cvxpy_variables(model: Model) -> tuple[dict[sp.Symbol, cp.Variable], list]:
    """One CVXPY variable per decision symbol and the bounds family as `var >= lower`, `var <= upper`."""
    variables = {s: cp.Variable(name=s.name.replace(" ", "")) for s in model.decision_symbols()}
    bounds = [variables[symbol] >= value if side == "lower" else variables[symbol] <= value
              for symbol, side, value in (c.bound for c in BOUNDS.instances(model))]
    return variables, bounds
