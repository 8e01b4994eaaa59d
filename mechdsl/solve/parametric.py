"""A compiled exact oracle: the unreduced problem built ONCE with CVXPY parameters.

Solving state after state with `solve_unreduced` rebuilds the SymPy substitution and the
CVXPY problem every time. Here the objective and constraints are expanded (products
distributed over sums, powers left intact) so every term is
    (state-only coefficient) x (decision-variable monomial),
each distinct state-only subexpression becomes one parameter entry whose value is computed
per state by a single lambdified function, and `coef * b^(e)` with a coefficient of known
sign becomes `+-exp(e ln b + ln|coef|)`. The problem is then DPP (disciplined parametrized
programming), so CVXPY canonicalises it once and each state costs one solver call.

These entries belong to a few vector `cp.Parameter`s (blocks of BLOCK entries per
sign: nonnegative, nonpositive, free), not one scalar `cp.Parameter` each: CVXPY checks every
value it is given, and one scalar at a time (214 at K = 5 of specs/two_period.mech) that was
half of a state's solve: 24 ms -> 12 ms at K = 5, 6.0 -> 3.4 ms at K = 2, to the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
import sympy as sp

from mechdsl.errors import ReferenceUnavailable
from mechdsl.model import Model
from mechdsl.reduce.assumptions import with_signs
from mechdsl.solve.convex_solve import solve_convex
from mechdsl.solve.cvxpy_model import cvxpy_variables, original_constraints
from mechdsl.solve.to_cvxpy import NotConvexible, power, real_number


class NotParametric(Exception):
    pass


def _expand(expr: sp.Expr) -> sp.Expr:
    return sp.expand(expr, power_exp=False, power_base=False, log=False, multinomial=True, mul=True)


BLOCK = 64  # entries of each vector parameter


@dataclass
class _Slot:
    """Where a state-only subexpression's value goes: entry `index` of block `block`."""

    expr: sp.Expr
    block: int
    index: int


@dataclass
class _Builder:
    model: Model
    decision: set
    variables: dict
    parameters: dict = field(default_factory=dict)  # srepr of a state-only expression -> _Slot
    blocks: list = field(default_factory=list)      # the vector cp.Parameters
    filling: dict = field(default_factory=dict)     # sign -> (block, entries used) of its open block

    def number(self, expr: sp.Expr) -> float:
        try:
            return real_number(expr)
        except NotConvexible as error:
            raise NotParametric(str(error)) from None

    def param(self, expr: sp.Expr):
        if expr.is_number:
            return self.number(expr)
        key = sp.srepr(expr)
        if key not in self.parameters:
            signed = with_signs(expr, self.model)  # a signed parameter keeps products DCP
            sign = "nonneg" if signed.is_nonnegative else "nonpos" if signed.is_nonpositive else "free"
            block, used = self.filling.get(sign, (None, BLOCK))
            if used == BLOCK:
                block, used = len(self.blocks), 0
                self.blocks.append(cp.Parameter(BLOCK, name=f"s{block}", **({} if sign == "free" else {sign: True})))
            self.filling[sign] = (block, used + 1)
            self.parameters[key] = _Slot(expr, block, used)
        slot = self.parameters[key]
        return self.blocks[slot.block][slot.index]

    def is_state(self, expr: sp.Expr) -> bool:
        return not (expr.free_symbols & self.decision)

    def translate(self, expr: sp.Expr):
        if self.is_state(expr):
            return self.param(expr)
        if isinstance(expr, sp.Symbol):
            return self.variables[expr]
        if isinstance(expr, sp.Add):
            terms = [self.translate(a) for a in expr.args]
            return sum(terms[1:], terms[0])
        if isinstance(expr, sp.Mul):
            state = sp.Mul(*[a for a in expr.args if self.is_state(a)])
            rest = [a for a in expr.args if not self.is_state(a)]
            if len(rest) != 1:
                raise NotParametric(f"product of decision expressions {rest}")
            (inner,) = rest
            exponent = self._exponent(inner)
            if exponent is not None and not state.is_number:
                sign = with_signs(state, self.model)
                if sign.is_positive or sign.is_negative:
                    s = 1.0 if sign.is_positive else -1.0
                    return s * cp.exp(self.translate(exponent) + self.param(sp.log(s * state)))
            if state.is_number:
                return self.number(state) * self.translate(inner)
            if exponent is not None:
                raise NotParametric(f"coefficient of unknown sign before {inner}")
            return self.param(state) * self.translate(inner)
        exponent = self._exponent(expr)
        if exponent is not None:
            return cp.exp(self.translate(exponent))
        if isinstance(expr, sp.Pow) and expr.exp.is_number:
            try:
                return power(self.translate(expr.base), self.number(expr.exp))
            except NotConvexible as error:
                raise NotParametric(str(error)) from None
        if isinstance(expr, sp.log):
            return cp.log(self.translate(expr.args[0]))
        raise NotParametric(f"no parametric translation for {type(expr).__name__}")

    def _exponent(self, expr: sp.Expr) -> sp.Expr | None:
        """e ln b for b^e with a state-only base b, or e for exp(e); None otherwise."""
        if isinstance(expr, sp.exp):
            return _expand(expr.args[0])
        if isinstance(expr, sp.Pow) and self.is_state(expr.base) and not self.is_state(expr.exp):
            base = expr.base
            if isinstance(base, sp.Pow) and base.base.is_number:  # (2^e1)^e2
                return _expand(base.exp * expr.exp * sp.log(base.base))
            return _expand(expr.exp * sp.log(base))
        return None


