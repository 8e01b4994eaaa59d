"""Lowering: AST expressions -> SymPy objects, built node by node (never `sympify`).

One tiny function per AST node type, chosen from a table (CVXPY's per-node dispatch).
Names resolve through a `Scope` supplied by the checker; a mistake raises `LoweringError`
carrying a positioned `Diagnostic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import sympy as sp

from mechdsl.lang import ast
from mechdsl.lang.diagnostics import Diagnostic, closest_names
from mechdsl.lang.float64 import beyond_float64
from mechdsl.tolerances import MAX_MAGNITUDE

BUILTIN_FUNCTIONS: dict[str, tuple[int | None, Callable[..., sp.Expr]]] = {
    "exp": (1, sp.exp),
    "log": (1, sp.log),
    "sqrt": (1, sp.sqrt),
    "abs": (1, sp.Abs),
    "min": (None, lambda *args: lattice(sp.Min, args)),
    "max": (None, lambda *args: lattice(sp.Max, args)),
}


def lattice(build: type[sp.Min] | type[sp.Max], args: tuple[sp.Expr, ...]) -> sp.Expr:
    """min/max of lowered arguments, with only the simplifications that cost nothing.

    SymPy's evaluated `Min`/`Max` compares every pair of symbolic arguments (the sign of
    `factor_terms(a - b)` under the symbols' assumptions), which was two thirds of checking
    `specs/agent_migration.mech`. Here numbers still collapse to their extreme (min(2, 3, x) =
    min(2, x); min of numbers is the number), nested min(min(a, b), c) flattens and repeated
    arguments merge (the arguments are a set, as SymPy stores them), but symbolic arguments are
    kept even where one bounds another: min(x, x + 1) stays as written and is the same value.
    """
    if all(a.is_number for a in args):
        return build(*args)
    flat = [inner for a in args for inner in (a.args if isinstance(a, build) else (a,))]
    numbers = [a for a in flat if a.is_number]
    kept = [a for a in flat if not a.is_number] + ([build(*numbers)] if numbers else [])
    return build(*kept, evaluate=False)


class LoweringError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class Scope(Protocol):
    """What lowering needs from the checker."""

    def resolve_name(self, node: ast.Name, ctx: "Context") -> sp.Expr: ...
    def resolve_subscript(self, node: ast.Subscript, indices: tuple[int, ...], ctx: "Context") -> sp.Expr: ...
    def resolve_call(self, node: ast.Call, args: tuple[sp.Expr, ...], ctx: "Context") -> sp.Expr: ...
    def size_of(self, binding: ast.Binding) -> int: ...


@dataclass(frozen=True)
class Context:
    """Local names in scope: bound indices (`k` -> 2) and function parameters."""

    locals: dict[str, sp.Expr] = field(default_factory=dict)

    def with_local(self, name: str, value: sp.Expr) -> "Context":
        return Context({**self.locals, name: value})


def fail(message: str, span: ast.Span, hint: str | None = None) -> LoweringError:
    return LoweringError(Diagnostic(message, span, hint))


def lower(node: ast.Expr, scope: Scope, ctx: Context | None = None) -> sp.Expr:
    """The SymPy expression of an AST expression under `scope` and local context `ctx`."""
    return _LOWER[type(node)](node, scope, ctx or Context())


def _number(node: ast.Number, scope, ctx) -> sp.Expr:
    """A number as written; beyond MAX_MAGNITUDE (1e400 even overflows a float) it is refused."""
    if not abs(node.value) <= MAX_MAGNITUDE:
        raise fail(f"{node.text} is beyond mechdsl's limit of {MAX_MAGNITUDE:.0e} in magnitude".replace("e+", "e"),
                   node.span, hint="the float64 solvers fail on numbers this large; rescale the spec's units "
                                   "(thousands, millions)")
    text = node.text
    is_integer = text.isdigit()
    return sp.Integer(int(text)) if is_integer else sp.Float(node.value)


def _name(node: ast.Name, scope, ctx) -> sp.Expr:
    if node.name in ctx.locals:
        return ctx.locals[node.name]
    return scope.resolve_name(node, ctx)


def integer_index(value: sp.Expr, span: ast.Span) -> int:
    if not (value.is_number and value.is_integer):
        raise fail(
            "an index must be a whole number made of bound indices and sizes",
            span,
            hint="bind indices with `sum(k in K, ...)` or `for k in K`",
        )
    return int(value)


def _subscript(node: ast.Subscript, scope, ctx) -> sp.Expr:
    indices = tuple(integer_index(lower(i, scope, ctx), i.span) for i in node.indices)
    return scope.resolve_subscript(node, indices, ctx)


def _call(node: ast.Call, scope, ctx) -> sp.Expr:
    args = tuple(lower(a, scope, ctx) for a in node.args)
    if node.function in BUILTIN_FUNCTIONS and node.function not in ctx.locals:
        arity, build = BUILTIN_FUNCTIONS[node.function]
        if arity is not None and len(args) != arity:
            raise fail(f"{node.function}() takes {arity} argument(s), got {len(args)}", node.span)
        if arity is None and len(args) < 2:
            raise fail(f"{node.function}() needs at least 2 arguments", node.span)
        _refuse_beyond_float64(build, args, node.span)
        return build(*args)
    return scope.resolve_call(node, args, ctx)


def _chain_operand(op: str, operand: ast.Expr, scope, ctx) -> sp.Expr:
    """One operand of a chain as the term or factor it contributes: b for `+ b` and `* b`,
    -b for `- b`, b^-1 for `/ b` (a - b = a + (-b), a / b = a b^-1, as SymPy itself builds them)."""
    value = lower(operand, scope, ctx)
    if op == "-":
        return -value
    if op == "/":
        if value.is_zero:
            raise fail("division by zero", operand.span)
        return sp.Pow(value, -1)
    return value


def _operator_chain(node: ast.OperatorChain, scope, ctx) -> sp.Expr:
    """`a - b + c` -> Add(a, -b, c) and `a * b / c` -> Mul(a, b, c^-1): one flat SymPy node,
    however many operands, so nothing downstream recurses along a long sum."""
    first = lower(node.first, scope, ctx)
    rest = [_chain_operand(op, operand, scope, ctx) for op, operand in node.rest]
    combine = sp.Add if node.rest[0][0] in "+-" else sp.Mul
    return combine(first, *rest)


# A power of exact numbers is computed exactly; one whose value would need more binary digits
# than this (2^2^2^2^2^2 needs 2^65537) is refused instead of exhausting time and memory.
MAX_EXACT_POWER_BITS = 1_000_000


def _binary(node: ast.BinaryOp, scope, ctx) -> sp.Expr:
    base, exponent = lower(node.left, scope, ctx), lower(node.right, scope, ctx)
    if base.is_Rational and exponent.is_Integer and abs(base) != 1 and not base.is_zero:
        digits = max(abs(base.p), abs(base.q)).bit_length() * abs(int(exponent))
        if digits > MAX_EXACT_POWER_BITS:
            raise fail("this power of numbers is too large to compute exactly", node.span,
                       hint=f"its value would need more than {MAX_EXACT_POWER_BITS:,} binary digits")
    _refuse_beyond_float64(sp.Pow, (base, exponent), node.span)
    return sp.Pow(base, exponent)


def _refuse_beyond_float64(build: Callable[..., sp.Expr], args: tuple[sp.Expr, ...], span: ast.Span) -> None:
    """A function or power of NUMBERS is computed by SymPy the moment it is built, exactly and
    without bound (exp(exp(exp(exp(exp(exp(exp(0.01))))))) never finishes): refuse it when its
    float64 value overflows (`mechdsl.lang.float64`), before building it."""
    if build not in (sp.exp, sp.Pow) or not all(a.is_number for a in args):
        return  # of the builtins only exp and powers of finite numbers can leave float64
    with sp.evaluate(False):
        unevaluated = build(*args)
    if beyond_float64(unevaluated, {}) is not None:
        raise fail("this value is beyond float64 (about 1.8e308)", span,
                   hint="every stage computes in float64: rescale the spec's units")


def _negate(node: ast.Negate, scope, ctx) -> sp.Expr:
    operand = lower(node.operand, scope, ctx)
    return -operand if node.count % 2 else operand


def _indexed_sum(node: ast.IndexedSum, scope, ctx) -> sp.Expr:
    size = scope.size_of(node.binding)
    return sp.Add(*(lower(node.body, scope, ctx.with_local(node.binding.index, sp.Integer(k))) for k in range(size)))


_LOWER: dict[type, Callable[[ast.Expr, Scope, Context], sp.Expr]] = {
    ast.Number: _number,
    ast.Name: _name,
    ast.Subscript: _subscript,
    ast.Call: _call,
    ast.OperatorChain: _operator_chain,
    ast.BinaryOp: _binary,
    ast.Negate: _negate,
    ast.IndexedSum: _indexed_sum,
}


def unknown_name(name: str, span: ast.Span, candidates) -> LoweringError:
    return fail(f"'{name}' is not defined", span, hint=closest_names(name, candidates))
