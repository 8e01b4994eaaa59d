"""The checking every spec kind shares: `SpecChecker`, the base of the contract, game and
scenario checkers (`checker.py`, `game_checker.py`, `scenario_checker.py`).

A checker collects the declarations first (so `let`s may be used before they are
written), then resolves each statement on its own; a mistake in one statement is recorded
and the checker moves on, so independent errors are reported together. The base owns
what every kind has: the spec's declaration (`mechanism`/`game`/`scenario NAME`), the
statements the kind allows (`STATEMENTS`; any other is a positioned error naming the kinds
it belongs to), name collection, sizes with `--set` overrides and their sweeps, constants,
scalar random parameters, `let` values and functions, the `train { ... }` block, and the
Scope protocol `mechdsl.lang.lowering` resolves names through. A kind adds its own
declarations (`DECLARES`), `_declarations`, `_statements` and `_model`; it never copies a
base method to change it.
"""

from __future__ import annotations

import keyword
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from itertools import islice
from typing import ClassVar

import sympy as sp

from mechdsl import model as m
from mechdsl.lang import ast
from mechdsl.lang.diagnostics import Diagnostic, SpecError, did_you_mean, source_lines
from mechdsl.lang.float64 import beyond_float64
from mechdsl.lang.lowering import BUILTIN_FUNCTIONS, Context, LoweringError, fail, lower, unknown_name
from mechdsl.lang.train_schema import (ALGORITHMS, HYPERPARAMETER_RANGES, RUN_SETTINGS, STRING_CHOICES,
                                       hyperparameters_of)
from mechdsl.tolerances import MAX_MAGNITUDE

# Names that would shadow Python or the generated code's own names.
RESERVED = frozenset(keyword.kwlist) | {
    "torch", "math", "self", "state", "action", "batch", "device", "dtype", "generator",
    "sum", "in", "for", "print", "int", "float", "str", "list", "dict", "tuple", "range",
} | set(BUILTIN_FUNCTIONS)

DISTRIBUTION_ARITY = {"uniform": 2, "loguniform": 2, "normal": 2, "choice": None, "dirichlet": None}

# Statements every kind allows.
SHARED_STATEMENTS = frozenset({ast.SizeDecl, ast.ParamConst, ast.LetValue, ast.LetFunction, ast.TrainDecl})

# The keyword of each statement, as an error about a statement of another kind names it.
STATEMENT_KEYWORDS = {
    ast.MechanismDecl: "mechanism", ast.TypesDecl: "types", ast.TypesFixed: "types", ast.ProbRandom: "prob",
    ast.ProbFixed: "prob", ast.PrincipalDecl: "principal", ast.AgentDecl: "agent",
    ast.UtilityDecl: "utility NAME(type, allocation, payment)", ast.VariableDecl: "allocation/payment",
    ast.PeriodDecl: "period", ast.ObjectiveDecl: "maximize/minimize", ast.ConstraintIR: "constraint ir",
    ast.ConstraintIC: "constraint ic", ast.ConstraintIIC: "constraint iic",
    ast.ConstraintMonotone: "constraint monotone", ast.ConstraintPlain: "constraint",
    ast.ParamRandom: "param NAME ~ ...", ast.ParamRandomIndexed: "param NAME[...] ~ ...",
    ast.GameDecl: "game", ast.PlayerDecl: "leader/follower", ast.StrategyDecl: "strategy",
    ast.PlayerUtility: "utility P[i]", ast.AuctionDecl: "auction",
    ast.ScenarioDecl: "scenario", ast.StateDecl: "state", ast.ObserveDecl: "observe", ast.ActionDecl: "action",
    ast.NextDecl: "next", ast.RewardDecl: "reward", ast.MetricDecl: "metric", ast.HorizonDecl: "horizon",
    ast.ConstraintPenalised: "constraint LABEL: ... penalty w",
    ast.SizeDecl: "size", ast.ParamConst: "param NAME = ...", ast.LetValue: "let", ast.LetFunction: "let f(...)",
    ast.TrainDecl: "train",
    ast.AuctionDesignDecl: "design auction", ast.BidderDecl: "bidder", ast.ValuationDecl: "valuation",
}

_EXAMPLES = {  # what `_single` suggests when a required statement is missing
    ast.PrincipalDecl: "principal server",
    ast.AgentDecl: "agent worker count N",
    ast.UtilityDecl: "utility worker(theta, T, R) = theta * R - c * T",
    ast.ObjectiveDecl: "maximize sum(k in K, p[k] * (Q(T[k]) - R[k]))",
}


MAGNITUDE_LIMIT = f"{MAX_MAGNITUDE:.0e}".replace("e+", "e")  # "1e12", as docs/language.md states it
MAGNITUDE_HINT = "the float64 solvers fail on numbers this large; rescale the spec's units (thousands, millions)"