class ParametricOracle:
    """Exact optimum of the unreduced problem for many states, compiled once."""

    def __init__(self, model: Model, inequalities: list[sp.Expr] | None = None):
        """`inequalities` (g >= 0) default to every original constraint (the unreduced
        problem); a derivation's reduced set gives the compiled reduced problem."""
        self.model = model
        decision = model.decision_symbols()
        variables, constraints = cvxpy_variables(model)
        builder = _Builder(model, set(decision), variables)
        constants = {s: sp.Float(v) for s, v in model.constant_values().items()}  # fixed per model
        objective = builder.translate(_expand(model.objective.expr.xreplace(constants)))
        if inequalities is None:
            inequalities = [g for _, g in original_constraints(model)]
        for g in inequalities:
            constraints.append(builder.translate(_expand(g.xreplace(constants))) >= 0)
        sense = cp.Maximize if model.objective.sense == "maximize" else cp.Minimize
        self.problem = cp.Problem(sense(objective), constraints)
        if not self.problem.is_dcp(dpp=True):
            raise NotParametric("the problem is not DPP")
        self.variables = variables
        self._blocks = builder.blocks
        slots = list(builder.parameters.values())
        self._slot_blocks = np.array([slot.block for slot in slots], dtype=np.intp)
        self._slot_indices = np.array([slot.index for slot in slots], dtype=np.intp)
        exprs = [slot.expr for slot in slots]
        self._state_names = sorted({s.name for e in exprs for s in e.free_symbols})
        symbols = [sp.Symbol(n, real=True) for n in self._state_names]
        self._values = sp.lambdify(symbols, exprs, "numpy")

    def solve_state(self, state: dict[str, float]) -> tuple[float, dict[str, float]]:
        """The optimum at one state; `ReferenceUnavailable` (a user error naming the state) when the
        state's numbers break the solver (NaN or Inf coefficients, a parameter of the wrong sign) or
        the problem has no optimum there (infeasible, unbounded)."""
        with np.errstate(all="ignore"):  # a log of a negative number is NaN: the sign check or the solver refuses it
            values = self._values(*(state[n] for n in self._state_names))
        entries = np.zeros((len(self._blocks), BLOCK))
        entries[self._slot_blocks, self._slot_indices] = np.asarray(values, dtype=float)
        try:
            for block, value in zip(self._blocks, entries):
                block.value = value
            solve_convex(self.problem)
        except (cp.error.SolverError, ValueError, ArithmeticError) as error:
            raise ReferenceUnavailable(
                f"no exact optimum for {self.model.name} at this state: the solver failed on its numbers ({error}; "
                f"state: {', '.join(f'{k} = {v:.6g}' for k, v in state.items())})", state, hint="numbers far apart in magnitude break float64 solvers; rescale the spec's units") from None
        if self.problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise ReferenceUnavailable(f"no exact optimum for {self.model.name} at this state: the exact solver "
                                       f"ended with status {self.problem.status}", state)
        contract = {s.name: float(v.value) for s, v in self.variables.items()}
        return float(self.problem.value), contract

    def optimum(self, states: dict[str, np.ndarray]) -> np.ndarray:
        """Optimal objective for each of n states given as named arrays."""
        n = len(next(iter(states.values())))
        return np.array([self.solve_state({k: float(v[i]) for k, v in states.items()})[0] for i in range(n)])


def oracle(model: Model, inequalities: list[sp.Expr] | None = None) -> ParametricOracle | None:
    """The compiled oracle, or None when the problem is not DPP-parametrisable."""
    try:
        return ParametricOracle(model, inequalities)
    except (NotParametric, cp.error.DCPError):
        return None
