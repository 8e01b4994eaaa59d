"""Checker: `ast.Spec` -> `mechdsl.model.Model`, or a `SpecError` listing every mistake.

Declarations are collected first (so `let`s may be used before they are written), then
each statement is resolved on its own; a mistake in one statement is recorded and the
checker moves on, so independent errors are reported together.
"""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass, field

import sympy as sp

from mechdsl import model as m
from mechdsl.lang import ast
from mechdsl.lang.diagnostics import Diagnostic, SpecError, did_you_mean, source_lines
from mechdsl.lang.fmt import format_constraint_body
from mechdsl.lang.lowering import BUILTIN_FUNCTIONS, Context, LoweringError, fail, lower, unknown_name
from mechdsl.lang.train_schema import (ALGORITHMS, HYPERPARAMETER_RANGES, RUN_SETTINGS, STRING_CHOICES,
                                       hyperparameters_of)

# Names that would shadow Python or the generated code's own names.
RESERVED = frozenset(keyword.kwlist) | {
    "torch", "math", "self", "state", "action", "batch", "device", "dtype", "generator",
    "sum", "in", "for", "print", "int", "float", "str", "list", "dict", "tuple", "range",
} | set(BUILTIN_FUNCTIONS)

DISTRIBUTION_ARITY = {"uniform": 2, "loguniform": 2, "normal": 2, "choice": None, "dirichlet": None}


_EXAMPLES = {
    ast.MechanismDecl: "mechanism my_contract",
    ast.PrincipalDecl: "principal server",
    ast.AgentDecl: "agent worker count N",
    ast.UtilityDecl: "utility worker(theta, T, R) = theta * R - c * T",
    ast.ObjectiveDecl: "maximize sum(k in K, p[k] * (Q(T[k]) - R[k]))",
}


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class _AlreadyReported(LoweringError):
    """A use of a name whose declaration already has a reported mistake: say nothing more,
    so one mistake gives one message instead of one per use."""

    def __init__(self, name: str):
        Exception.__init__(self, name)
        self.diagnostic = None


@dataclass
class _Declared:
    kind: str
    node: ast.Statement


