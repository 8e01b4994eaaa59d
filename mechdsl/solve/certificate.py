"""Certificate: every ORIGINAL constraint of a contract evaluated on numbers.

Given states and a full contract (allocations and payments), evaluate, per sample, every
instance of `mechdsl.constraints.original_constraints(model, OPTIMAL, bounds=True)`:
  * IR: u_t(theta_i; item i) >= 0 for every period t, history h and type i
    (`ir per_period`), or the lifetime value V_1(i) >= 0 (`ir lifetime`);
  * IC / intertemporal IC at every period t, history h, type i and report r != i, with
    OPTIMAL later play (the agent re-optimises its later reports):
        u_t(i; i) + C*(i, i) >= u_t(i; r) + C*(i, r),
        C*(i, r) = delta_{t+1} sum_j P_{t+1}(j | i) max_{r'} [u_{t+1}(j; r') + C*(...)];
  * declared bounds, monotonicity and plain constraints.
The slack of each is g (left - right); the certificate reports the worst (most negative)
slack and where it occurs, by the constraint's label. Nothing here uses the reduction's
formulas: it is the independent check of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from mechdsl.constraints import OPTIMAL, original_constraints
from mechdsl.model import Model
from mechdsl.solve.compile_cache import NUMPY_MODULES, IdentityCache


@dataclass(frozen=True)
class Certificate:
    worst: float                 # min slack over all constraints and samples; >= 0 means feasible
    where: str                   # the constraint attaining it
    sample: int                  # the sample attaining it
    per_sample: np.ndarray       # (n,) min slack per sample
    constraints: int             # number of original constraints checked per sample

    def violation(self) -> np.ndarray:
        """(n,) worst violation per sample, >= 0 (0 = every original constraint holds)."""
        return np.maximum(0.0, -self.per_sample)

    def as_dict(self) -> dict:
        return {"worst_slack": self.worst, "where": self.where, "sample": self.sample,
                "constraints_checked": self.constraints}


_REDUCERS = {sp.Add: np.add, sp.Mul: np.multiply, sp.Max: np.maximum, sp.Min: np.minimum}


class SlackProgram:
    """SymPy expressions -> NumPy, each DISTINCT subexpression computed once per call.

    The constraint families share their subexpressions (every IIC of a history reads the
    same later max_r' values, `Screening.optimal_continuation`), so the expressions are a
    small DAG over a huge tree: `lambdify` would print the tree. Here every node becomes one
    step `slot = f(*slots)`: sums, products, Max and Min fold their arguments pairwise with
    NumPy, any other function is its own `lambdify` on the argument slots, and a node whose
    arguments are not all expressions (Piecewise, ...) is lambdified whole."""

    def __init__(self, expressions: list[sp.Expr]):
        self.inputs: list[str] = []
        self._values: list = []          # slot -> constant value (None for inputs and steps)
        self._steps: list[tuple[int, object, tuple[int, ...]]] = []
        self._slots: dict[sp.Expr, int] = {}
        self._functions: dict[tuple[object, int], object] = {}
        self.outputs = tuple(self._slot(e) for e in expressions)

    def _new_slot(self, value=None) -> int:
        self._values.append(value)
        return len(self._values) - 1

    def _slot(self, expr: sp.Expr) -> int:
        if expr in self._slots:
            return self._slots[expr]
        if isinstance(expr, sp.Symbol):
            slot = self._new_slot()
            self.inputs.append(expr.name)
            self._steps.append((slot, None, (len(self.inputs) - 1,)))
        elif expr.is_number:
            slot = self._new_slot(float(expr))
        elif all(isinstance(a, sp.Expr) for a in expr.args):
            arguments = tuple(self._slot(a) for a in expr.args)
            slot = self._new_slot()
            self._steps.append((slot, self._function(expr.func, len(arguments)), arguments))
        else:
            symbols = sorted(expr.free_symbols, key=lambda x: x.name)
            arguments = tuple(self._slot(x) for x in symbols)
            slot = self._new_slot()
            self._steps.append((slot, sp.lambdify(symbols, expr, NUMPY_MODULES), arguments))
        self._slots[expr] = slot
        return slot

    def _function(self, func, arity: int):
        if func in _REDUCERS:
            reduce = _REDUCERS[func]

            def folded(*values):
                total = values[0]
                for v in values[1:]:
                    total = reduce(total, v)
                return total
            return folded
        key = (func, arity)
        if key not in self._functions:
            dummies = sp.symbols(f"a0:{arity}", real=True, cls=sp.Dummy)
            self._functions[key] = sp.lambdify(dummies, func(*dummies), NUMPY_MODULES)
        return self._functions[key]

    def __call__(self, inputs: list[np.ndarray]) -> list:
        values = list(self._values)
        for slot, function, arguments in self._steps:
            if function is None:
                values[slot] = inputs[arguments[0]]
            else:
                values[slot] = function(*(values[a] for a in arguments))
        return [values[o] for o in self.outputs]


@dataclass(frozen=True)
class CompiledCertificate:
    """The labels of a model's original constraints and the program of their slacks."""

    labels: tuple[str, ...]
    program: SlackProgram


def compile_certificate(model: Model) -> CompiledCertificate:
    """Every original constraint g (optimal later play, bounds included), compiled once."""
    instances = original_constraints(model, OPTIMAL, bounds=True)
    return CompiledCertificate(tuple(c.name for c in instances), SlackProgram([c.g for c in instances]))


_CERTIFICATES = IdentityCache(8)  # id(model) -> its compiled certificate


def _compiled(model: Model) -> CompiledCertificate:
    return _CERTIFICATES.get(id(model), model, lambda: compile_certificate(model))


def certify(model: Model, values: dict[str, np.ndarray], contract: dict[str, np.ndarray]) -> Certificate:
    """values: state arrays by symbol name; contract: decision arrays by symbol name."""
    compiled = _compiled(model)
    merged = {**values, **contract}
    n = len(next(iter(contract.values())))
    slacks = compiled.program([merged[name] for name in compiled.program.inputs])
    matrix = np.stack([np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in slacks])
    flat = int(np.argmin(matrix))
    row, sample = divmod(flat, n)
    return Certificate(float(matrix[row, sample]), compiled.labels[row], sample, matrix.min(axis=0), len(compiled.labels))