# Names a user may mean as numbers; the language has none (every number is finite).
NON_FINITE_NAMES = frozenset({"nan", "NaN", "inf", "Inf", "infinity", "Infinity"})


def number_problem(value: float, written: str | None = None) -> str | None:
    """Why `value` cannot be a number of a spec (not finite, or beyond MAX_MAGNITUDE in
    magnitude; docs/language.md), or None if it can. `written` is the number as the spec
    writes it (1e400 is finite there, though it overflows a float)."""
    if math.isnan(value) or (math.isinf(value) and written is None):
        return "is not a finite real number"
    if abs(value) > MAX_MAGNITUDE:
        return f"is {written or format(value, 'g')}, beyond mechdsl's limit of {MAGNITUDE_LIMIT} in magnitude"
    return None


MAX_SIZE = 1000
"""Largest value of a size, written or `--set`: the checker expands every index range into one
symbol per entry (a contract's IC into K * (K - 1) constraints), so K = 1000 already takes
seconds to check, and a size of 10**12 would never finish (nor fit in memory)."""


MAX_ENTRIES = 10_000
"""Most entries one declaration may have (the product of its sizes). A contract's IC compares
every pair of reports at every history, so checking grows about as the entries^1.1 x K: the
second-period menu of `specs/two_period.mech` has K^2 entries, and K = 100 (10^4) checks in 15 s,
K = 300 (9 x 10^4) took 3 minutes and K = 1000 (10^6) over a minute and 1.7 GB before it was
stopped; beyond the limit the check refuses at once (4 s at K = 1000)."""


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


# Every kind's checker class, in the order `checker_for` tries their declarations.
LANGUAGES: list[type["SpecChecker"]] = []