@dataclass
class Checker:
    spec: ast.Spec
    overrides: dict[str, float] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.declared: dict[str, _Declared] = {}
        self.sizes: dict[str, int] = {}
        self.constants: dict[str, m.ConstParam] = {}
        self.randoms: dict[str, m.RandomParam] = {}
        self.types: dict[str, m.TypeVector] = {}
        self.probs: dict[str, m.ProbTable] = {}
        self.variables: dict[str, m.ContractVariable] = {}
        self.derived: dict[str, m.Derived] = {}
        self.macros: dict[str, sp.Expr] = {}  # lets that involve decision variables
        self._resolving: list[str] = []
        self._const_cache: dict[str, float] = {}
        self._rejected: set[int] = set()  # ids of declarations refused by _collect (reserved/duplicate)
        self._failed: set[str] = set()  # declared names whose declaration has a reported mistake
        self._size_sweeps: dict[str, tuple[int, ...]] = {}
        self._cycles: set[frozenset[str]] = set()  # definition cycles already reported
        self._substitution: dict[sp.Symbol, sp.Float] = {}
        self._substitution_size = -1

    # ================================================================ driver
    def check(self) -> m.Model:
        self._collect()
        self._apply_unknown_overrides()
        self._check_parameters()
        for node in self._of(ast.TypesDecl):
            self._declare(self._types, node)
        for node in self._of(ast.TypesFixed):
            self._declare(self._fixed_types, node)
        for node in self._of(ast.ProbRandom, ast.ProbFixed):
            self._declare(self._prob, node)
        for node in self._of(ast.VariableDecl):
            self._declare(self._variable, node)
        for node in self._of(ast.LetValue):
            self._declare(lambda n: self._let_value(n.name), node)
        for node in self._of(ast.LetFunction):
            self._declare(self._function_body_check, node)
        utility_node = self._single(ast.UtilityDecl, "utility")
        utility = self._attempt(self._utility, utility_node) if utility_node else None
        periods = self._attempt(self._periods)
        objective_node = self._single(ast.ObjectiveDecl, "objective (maximize ...)")
        objective = self._attempt(self._objective, objective_node) if objective_node else None
        agent = self._single(ast.AgentDecl, "agent")
        agent_count = self._attempt(self._agent_count, agent) if agent else None
        principal = self._single(ast.PrincipalDecl, "principal")
        mechanism = self._single(ast.MechanismDecl, "mechanism name")
        constraints = tuple(
            c for node in self._of(ast.ConstraintIR, ast.ConstraintIC, ast.ConstraintIIC,
                                   ast.ConstraintMonotone, ast.ConstraintPlain)
            if (c := self._attempt(self._constraint, node, periods)) is not None
        )
        trains = self._of(ast.TrainDecl)
        for extra in trains[1:]:
            self._error("only one train block is allowed", extra.span)
        train = self._attempt(self._train, trains[0]) if trains else {}
        if self.diagnostics:
            raise SpecError(self.spec.path, self.spec.source, self.diagnostics)
        return m.Model(
            name=mechanism.name, path=self.spec.path, sizes=dict(self.sizes),
            constants=self.constants, randoms=self.randoms, derived=self.derived,
            types=self.types, probs=self.probs, principal=principal.name, agent=agent.name,
            agent_count=agent_count, utility=utility, periods=periods,
            variables=self.variables, objective=objective, constraints=constraints,
            train=train or {},
            size_sweeps=dict(self._size_sweeps),
        )

    def _check_parameters(self) -> None:
        """Sizes (with --set overrides), constants and scalar random parameters: the part
        every kind of spec (contract or game) starts with."""
        for node in self._of(ast.SizeDecl):
            self.sizes[node.name] = int(self.overrides.get(node.name, node.value))
            if self.sizes[node.name] < 1:
                self._error(f"size '{node.name}' must be at least 1", node.span)
        for node in self._of(ast.ParamConst):
            self._declare(self._constant, node)
        for node in self._of(ast.ParamRandom):
            self._declare(self._random, node)
        for node in self._of(ast.SizeDecl):
            if node.sweep:
                self._size_sweep(node)

    def _size_sweep(self, node: ast.SizeDecl) -> None:
        """`size K = 2 in {2, 3, 5}`: the values a sweep may use, whole numbers >= 1."""
        values = []
        for value_node in node.sweep:
            try:
                value = self.numeric(value_node, "a size value")
            except LoweringError as error:
                self._record(error)
                return
            if value < 1 or value != int(value):
                self._error(f"size '{node.name}' can only take whole numbers >= 1, got {value:g}", value_node.span)
                return
            values.append(int(value))
        self._size_sweeps[node.name] = tuple(values)

    # ================================================================ helpers
    def _error(self, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, span, hint))

    def _record(self, error: LoweringError) -> None:
        if error.diagnostic is not None and error.diagnostic not in self.diagnostics:
            self.diagnostics.append(error.diagnostic)

    def _attempt(self, method, *args):
        try:
            return method(*args)
        except LoweringError as error:
            self._record(error)
            return None

    def _declare(self, method, node) -> None:
        """Check one declaration; if it has a mistake, later uses of its name stay quiet."""
        try:
            method(node)
        except LoweringError as error:
            self._failed.add(node.name)
            self._record(error)

    def _of(self, *kinds) -> list:
        return [s for s in self.spec.statements if isinstance(s, kinds) and id(s) not in self._rejected]

    def _single(self, kind, what: str):
        nodes = self._of(kind)
        if not nodes:
            end = len(source_lines(self.spec.source))
            self._error(f"the spec declares no {what}", ast.Span(end, 1, end, 2),
                        hint=f"add a statement such as `{_EXAMPLES[kind]}`")
            return None
        for extra in nodes[1:]:
            self._error(f"a second {what}; only one is allowed", extra.span)
        return nodes[0]

    def _collect(self) -> None:
        kinds = {
            ast.SizeDecl: "size", ast.ParamConst: "constant", ast.ParamRandom: "random parameter",
            ast.LetValue: "let", ast.LetFunction: "function", ast.TypesDecl: "types", ast.TypesFixed: "types",
            ast.ProbRandom: "probability", ast.ProbFixed: "probability",
            ast.VariableDecl: "contract variable", ast.PrincipalDecl: "principal",
            ast.AgentDecl: "agent",
        }
        for node in self.spec.statements:
            kind = kinds.get(type(node))
            if kind is None:
                continue
            if node.name in RESERVED or node.name.startswith("__"):
                self._error(f"'{node.name}' is a reserved word and cannot name {_article(kind)} {kind}", node.span,
                            hint="pick another name; reserved words would clash in generated code")
                self._rejected.add(id(node))
                continue
            if node.name in self.declared:
                first = self.declared[node.name].node.span.line
                self._error(f"'{node.name}' is already defined (line {first})", node.span,
                            hint="each name may be declared once")
                self._rejected.add(id(node))
                continue
            self.declared[node.name] = _Declared(kind, node)

    def _apply_unknown_overrides(self) -> None:
        for name in self.overrides:
            decl = self.declared.get(name)
            if decl is None or decl.kind not in ("size", "constant"):
                hint = did_you_mean(name, [n for n, d in self.declared.items() if d.kind in ("size", "constant")])
                self._error(f"--set {name}: not a size or constant parameter of this spec",
                            ast.Span(1, 1, 1, 2), hint=hint)

    def _kind(self, name: str) -> str | None:
        decl = self.declared.get(name)
        return decl.kind if decl else None

    def numeric(self, node: ast.Expr, what: str, ctx: Context | None = None) -> float:
        """Evaluate an expression that must be a number once constants are substituted."""
        value = lower(node, self, ctx).xreplace(self._constant_substitution())
        if not value.is_number:
            raise fail(f"{what} must be a constant number", node.span,
                       hint="only constants, sizes and bound indices may appear here")
        result = complex(value.evalf())
        if result.imag != 0 or not math.isfinite(result.real):
            raise fail(f"{what} is not a finite real number", node.span)
        return result.real

    def _constant_substitution(self) -> dict[sp.Symbol, sp.Float]:
        """Constant symbol -> its value; rebuilt only when a constant was added (they never change)."""
        if self._substitution_size != len(self.constants):
            self._substitution = {c.symbol(): sp.Float(c.value) for c in self.constants.values()}
            self._substitution_size = len(self.constants)
        return self._substitution

    # ================================================================ Scope protocol
    def size_of(self, binding: ast.Binding) -> int:
        if binding.size not in self.sizes:
            if self._kind(binding.size) is None:
                raise unknown_name(binding.size, binding.span, self.sizes)
            raise fail(f"'{binding.size}' is not a size; indices range over sizes", binding.span,
                       hint=f"declare `size {binding.size} = ...` or use one of: {', '.join(self.sizes)}")
        return self.sizes[binding.size]

    def resolve_name(self, node: ast.Name, ctx: Context) -> sp.Expr:
        name, kind = node.name, self._kind(node.name)
        if kind == "size":
            return sp.Integer(self.sizes.get(name, 1))
        if kind == "constant":
            return self._constant_symbol(name, node.span)
        if kind == "random parameter":
            return sp.Symbol(name, real=True)
        if kind == "let":
            return self._let_value(name)
        if kind in ("types", "probability", "contract variable"):
            shape = self.declared[name].node.shape if kind != "types" else ("K",)
            raise fail(f"'{name}' needs {len(shape)} index(es), e.g. {name}[{', '.join('k' * 1 for _ in shape)}]",
                       node.span)
        if kind == "function":
            raise fail(f"'{name}' is a function; call it as {name}(...)", node.span)
        if kind in ("principal", "agent"):
            raise fail(f"'{name}' names the {kind}; it has no value", node.span)
        if name in BUILTIN_FUNCTIONS:
            raise fail(f"'{name}' is a function; call it as {name}(...)", node.span)
        raise unknown_name(name, node.span, [*self.declared, *ctx.locals])

    def resolve_subscript(self, node: ast.Subscript, indices: tuple[int, ...], ctx: Context) -> sp.Expr:
        entity = self._indexed_entity(node.name)
        if entity is None and node.name in self._failed:
            raise _AlreadyReported(node.name)
        if entity is None:
            if self._kind(node.name) is None and node.name not in ctx.locals:
                raise unknown_name(node.name, node.span, [*self.declared])
            raise fail(f"'{node.name}' is not indexed", node.span)
        if len(indices) != len(entity.shape):
            raise fail(f"'{node.name}' takes {len(entity.shape)} index(es), got {len(indices)}", node.span)
        for position, (i, n) in enumerate(zip(indices, entity.shape)):
            if not 0 <= i < n:
                raise fail(f"index {i} is out of range for '{node.name}' (dimension {position + 1} has "
                           f"size {n}: valid indices 0..{n - 1})", node.indices[position].span)
        return entity.symbol(*indices)

    def resolve_call(self, node: ast.Call, args: tuple[sp.Expr, ...], ctx: Context) -> sp.Expr:
        decl = self.declared.get(node.function)
        if decl is None or decl.kind != "function":
            if node.function in DISTRIBUTION_ARITY:
                raise fail(f"{node.function}(...) is a distribution; draw it with `param x ~ {node.function}(...)`",
                           node.span)
            if decl is None:
                raise unknown_name(node.function, node.span, [*self.declared, *BUILTIN_FUNCTIONS])
            raise fail(f"'{node.function}' is not a function", node.span)
        fn: ast.LetFunction = decl.node
        if fn.name in self._failed:
            raise _AlreadyReported(fn.name)
        if len(args) != len(fn.params):
            raise fail(f"{fn.name}() takes {len(fn.params)} argument(s), got {len(args)}", node.span)
        if fn.name in self._resolving:
            raise self._cycle_error(fn.name, node.span)
        self._resolving.append(fn.name)
        try:
            return lower(fn.body, self, Context(dict(zip(fn.params, args))))
        finally:
            self._resolving.pop()

    def _indexed_entity(self, name: str) -> m.Indexed | None:
        for table in (self.types, self.probs, self.variables):
            if name in table:
                return table[name]
        return None

    def _cycle_error(self, name: str, span: ast.Span) -> LoweringError:
        chain = self._resolving[self._resolving.index(name):] + [name]
        if frozenset(chain) in self._cycles:  # met again from another member of the cycle
            return _AlreadyReported(name)
        self._cycles.add(frozenset(chain))
        return fail(f"'{name}' is defined in terms of itself: {' -> '.join(chain)}", span,
                    hint="break the cycle; a let cannot depend on itself")

    # ================================================================ declarations
    def _constant_symbol(self, name: str, span: ast.Span) -> sp.Symbol:
        self._constant_value(name, span)
        return sp.Symbol(name, real=True)

    def _constant_value(self, name: str, span: ast.Span) -> float:
        if name in self._const_cache:
            return self._const_cache[name]
        if name in self._failed:
            raise _AlreadyReported(name)
        node: ast.ParamConst = self.declared[name].node
        if name in self._resolving:
            raise self._cycle_error(name, span)
        self._resolving.append(name)
        try:
            if name in self.overrides:
                value = float(self.overrides[name])
            else:
                value = self.numeric(node.value, f"the value of '{name}'")
        finally:
            self._resolving.pop()
        self._const_cache[name] = value
        sweep = tuple(self.numeric(v, "a sweep value") for v in node.sweep) if node.sweep else None
        self.constants[name] = m.ConstParam(name, (), value=value, sweep=sweep)
        return value

    def _constant(self, node: ast.ParamConst) -> None:
        self._constant_value(node.name, node.span)

    def _distribution(self, node: ast.Distribution, ctx: Context | None = None,
                      allowed: tuple[str, ...] = ("uniform", "loguniform", "normal", "choice")) -> m.Distribution:
        if node.name not in allowed:
            hint = did_you_mean(node.name, allowed) or f"use one of: {', '.join(allowed)}"
            raise fail(f"'{node.name}' is not a distribution usable here", node.span, hint=hint)
        arity = DISTRIBUTION_ARITY[node.name]
        if arity is not None and len(node.args) != arity:
            raise fail(f"{node.name}() takes {arity} arguments, got {len(node.args)}", node.span)
        if not node.args:
            raise fail(f"{node.name}() needs at least one argument", node.span)
        args = tuple(self.numeric(a, f"an argument of {node.name}()", ctx) for a in node.args)
        if node.name in ("uniform", "loguniform") and args[0] >= args[1]:
            raise fail(f"{node.name}(low, high) needs low < high, got {args[0]:g} >= {args[1]:g}", node.span,
                       hint="swap the bounds or widen the range")
        if node.name == "loguniform" and args[0] <= 0:
            raise fail("loguniform(low, high) needs low > 0", node.args[0].span)
        if node.name == "normal" and args[1] <= 0:
            raise fail(f"normal(mean, sd) needs sd > 0, got {args[1]:g}", node.args[1].span)
        if node.name == "dirichlet" and min(args) <= 0:
            bad = next(a for a, v in zip(node.args, args) if v <= 0)
            raise fail("dirichlet(alpha) needs every alpha > 0", bad.span)
        return m.Distribution(node.name, args)

    def _random(self, node: ast.ParamRandom) -> None:
        dist = self._distribution(node.distribution)
        self.randoms[node.name] = m.RandomParam(node.name, (), distribution=dist)

    def _types(self, node: ast.TypesDecl) -> None:
        size = self.size_of(node.binding)
        dists = tuple(
            self._distribution(node.distribution, Context({node.binding.index: sp.Integer(k)}),
                               allowed=("uniform", "loguniform", "normal"))
            for k in range(size)
        )
        for k in range(1, size):
            lo_prev, lo = dists[k - 1].args[0], dists[k].args[0]
            hi_prev, hi = dists[k - 1].args[-1], dists[k].args[-1]
            if lo < lo_prev or (dists[k].name != "normal" and hi < hi_prev):
                raise fail(
                    f"type ranges cannot be sorted: type {k} ({dists[k]}) lies below type {k - 1} ({dists[k - 1]})",
                    node.distribution.span,
                    hint="types are ordered from lowest to highest; make the ranges non-decreasing in k",
                )
        self.types[node.name] = m.TypeVector(node.name, (size,), distributions=dists)

    def _fixed_types(self, node: ast.TypesFixed) -> None:
        """`types theta[K] = [3, 4.05, 4.6]`: one value per type, listed in ascending order
        (an unsorted list is an error, never silently reordered: the order is the types' index)."""
        size = self.size_of(ast.Binding(node.size, node.size, node.size_span))
        values = tuple(self.numeric(v, "a type value") for v in node.values.values)
        if len(values) != size:
            raise fail(f"'{node.name}' has {size} types (size {node.size} = {size}), got {_count(len(values), 'value')}",
                       node.values.span)
        for k in range(1, size):
            if values[k] < values[k - 1]:
                listed = ", ".join(f"{v:g}" for v in sorted(values))
                raise fail(f"types are listed from lowest to highest: type {k} = {values[k]:g} is below type "
                           f"{k - 1} = {values[k - 1]:g}", node.values.values[k].span,
                           hint=f"sort the list: [{listed}]")
        self.types[node.name] = m.TypeVector(node.name, (size,), values=values)

    def _shape(self, names: tuple[str, ...], span: ast.Span) -> tuple[int, ...]:
        return tuple(self.size_of(ast.Binding(n, n, span)) for n in names)

    def _prob(self, node) -> None:
        shape = self._shape(node.shape, node.span)
        if len(shape) not in (1, 2):
            raise fail("a probability table has shape [K] or [K, K]", node.span)
        if isinstance(node, ast.ProbRandom):
            dist = self._distribution(node.distribution, allowed=("dirichlet",))
            if len(dist.args) not in (1, shape[-1]):
                raise fail(f"dirichlet() takes 1 or {shape[-1]} concentration(s), got {len(dist.args)}",
                           node.distribution.span)
            self.probs[node.name] = m.ProbTable(node.name, shape, distribution=dist)
            return
        if node.nested:
            self._check_rows(node, shape)
        values = tuple(self.numeric(v, "a probability") for v in node.values)
        if len(values) != math.prod(shape):
            raise fail(f"'{node.name}' needs {math.prod(shape)} values, got {len(values)}", node.span)
        for v, expr in zip(values, node.values):
            if not 0 <= v <= 1:
                raise fail(f"a probability must lie in [0, 1], got {v:g}", expr.span)
        row = shape[-1]
        for r in range(len(values) // row):
            total = sum(values[r * row:(r + 1) * row])
            if abs(total - 1) > 1e-9:
                raise fail(f"probabilities of '{node.name}' (row {r}) sum to {total:g}, not 1",
                           node.rows[r].span if node.nested else node.span,
                           hint="probabilities of each row must add up to 1")
        self.probs[node.name] = m.ProbTable(node.name, shape, values=values)

    @staticmethod
    def _check_rows(node: ast.ProbFixed, shape: tuple[int, ...]) -> None:
        """A nested literal `[[a, b], [c, d]]` has the table's shape: K rows of K values."""
        rows = node.rows
        if len(shape) != 2:
            raise fail(f"'{node.name}' has shape {list(shape)}, so its values are one list, not a list of rows",
                       rows[0].span, hint=f"write `prob {node.name}[{', '.join(node.shape)}] = [a, b, ...]`")
        if len(rows) != shape[0]:
            where = rows[shape[0]] if len(rows) > shape[0] else rows[-1]
            raise fail(f"'{node.name}' has {shape[0]} rows (one per previous type), got {len(rows)}", where.span)
        for r, row in enumerate(rows):
            if len(row.values) != shape[1]:
                raise fail(f"row {r} of '{node.name}' has {_count(len(row.values), 'value')}; each row needs {shape[1]}",
                           row.span)

    def _variable(self, node: ast.VariableDecl) -> None:
        shape = self._shape(node.shape, node.span)
        lower_bound = self.numeric(node.lower, "a lower bound")
        upper = self.numeric(node.upper, "an upper bound") if node.upper is not None else None
        if upper is not None and upper <= lower_bound:
            raise fail(f"empty bounds [{lower_bound:g}, {upper:g}] for '{node.name}'", node.span)
        flow = self._money_flow(node) if node.flow is not None else 1
        self.variables[node.name] = m.ContractVariable(node.name, shape, kind=node.kind,
                                                       lower=lower_bound, upper=upper, flow=flow)

    def _money_flow(self, node: ast.VariableDecl) -> int:
        """`from AGENT` or `to PRINCIPAL`: the agent pays (-1); `to AGENT` or `from PRINCIPAL`:
        the principal pays (+1, the default)."""
        flow = node.flow
        if node.kind != "payment":
            raise fail(f"only a payment has a direction; '{node.name}' is an allocation", flow.span,
                       hint=f"remove `{flow.word} {flow.party}`")
        parties = {n: d.kind for n, d in self.declared.items() if d.kind in ("agent", "principal")}
        if flow.party not in parties:
            raise fail(f"'{flow.party}' is neither the agent nor the principal", flow.span,
                       hint=did_you_mean(flow.party, parties) or "write `from AGENT` for a price the agent pays")
        from_agent = (flow.word == "from") == (parties[flow.party] == "agent")
        return -1 if from_agent else 1

    def _let_value(self, name: str) -> sp.Expr:
        if name in self.derived:
            return self.derived[name].symbol()
        if name in self.macros:
            return self.macros[name]
        if name in self._failed:
            raise _AlreadyReported(name)
        node: ast.LetValue = self.declared[name].node
        if name in self._resolving:
            raise self._cycle_error(name, node.span)
        self._resolving.append(name)
        try:
            value = lower(node.value, self)
        finally:
            self._resolving.pop()
        if value.free_symbols & set(self._decision_symbols()):
            self.macros[name] = value
            return value
        self.derived[name] = m.Derived(name, (), expr=value)
        return self.derived[name].symbol()

    def _decision_symbols(self) -> list[sp.Symbol]:
        return [s for v in self.variables.values() for s in v.symbols()]

    def _function_body_check(self, node: ast.LetFunction) -> None:
        """Lower the body with symbolic arguments so its mistakes show even if it is never called."""
        if len(set(node.params)) != len(node.params):
            raise fail(f"{node.name}() repeats a parameter name", node.span)
        self._resolving.append(node.name)
        try:
            lower(node.body, self, Context({p: sp.Symbol(f"_{p}", real=True) for p in node.params}))
        finally:
            self._resolving.pop()

    def _utility(self, node: ast.UtilityDecl) -> m.Utility:
        if self._kind(node.agent) != "agent":
            raise fail(f"'{node.agent}' is not the declared agent", node.span,
                       hint=did_you_mean(node.agent, [n for n, d in self.declared.items() if d.kind == "agent"]))
        if len(node.params) != 3:
            raise fail("a utility takes exactly 3 parameters: (type, allocation, payment)", node.span)
        symbols = [sp.Symbol(p, real=True) for p in node.params]
        expr = lower(node.body, self, Context(dict(zip(node.params, symbols))))
        if expr.free_symbols & set(self._decision_symbols()):
            raise fail("a utility is written in its parameters (type, allocation, payment), "
                       "not in contract variables", node.body.span)
        for role, s in zip(("type", "allocation", "payment"), symbols):
            if s not in expr.free_symbols:
                raise fail(f"the utility does not depend on its {role} parameter '{s}'", node.span)
        return m.Utility(node.agent, *symbols, expr)

    def _agent_count(self, node: ast.AgentDecl) -> sp.Expr:
        count = lower(node.count, self)
        if count.free_symbols & set(self._decision_symbols()):
            raise fail("the agent count cannot depend on contract variables", node.count.span)
        return count

    def _periods(self) -> tuple[m.Period, ...]:
        nodes = sorted(self._of(ast.PeriodDecl), key=lambda p: p.number)
        if not nodes:
            end = len(source_lines(self.spec.source))
            raise fail("the spec declares no period", ast.Span(end, 1, end, 2),
                       hint="add `period 1 { type theta prob p  menu T, R }`")
        periods = []
        K = None
        for t, node in enumerate(nodes, start=1):
            if node.number != t:
                raise fail(f"periods must be numbered 1, 2, ...; expected period {t}", node.span)
            types = [i for i in node.items if isinstance(i, ast.PeriodType)]
            menus = [i for i in node.items if isinstance(i, ast.PeriodMenu)]
            if len(types) != 1 or len(menus) != 1:
                raise fail(f"period {t} needs exactly one `type ... prob ...` and one `menu ..., ...`", node.span)
            (ty,), (menu,) = types, menus
            tv = self._entity(ty.types, self.types, "types", ty.span)
            K = K or tv.shape[0]
            if tv.shape[0] != K:
                raise fail(f"period {t} has {tv.shape[0]} types but period 1 has {K}", ty.span)
            prob = self._entity(ty.prob, self.probs, "probability", ty.span)
            expected_prob = {(K,)} if t == 1 else {(K,), (K, K)}
            if prob.shape not in expected_prob:
                raise fail(f"'{prob.name}' has shape {list(prob.shape)}; period {t} needs "
                           + " or ".join(str(list(s)) for s in sorted(expected_prob)), ty.span)
            for name, kind in ((menu.allocation, "allocation"), (menu.payment, "payment")):
                var = self._entity(name, self.variables, "contract variable", menu.span)
                if var.kind != kind:
                    raise fail(f"'{name}' is declared as {var.kind}, but the menu needs the {kind} here",
                               menu.span, hint="write the menu as `menu ALLOCATION, PAYMENT`")
                if var.shape != (K,) * t:
                    raise fail(f"'{name}' has shape {list(var.shape)}; in period {t} a menu item is indexed "
                               f"by the reports of periods 1..{t}, shape {[K] * t}", menu.span)
            first_payment = self.variables[periods[0].payment] if periods else None
            if first_payment is not None and self.variables[menu.payment].flow != first_payment.flow:
                raise fail(f"'{menu.payment}' and '{first_payment.name}' flow in opposite directions; the utility's "
                           "payment must mean the same in every period", menu.span,
                           hint="declare every period's payment with the same `from ...` (or none)")
            discount = lower(node.discount, self) if node.discount is not None else sp.Integer(1)
            if discount.free_symbols & set(self._decision_symbols()):
                raise fail("a discount factor cannot depend on contract variables", node.discount.span)
            periods.append(m.Period(t, discount, ty.types, ty.prob, menu.allocation, menu.payment))
        return tuple(periods)

    def _entity(self, name: str, table: dict, what: str, span: ast.Span):
        if name in table:
            return table[name]
        if name in self._failed:
            raise _AlreadyReported(name)
        if self._kind(name) is None:
            raise unknown_name(name, span, self.declared)
        raise fail(f"'{name}' is not a {what}", span, hint=did_you_mean(name, table))

    def _objective(self, node: ast.ObjectiveDecl) -> m.Objective:
        expr = lower(node.expr, self)
        self._require_decision(expr, node.expr.span, "the objective")
        return m.Objective(node.sense, expr)

    def _require_decision(self, expr: sp.Expr, span: ast.Span, what: str) -> None:
        if not expr.free_symbols & set(self._decision_symbols()):
            raise fail(f"{what} mentions no contract variable", span,
                       hint="an objective or constraint must involve an allocation or payment")

    def _constraint(self, node, periods) -> m.Constraint:
        text = format_constraint_body(node)  # canonical, so the label does not depend on layout
        if isinstance(node, ast.ConstraintIR):
            return m.Constraint("ir", scope=node.scope, text=f"ir {node.scope}", line=node.span.line)
        if isinstance(node, ast.ConstraintIC):
            return m.Constraint("ic", text="ic", line=node.span.line)
        if isinstance(node, ast.ConstraintIIC):
            if periods is not None and len(periods) < 2:
                raise fail("intertemporal IC needs at least two periods", node.span,
                           hint="declare `period 2 { ... }` or use `constraint ic`")
            return m.Constraint("iic", text="iic", line=node.span.line)
        if isinstance(node, ast.ConstraintMonotone):
            for name in node.names:
                self._entity(name, self.variables, "contract variable", node.span)
            return m.Constraint("monotone", names=node.names, text=text, line=node.span.line)
        instances = []
        contexts = [Context()]
        for binding in node.quantifier:
            size = self.size_of(binding)
            contexts = [c.with_local(binding.index, sp.Integer(k)) for c in contexts for k in range(size)]
        for ctx in contexts:
            left, right = lower(node.left, self, ctx), lower(node.right, self, ctx)
            g = {">=": left - right, "<=": right - left, "==": left - right}[node.comparator]
            self._require_decision(g, node.span, "the constraint")
            instances.append((g, "==" if node.comparator == "==" else ">="))
        return m.Constraint("plain", instances=tuple(instances), text=text, line=node.span.line)

    def _train(self, node: ast.TrainDecl) -> dict[str, object]:
        algorithm_items = [i for i in node.items if i.name == "algorithm"]
        if not algorithm_items:
            self._error("the train block names no algorithm", node.span,
                        hint=f"add `algorithm = edmsac` (one of: {', '.join(ALGORITHMS)})")
        algorithm = None
        values: dict[str, object] = {}
        for item in algorithm_items + [i for i in node.items if i.name != "algorithm"]:
            try:
                values[item.name] = self._train_value(item, algorithm)
            except LoweringError as error:
                self._record(error)
            if item.name == "algorithm":
                algorithm = values.get("algorithm")
        return values

    def _train_value(self, item: ast.TrainItem, algorithm: str | None) -> object:
        """A run setting (steps, seed, ...) or a hyperparameter of the chosen algorithm."""
        tunables = hyperparameters_of(algorithm)
        if item.name in RUN_SETTINGS:
            kind, low, high, description = RUN_SETTINGS[item.name]
        elif item.name in tunables:
            kind, (low, high) = tunables[item.name], HYPERPARAMETER_RANGES.get(item.name, (None, None))
            description = f"a hyperparameter of {algorithm or 'the algorithms'}"
        else:
            known = [*RUN_SETTINGS, *tunables]
            where = f" for {algorithm}" if algorithm else ""
            raise fail(f"unknown training setting '{item.name}'{where}", item.span,
                       hint=did_you_mean(item.name, known) or f"known: {', '.join(sorted(known))}")
        value = item.value
        if kind in (str, bool):
            text = value if isinstance(value, str) else value.name if isinstance(value, ast.Name) else None
            if kind is bool:
                if text not in ("true", "false"):
                    raise fail(f"'{item.name}' takes true or false", item.span)
                return text == "true"
            if text is None:
                raise fail(f"'{item.name}' takes a name ({description})", item.span)
            choices = STRING_CHOICES.get(item.name)
            if choices and text not in choices:
                what = "algorithm" if item.name == "algorithm" else f"value for '{item.name}'"
                raise fail(f"unknown {what} '{text}'", item.span,
                           hint=did_you_mean(text, choices) or f"choose one of: {', '.join(choices)}")
            return text
        if isinstance(value, str):
            raise fail(f"'{item.name}' takes a number ({description}), not a string", item.span)
        number = self.numeric(value, f"'{item.name}'")
        if kind in (int, tuple):
            if number != int(number) or number < 1 and kind is tuple:
                raise fail(f"'{item.name}' takes a whole number, got {number:g}", item.span)
            number = int(number)
        if (low is not None and number < low) or (high is not None and number > high):
            raise fail(f"'{item.name}' = {number:g} is out of range [{low}, {high if high is not None else 'inf'}]",
                       item.span)
        return (number, number) if kind is tuple else number


def check(spec: ast.Spec, overrides: dict[str, float] | None = None) -> m.Model:
    """Check a parsed spec and build its model; raises `SpecError` listing every mistake."""
    return Checker(spec, dict(overrides or {})).check()


class IndexFunctionBodies:
    """Checker mixin for games and scenarios, whose functions are mostly functions of indices
    (`r(n, i)` reads `g[n, i]`): a body that subscripts its arguments is checked with index 0
    when the symbolic check finds a non-integer index."""

    def _function_body_check(self, node: ast.LetFunction) -> None:
        try:
            super()._function_body_check(node)
        except LoweringError as error:
            if error.diagnostic is None or "index must be a whole number" not in error.diagnostic.message:
                raise
            self._resolving.append(node.name)
            try:
                lower(node.body, self, Context({p: sp.Integer(0) for p in node.params}))
            finally:
                self._resolving.pop()