@dataclass
class SpecChecker(ABC):
    """`ast.Spec` -> the kind's model, or a `SpecError` listing every mistake.

    Class attributes a kind sets: `KIND` ("contract"), `DECLARATION` (the statement type that
    names a spec of the kind) and `DECLARATION_KEYWORD`, `STATEMENTS` (every allowed
    statement type), `DECLARES` (statement type -> what it declares, for name collection),
    `CONTENTS` (what the kind declares, for hints)."""

    KIND: ClassVar[str] = ""
    DECLARATION: ClassVar[type] = ast.Statement
    DECLARATION_KEYWORD: ClassVar[str] = ""
    STATEMENTS: ClassVar[frozenset[type]] = SHARED_STATEMENTS
    DECLARES: ClassVar[dict[type, str]] = {}
    CONTENTS: ClassVar[str] = ""

    spec: ast.Spec
    overrides: dict[str, float] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.KIND and cls not in LANGUAGES:
            LANGUAGES.append(cls)

    def __post_init__(self) -> None:
        self.declared: dict[str, _Declared] = {}
        self.sizes: dict[str, int] = {}
        self.constants: dict[str, m.ConstParam] = {}
        self.randoms: dict[str, m.RandomParam] = {}
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
    def check(self):
        """Collect names, check the shared prologue, the kind's declarations, the lets, the
        kind's statements and the train block; the kind's model, or `SpecError`."""
        self._collect()
        self._apply_unknown_overrides()
        self._reject_foreign_statements()
        declaration = self._declaration()
        self._check_parameters()
        self._declarations()
        self._lets()
        parts = self._statements()
        train = self._train_block()
        if self.diagnostics:
            raise SpecError(self.spec.path, self.spec.source, self.diagnostics)
        return self._model(declaration.name, parts, train)

    # ---------------------------------------------------------------- what a kind provides
    def _declarations(self) -> None:
        """Declare the kind's own entities (before the lets, which may use them)."""

    def _statements(self) -> dict:
        """Check the kind's remaining statements; the model's fields by name."""
        return {}

    @abstractmethod
    def _model(self, name: str, parts: dict, train: dict):
        """The kind's checked model from its name, the fields `_statements` returned and the train block."""

    def _decision_symbols(self) -> list[sp.Symbol]:
        """The symbols of what the spec decides (a `let` that reads one is a macro)."""
        return []

    def _let_check(self, node: ast.LetValue) -> None:
        """Check one `let NAME = ...` (a kind may check more first, e.g. its index sizes)."""
        self._let_value(node.name)

    # ---------------------------------------------------------------- shared statements
    def _declaration(self) -> ast.Statement | None:
        """The spec's one `KEYWORD NAME` statement (None, reported, if it has none)."""
        nodes = self._of(self.DECLARATION)
        if not nodes:
            self._error(f"the spec declares no {self.DECLARATION_KEYWORD} name", ast.Span(1, 1, 1, 2),
                        hint=f"start the spec with `{self.DECLARATION_KEYWORD} my_{self.KIND}`")
            return None
        for extra in nodes[1:]:
            self._error(f"a second {self.DECLARATION_KEYWORD} name; only one is allowed", extra.span)
        return nodes[0]

    def _reject_foreign_statements(self) -> None:
        """A statement of another kind: one positioned error naming the kinds it belongs to."""
        for node in self.spec.statements:
            if type(node) in self.STATEMENTS:
                continue
            owners = [c.KIND for c in LANGUAGES if type(node) in c.STATEMENTS]
            keyword_ = STATEMENT_KEYWORDS.get(type(node), type(node).__name__)
            self._error(f"'{keyword_}' belongs to {' and '.join(owners) or 'no'} specs, not to {_article(self.KIND)} {self.KIND}",
                        node.span, hint=f"{_article(self.KIND)} {self.KIND} declares {self.CONTENTS}")

    def _check_parameters(self) -> None:
        """Sizes (with --set overrides), constants and scalar random parameters."""
        for node in self._of(ast.SizeDecl):
            self.sizes[node.name] = self._size_value(node)
            if self.sizes[node.name] < 1:
                self._error(f"size '{node.name}' must be at least 1", node.span)
            elif self.sizes[node.name] > MAX_SIZE:
                given = f"--set {node.name}={self.sizes[node.name]}: the " if node.name in self.overrides else ""
                self._error(f"{given}size '{node.name}' is {self.sizes[node.name]}, beyond mechdsl's limit of {MAX_SIZE}",
                            node.span, hint="every index range is expanded into one symbol per entry; "
                                            f"give a size of at most {MAX_SIZE}")
        if any(size > MAX_SIZE for size in self.sizes.values()):
            # checking on would expand the oversized ranges: report what was found so far
            raise SpecError(self.spec.path, self.spec.source, self.diagnostics)
        for node in self._of(ast.ParamConst):
            self._declare(self._constant, node)
        for node in self._of(ast.ParamRandom):
            self._declare(self._random, node)
        for node in self._of(ast.SizeDecl):
            if node.sweep:
                self._size_sweep(node)

    def _size_value(self, node: ast.SizeDecl) -> int:
        """The size as written, or its `--set` override, which must be a whole number (K=1.5 is
        refused, never read as 1); a refused override is reported and the written value used."""
        if node.name not in self.overrides:
            return int(node.value)
        value = self.overrides[node.name]
        problem = number_problem(value) or (None if value == int(value) else "is not a whole number")
        if problem is not None:
            self._error(f"--set {node.name}={value:g}: the size '{node.name}' {problem}", node.span,
                        hint=f"a size counts types, agents, ...: give a whole number >= 1, e.g. --set {node.name}=3")
            return int(node.value)
        return int(value)

    def _lets(self) -> None:
        for node in self._of(ast.LetValue):
            self._declare(self._let_check, node)
        for node in self._of(ast.LetFunction):
            self._declare(self._function_body_check, node)

    def _train_block(self) -> dict[str, object]:
        trains = self._of(ast.TrainDecl)
        for extra in trains[1:]:
            self._error("only one train block is allowed", extra.span)
        return (self._attempt(self._train, trains[0]) if trains else None) or {}

    def _error_at_end(self, message: str, hint: str) -> None:
        end = len(source_lines(self.spec.source))
        self._error(message, ast.Span(end, 1, end, 2), hint=hint)

    def _collect(self) -> None:
        """Every declared name with what it names; reserved and duplicate names are refused."""
        kinds = {
            ast.SizeDecl: "size", ast.ParamConst: "constant", ast.ParamRandom: "random parameter",
            ast.LetValue: "let", ast.LetFunction: "function", **self.DECLARES,
        }
        for node in self.spec.statements:
            kind = kinds.get(type(node))
            if kind is None or type(node) not in self.STATEMENTS:
                continue
            reserved = self._reserved_hint(node.name)
            if reserved is not None:
                self._error(f"'{node.name}' is a reserved word and cannot name {_article(kind)} {kind}", node.span,
                            hint=reserved)
                self._rejected.add(id(node))
                continue
            if node.name in self.declared:
                first = self.declared[node.name].node.span.line
                self._error(f"'{node.name}' is already defined (line {first})", node.span,
                            hint="each name may be declared once")
                self._rejected.add(id(node))
                continue
            self.declared[node.name] = _Declared(kind, node)

    def _reserved_hint(self, name: str) -> str | None:
        """Why `name` cannot be declared, or None if it can."""
        if name in RESERVED or name.startswith("__"):
            return "pick another name; reserved words would clash in generated code"
        return None

    def _indexed_entity(self, name: str) -> m.Indexed | None:
        """The declared indexed entity (type vector, strategy, state, ...) called `name`."""
        return None


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
        """Evaluate an expression that must be a number once constants are substituted: finite and
        at most MAX_MAGNITUDE in magnitude (a number written alone is refused naming `what`)."""
        if isinstance(node, ast.Number) and number_problem(node.value, node.text) is not None:
            raise fail(f"{what} {number_problem(node.value, node.text)}", node.span, hint=MAGNITUDE_HINT)
        lowered = lower(node, self, ctx)
        constants = self._constant_substitution()
        too_large = beyond_float64(lowered, {c: float(constants[c]) for c in lowered.free_symbols if c in constants})
        if too_large is not None:  # SymPy would compute it exactly, without bound (exp(exp(...)))
            raise fail(f"{what} is beyond float64: {sp.sstr(too_large)} exceeds about 1.8e308", node.span,
                       hint=MAGNITUDE_HINT)
        value = lowered.xreplace(self._constant_substitution())
        if not value.is_number:
            raise fail(f"{what} must be a constant number", node.span,
                       hint="only constants, sizes and bound indices may appear here")
        result = complex(value.evalf())
        if result.imag != 0:
            raise fail(f"{what} is not a finite real number", node.span)
        problem = number_problem(result.real)
        if problem is not None:
            raise fail(f"{what} {problem}", node.span,
                       hint=MAGNITUDE_HINT if math.isfinite(result.real) else None)
        return result.real

    def _constant_substitution(self) -> dict[sp.Symbol, sp.Float]:
        """Constant symbol -> its value. Constants are only ever added (in declaration order, and
        never change), so only those declared since the last call are added: linear in the number
        of constants overall (a full rebuild per declaration made 2,000 constants take 40 s)."""
        if self._substitution_size != len(self.constants):
            added = len(self.constants) - max(self._substitution_size, 0)  # the newest, last in order
            for c in islice(reversed(self.constants.values()), added):
                self._substitution[c.symbol()] = sp.Float(c.value)
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
        if kind == "function":
            raise fail(f"'{name}' is a function; call it as {name}(...)", node.span)
        if name in BUILTIN_FUNCTIONS:
            raise fail(f"'{name}' is a function; call it as {name}(...)", node.span)
        if name in NON_FINITE_NAMES and name not in ctx.locals:
            raise fail(f"'{name}' is not a number of the language: every number in a spec is finite", node.span,
                       hint=f"write the value itself, a number of magnitude at most {MAGNITUDE_LIMIT}")
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
                problem = number_problem(value)
                if problem is not None:
                    raise fail(f"--set {name}={value:g}: the value {problem}", node.span, hint=MAGNITUDE_HINT)
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
                      allowed: tuple[str, ...] = ("uniform", "loguniform", "normal", "choice"),
                      owner: str = "") -> m.Distribution:
        """A checked distribution; `owner` (the drawn parameter's name) goes into its messages."""
        if node.name not in allowed:
            hint = did_you_mean(node.name, allowed) or f"use one of: {', '.join(allowed)}"
            raise fail(f"'{node.name}' is not a distribution usable here", node.span, hint=hint)
        arity = DISTRIBUTION_ARITY[node.name]
        if arity is not None and len(node.args) != arity:
            raise fail(f"{node.name}() takes {arity} arguments, got {len(node.args)}", node.span)
        if not node.args:
            raise fail(f"{node.name}() needs at least one argument", node.span)
        of = f" (drawing '{owner}')" if owner else ""
        args = tuple(self.numeric(a, f"an argument of {node.name}(){of}", ctx) for a in node.args)
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
        dist = self._distribution(node.distribution, owner=node.name)
        self.randoms[node.name] = m.RandomParam(node.name, (), distribution=dist)

    def _shape(self, names: tuple[str, ...], span: ast.Span) -> tuple[int, ...]:
        """The declared shape in numbers; more than MAX_ENTRIES entries is a positioned error (each
        entry becomes a symbol, and a contract's IC compares every pair of them)."""
        shape = tuple(self.size_of(ast.Binding(n, n, span)) for n in names)
        entries = math.prod(shape)
        if entries > MAX_ENTRIES:
            raise fail(f"this declaration has {entries:,} entries ({' x '.join(map(str, shape))}), beyond mechdsl's "
                       f"limit of {MAX_ENTRIES:,} entries per declaration", span,
                       hint=f"every entry becomes a symbol of the model; choose sizes whose product is at most "
                            f"{MAX_ENTRIES:,} (sizes: {', '.join(f'{n} = {self.sizes.get(n)}' for n in names)})")
        return shape

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

    def _function_body_check(self, node: ast.LetFunction) -> None:
        """Lower the body with symbolic arguments so its mistakes show even if it is never called."""
        if len(set(node.params)) != len(node.params):
            raise fail(f"{node.name}() repeats a parameter name", node.span)
        self._resolving.append(node.name)
        try:
            lower(node.body, self, Context({p: sp.Symbol(f"_{p}", real=True) for p in node.params}))
        finally:
            self._resolving.pop()

    # ================================================================ train block
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
