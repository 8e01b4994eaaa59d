"""Checker of scenario specs: `ast.Spec` (starting with `scenario NAME`) -> `ScenarioModel`.

It reuses the checking every kind shares (`spec_checker.SpecChecker`: sizes with `--set`,
constants, `let` values and functions, the train block, positioned diagnostics gathered and
reported together) and the index-size checks it shares with games
(`indexed_checker.IndexedChecker`), and adds the scenario statements: `state`, `observe`, `action`, `next`,
`reward`, `constraint LABEL: ... penalty w`, `metric` and `horizon` (docs/scenarios.md).
"""

from __future__ import annotations

import sympy as sp

from mechdsl import model as m
from mechdsl.lang import ast
from mechdsl.lang.diagnostics import did_you_mean
from mechdsl.lang.fmt import format_constraint_body
from mechdsl.lang.indexed_checker import IndexedChecker
from mechdsl.lang.lowering import Context, LoweringError, fail, lower
from mechdsl.lang.spec_checker import SHARED_STATEMENTS, SpecChecker, _AlreadyReported, _article
from mechdsl.scenario.hard import NotBuiltIn, kept_by
from mechdsl.scenario.model import (SCENARIO_DISTRIBUTIONS, SLOT, Action, Draw, Metric, PenalisedConstraint,
                                    ScenarioModel, StateVariable)

# Extra functions of scenario expressions: name -> (arity, SymPy builder).
SCENARIO_FUNCTIONS = {
    "mod": (2, sp.Mod),                            # a mod b, in [0, b) (ring roads, periodic time)
    "floor": (1, sp.floor),
    "step": (1, lambda x: sp.Heaviside(x, 0)),     # 1 if x > 0 else 0
}

MAX_MASKED_ENTRIES = 12  # a masked choice with a capacity checks 2^entries covers per decision

class ScenarioChecker(IndexedChecker, SpecChecker):
    KIND = "scenario"
    DECLARATION = ast.ScenarioDecl
    DECLARATION_KEYWORD = "scenario"
    # random parameters and plain constraints are recognised to say what a scenario writes instead
    STATEMENTS = SHARED_STATEMENTS | {
        ast.ScenarioDecl, ast.ParamRandom, ast.ParamRandomIndexed, ast.StateDecl, ast.ObserveDecl, ast.ActionDecl,
        ast.NextDecl, ast.RewardDecl, ast.MetricDecl, ast.HorizonDecl, ast.ConstraintPenalised, ast.ConstraintPlain,
    }
    DECLARES = {ast.StateDecl: "state variable", ast.ActionDecl: "action", ast.MetricDecl: "metric"}
    CONTENTS = "state, observe, action, next, reward, constraint, horizon"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.states: dict[str, StateVariable] = {}
        self.actions: dict[str, Action] = {}
        self._labels: list[str] = []
        # `f(2, 1)` of a `let` function at whole-number arguments: lowered once and kept as a
        # named intermediate symbol, so formulas stay small (the generator emits each once)
        self.intermediates: dict[sp.Symbol, sp.Expr] = {}
        self._dependencies: dict[sp.Symbol, frozenset[sp.Symbol]] = {}

    # ================================================================ driver
    def _declarations(self) -> None:
        for node in self._of(ast.ParamRandom, ast.ParamRandomIndexed):
            self._error(f"random parameter '{node.name}': a scenario draws per-episode values as states",
                        node.span, hint=f"write `state {node.name}[...] in [lo, hi] ~ {node.distribution.name}(...)`")
        for node in self._of(ast.StateDecl):
            self._declare(self._state, node)
        for node in self._of(ast.ActionDecl):
            self._declare(self._action, node)

    def _statements(self) -> dict:
        observed = self._observed()
        transitions = self._transitions()
        reward = self._reward()
        constraints = tuple(c for node in self._of(ast.ConstraintPenalised)
                            if (c := self._attempt(self._constraint_penalised, node)) is not None)
        for node in self._of(ast.ConstraintPlain):
            self._error("a scenario constraint needs a label and a penalty", node.span,
                        hint="write `constraint c1: lhs <= rhs for s in S penalty 10`")
        metrics = {}
        for node in self._of(ast.MetricDecl):
            metric = self._attempt(self._metric, node)
            if metric is not None:
                metrics[metric.name] = metric
        horizon, discount = self._horizon()
        if not self.actions and not any(n.name in self._failed for n in self._of(ast.ActionDecl)):
            self._error_at_end("the scenario declares no action", "add e.g. `action go[v in V] softmax over s`")
        return dict(observed=observed, transitions=transitions, reward=reward, constraints=constraints,
                    metrics=metrics, horizon=horizon, discount=discount)

    def _model(self, name: str, parts: dict, train: dict) -> ScenarioModel:
        observed = parts.pop("observed")
        states = {n: StateVariable(v.name, v.shape, v.index_sizes, v.lower, v.upper, v.init, n in observed)
                  for n, v in self.states.items()}
        return ScenarioModel(name=name, path=self.spec.path, sizes=dict(self.sizes), constants=self.constants,
                             derived=self.derived, states=states, actions=self.actions, train=train,
                             intermediates=dict(self.intermediates), **parts)

    # ================================================================ declarations
    def _reserved_hint(self, name: str) -> str | None:
        if name == SLOT:
            return f"pick another name; '{SLOT}' is the implicit slot counter"
        return super()._reserved_hint(name)

    def _bindings_shape(self, bindings: tuple[ast.Binding, ...]) -> tuple[int, ...]:
        seen = set()
        for b in bindings:
            if b.index in seen:
                raise fail(f"index '{b.index}' is bound twice", b.span, hint="give each index its own name")
            seen.add(b.index)
        return tuple(self.size_of(b) for b in bindings)

    def _contexts(self, bindings: tuple[ast.Binding, ...], shape: tuple[int, ...]):
        for index in m.all_indices(shape):
            yield index, Context({b.index: sp.Integer(k) for b, k in zip(bindings, index)})

    def depends_on(self, expr: sp.Expr) -> frozenset[sp.Symbol]:
        """The state, decision and parameter symbols `expr` reads, through intermediates."""
        out: set[sp.Symbol] = set()
        for symbol in expr.free_symbols:
            if symbol in self.intermediates:
                if symbol not in self._dependencies:
                    self._dependencies[symbol] = self.depends_on(self.intermediates[symbol])
                out |= self._dependencies[symbol]
            else:
                out.add(symbol)
        return frozenset(out)

    def _only(self, expr: sp.Expr, allowed: set[sp.Symbol], node: ast.Expr, what: str, hint: str) -> sp.Expr:
        """`expr` may mention constants, derived constants and the `allowed` symbols only."""
        constant = set(self._constant_substitution()) | {d.symbol() for d in self.derived.values()}
        extra = sorted(self.depends_on(expr) - allowed - constant, key=lambda s: s.name)
        if extra:
            raise fail(f"{what} cannot depend on '{extra[0].name}'", node.span, hint=hint)
        return expr

    def _state(self, node: ast.StateDecl) -> None:
        shape = self._bindings_shape(node.bindings)
        lower_bound = self.numeric(node.lower, "a lower bound")
        upper = self.numeric(node.upper, "an upper bound")
        if not upper > lower_bound:
            raise fail(f"empty bounds [{lower_bound:g}, {upper:g}] for state '{node.name}'", node.span,
                       hint="the bounds scale the observation; the lower one must be below the upper one")
        earlier = {s for v in self.states.values() for s in v.symbols()}
        hint = "an initial value may use constants, its indices and states declared above it"
        init = []
        self.index_sizes[node.name] = tuple(b.size for b in node.bindings)
        bound = {b.index: b.size for b in node.bindings}
        if isinstance(node.init, ast.Distribution):
            for arg in node.init.args:
                self._check_indices(arg, bound)
        else:
            self._check_indices(node.init, bound)
        for _, ctx in self._contexts(node.bindings, shape):
            if isinstance(node.init, ast.Distribution):
                init.append(self._draw(node.init, ctx, earlier, "an initial draw", hint))
            else:
                value = lower(node.init, self, ctx)
                init.append(self._only(value, earlier, node.init, f"the initial value of '{node.name}'", hint))
        self.states[node.name] = StateVariable(node.name, shape, self.index_sizes[node.name], lower_bound, upper,
                                               tuple(init))

    def _draw(self, node: ast.Distribution, ctx: Context, allowed: set, what: str, hint: str) -> Draw:
        if node.name not in SCENARIO_DISTRIBUTIONS:
            raise fail(f"'{node.name}' is not a distribution usable here", node.span,
                       hint=did_you_mean(node.name, SCENARIO_DISTRIBUTIONS)
                       or f"use one of: {', '.join(SCENARIO_DISTRIBUTIONS)}")
        arity = SCENARIO_DISTRIBUTIONS[node.name]
        if len(node.args) != arity:
            raise fail(f"{node.name}() takes {arity} argument(s), got {len(node.args)}", node.span)
        args = tuple(self._only(lower(a, self, ctx), allowed, a, f"{what} of {node.name}()", hint)
                     for a in node.args)
        numbers = [complex(a.xreplace(self._constant_substitution()).evalf()).real
                   if not (a.free_symbols - set(self._constant_substitution())) else None for a in args]
        if node.name == "uniform" and None not in numbers and numbers[0] >= numbers[1]:
            raise fail(f"uniform(low, high) needs low < high, got {numbers[0]:g} >= {numbers[1]:g}", node.span)
        if node.name == "bernoulli" and numbers[0] is not None and not 0 <= numbers[0] <= 1:
            raise fail(f"bernoulli(p) needs 0 <= p <= 1, got {numbers[0]:g}", node.args[0].span)
        if node.name == "normal" and numbers[1] is not None and numbers[1] <= 0:
            raise fail(f"normal(mean, sd) needs sd > 0, got {numbers[1]:g}", node.args[1].span)
        return Draw(node.name, args)

    def _action(self, node: ast.ActionDecl) -> None:
        shape = self._bindings_shape(node.bindings)
        self.index_sizes[node.name] = tuple(b.size for b in node.bindings)
        axis, level, mask, low, high = None, None, None, 0.0, 1.0
        if node.kind in ("softmax", "simplex"):
            positions = [i for i, b in enumerate(node.bindings) if b.index == node.axis]
            if not positions:
                raise fail(f"'{node.axis}' is not an index of action '{node.name}'", node.span,
                           hint=did_you_mean(node.axis, [b.index for b in node.bindings])
                           or f"{node.kind} runs over one of its indices, e.g. `{node.kind} over "
                              f"{node.bindings[-1].index if node.bindings else 's'}`")
            axis = positions[0]
            if shape[axis] < 2:
                raise fail(f"a {node.kind} over '{node.axis}' needs at least 2 entries", node.span)
        if node.kind == "threshold":
            level = self.numeric(node.level, "a threshold")
            if not 0 < level < 1:
                raise fail(f"a threshold lies in (0, 1) (the action is mapped to (a + 1) / 2), got {level:g}",
                           node.level.span)
        if node.kind == "interval":
            low, high = self.numeric(node.lower, "a lower bound"), self.numeric(node.upper, "an upper bound")
            if not high > low:
                raise fail(f"empty bounds [{low:g}, {high:g}] for action '{node.name}'", node.span)
        if node.mask is not None:
            self._check_indices(node.mask, {b.index: b.size for b in node.bindings})
            states = {s for v in self.states.values() for s in v.symbols()}
            mask = tuple(self._only(lower(node.mask, self, ctx), states, node.mask, "a simplex mask",
                                    "a mask is a weight of the state (e.g. host[v, s]), not of decisions")
                         for _, ctx in self._contexts(node.bindings, shape))
        rules = self._choice_rules(node, shape, axis) if node.choice is not None else {}
        self.actions[node.name] = Action(node.name, shape, self.index_sizes[node.name], node.kind, axis, level, mask,
                                         low, high, **rules)

    def _choice_rules(self, node: ast.ActionDecl, shape: tuple[int, ...], axis: int) -> dict:
        """`where COND fallback PREF capacity k` of a softmax: per-entry expressions of the state
        and a whole number of places (mechdsl/scenario/choice.py)."""
        rules, out = node.choice, {}
        bound = {b.index: b.size for b in node.bindings}
        states = {s for v in self.states.values() for s in v.symbols()}
        entries, rows = shape[axis], 1
        for k, n in enumerate(shape):
            rows *= n if k != axis else 1

        def per_entry(expr: ast.Expr, what: str, hint: str) -> tuple[sp.Expr, ...]:
            self._check_indices(expr, bound)
            return tuple(self._only(lower(expr, self, ctx), states, expr, what, hint)
                         for _, ctx in self._contexts(node.bindings, shape))

        if rules.mask is not None:
            mask = rules.mask
            if mask.comparator == "==":
                raise fail("a choice's mask compares with >= or <=, not ==", mask.span,
                           hint="an entry qualifies where `left >= right` (or `left <= right`) holds")
            hint = "a mask reads the state (e.g. rep[v, s] >= B_thre), not decisions"
            left = per_entry(mask.left, "a choice's mask", hint)
            if mask.comparator is None:
                out.update(qualify=left, qualify_strict=True)
            else:
                right = per_entry(mask.right, "a choice's mask", hint)
                sign = 1 if mask.comparator == ">=" else -1
                out.update(qualify=tuple(sign * (a - b) for a, b in zip(left, right)))
            if rules.fallback is None:
                raise fail(f"a masked choice needs a fallback for the rows where no entry of '{node.axis}' can be "
                           "taken", mask.span, hint="add e.g. `fallback host[v, s]`: such a row takes the entry "
                                                    "where the fallback is largest")
        if rules.fallback is not None:
            if rules.mask is None:
                raise fail("a fallback without a mask is never used", rules.fallback.span,
                           hint="every entry qualifies, so every row finds a place; remove `fallback ...`")
            out["fallback"] = per_entry(rules.fallback, "a fallback", "a fallback reads the state (e.g. host[v, s])")
        if rules.capacity is not None:
            capacity = self.numeric(rules.capacity, "a capacity")
            if capacity != int(capacity) or capacity < 1:
                raise fail(f"a capacity is a whole number of rows >= 1, got {capacity:g}", rules.capacity.span)
            if int(capacity) * entries < rows:
                raise fail(f"{rows} rows of '{node.name}' cannot fit {entries} entries with capacity {int(capacity)}",
                           rules.capacity.span, hint=f"a capacity of at least {-(-rows // entries)} leaves every row a place")
            if rules.mask is not None and entries > MAX_MASKED_ENTRIES:
                raise fail(f"a masked choice with a capacity runs over at most {MAX_MASKED_ENTRIES} entries, "
                           f"'{node.axis}' has {entries}", rules.capacity.span,
                           hint="the map checks 2^entries covers per decision (mechdsl/scenario/choice.py)")
            out["capacity"] = int(capacity)
        return out

    # ================================================================ Scope protocol
    def resolve_name(self, node: ast.Name, ctx: Context) -> sp.Expr:
        kind = self._kind(node.name)
        if kind in ("state variable", "action"):
            shape = self.index_sizes.get(node.name)
            if shape is None and node.name in self._failed:
                raise _AlreadyReported(node.name)
            entity = self.states.get(node.name) or self.actions.get(node.name)
            if entity is not None and not entity.shape:
                return entity.symbol()
            if entity is None:
                raise fail(f"'{node.name}' is used before it is declared", node.span,
                           hint="declare states and actions above the lines that use them")
            raise fail(f"'{node.name}' needs {len(shape)} index(es), e.g. "
                       f"{node.name}[{', '.join(s.lower() for s in shape)}]", node.span)
        if kind == "metric":
            raise fail(f"'{node.name}' is a metric (reported, not usable in formulas)", node.span,
                       hint="compute it with a `let` and use that")
        return super().resolve_name(node, ctx)

    def resolve_subscript(self, node: ast.Subscript, indices: tuple[int, ...], ctx: Context) -> sp.Expr:
        if (self._kind(node.name) in ("state variable", "action") and node.name not in self._failed
                and self._indexed_entity(node.name) is None):
            raise fail(f"'{node.name}' is used before it is declared", node.span,
                       hint="an initial value or mask may use states declared above it; move the declaration up")
        return super().resolve_subscript(node, indices, ctx)

    def resolve_call(self, node: ast.Call, args: tuple[sp.Expr, ...], ctx: Context) -> sp.Expr:
        if node.function in SCENARIO_FUNCTIONS and self._kind(node.function) is None:
            arity, build = SCENARIO_FUNCTIONS[node.function]
            if len(args) != arity:
                raise fail(f"{node.function}() takes {arity} argument(s), got {len(args)}", node.span)
            return build(*args)
        if node.function in SCENARIO_DISTRIBUTIONS and self._kind(node.function) is None:
            raise fail(f"{node.function}(...) is a distribution; draw it with `next x ~ {node.function}(...)`",
                       node.span)
        decl = self.declared.get(node.function)
        if decl is None or decl.kind != "function" or not args or not all(a.is_Integer for a in args):
            return super().resolve_call(node, args, ctx)
        key = sp.Symbol(f"{node.function}({', '.join(str(int(a)) for a in args)})", real=True)
        if key in self.intermediates:
            return key
        expr = super().resolve_call(node, args, ctx)
        if expr.is_number or expr.is_Symbol:
            return expr
        self.intermediates[key] = expr  # recorded after its own intermediates: dependency order
        return key

    def _indexed_entity(self, name: str) -> m.Indexed | None:
        return self.states.get(name) or self.actions.get(name) or super()._indexed_entity(name)

    def _decision_symbols(self) -> list[sp.Symbol]:
        """Every `let` that reads a state or a decision is expanded in place (a macro)."""
        return ([s for v in self.states.values() for s in v.symbols()]
                + [s for a in self.actions.values() for s in a.symbols()] + list(self.intermediates))

    # ================================================================ dynamics
    def _observed(self) -> set[str]:
        observed: set[str] = set()
        for node in self._of(ast.ObserveDecl):
            for name in node.names:
                if name in self.states:
                    observed.add(name)
                elif name not in self._failed:
                    kind = self._kind(name)
                    self._error(f"'{name}' is {_article(kind) + ' ' + kind if kind else 'not defined'}; only state variables "
                                "can be observed", node.span,
                                hint=did_you_mean(name, self.states) or "declare it with `state NAME[...] ...`")
        if not self._of(ast.ObserveDecl):
            self._error_at_end("the scenario observes nothing", "add `observe NAME, ...` listing state variables")
        return observed

    def _transitions(self) -> dict[sp.Symbol, sp.Expr | Draw]:
        transitions: dict[sp.Symbol, sp.Expr | Draw] = {}
        seen: dict[str, int] = {}
        for node in self._of(ast.NextDecl):
            if node.name in seen:
                self._error(f"a second `next` for '{node.name}' (first on line {seen[node.name]})", node.span)
                continue
            seen[node.name] = node.span.line
            result = self._attempt(self._next, node)
            if result is not None:
                transitions.update(result)
        return transitions

    def _next(self, node: ast.NextDecl) -> dict[sp.Symbol, sp.Expr | Draw]:
        state = self.states.get(node.name)
        if state is None:
            if node.name in self._failed:
                raise _AlreadyReported(node.name)
            kind = self._kind(node.name)
            raise fail(f"'{node.name}' is {_article(kind) + ' ' + kind if kind else 'not defined'}; `next` updates a state variable",
                       node.span, hint=did_you_mean(node.name, self.states))
        if len(node.indices) != len(state.shape):
            raise fail(f"'{node.name}' takes {len(state.shape)} index(es), got {len(node.indices)}", node.span,
                       hint=f"write `next {node.name}[{', '.join(s.lower() for s in state.index_sizes)}] ...`"
                       if state.shape else f"write `next {node.name} ...`")
        if len(set(node.indices)) != len(node.indices):
            raise fail("each index of a `next` needs its own name", node.span)
        bindings = tuple(ast.Binding(i, size, node.span) for i, size in zip(node.indices, state.index_sizes))
        bound = {b.index: b.size for b in bindings}
        value = node.value
        for expr in (value.args if isinstance(value, ast.Distribution) else (value,)):
            self._check_indices(expr, bound)
        out: dict[sp.Symbol, sp.Expr | Draw] = {}
        everything = set(self._decision_symbols())
        for index, ctx in self._contexts(bindings, state.shape):
            if isinstance(value, ast.Distribution):
                out[state.symbol(*index)] = self._draw(value, ctx, everything, "an argument", None)
            else:
                out[state.symbol(*index)] = lower(value, self, ctx)
        return out

    def _reward(self) -> sp.Expr:
        nodes = self._of(ast.RewardDecl)
        if not nodes:
            self._error_at_end("the scenario declares no reward", "add e.g. `reward -sum(v in V, latency(v))`")
            return sp.S.Zero
        for extra in nodes[1:]:
            self._error("a second reward; only one is allowed", extra.span)
        result = self._attempt(self._reward_of, nodes[0])
        return sp.S.Zero if result is None else result

    def _reward_of(self, node: ast.RewardDecl) -> sp.Expr:
        self._check_indices(node.expr, {})
        expr = lower(node.expr, self)
        if not self.depends_on(expr) & set(self._decision_symbols()):
            raise fail("the reward mentions no state or action", node.expr.span,
                       hint="a reward of constants only teaches nothing")
        return expr

    def _constraint_penalised(self, node: ast.ConstraintPenalised) -> PenalisedConstraint:
        bound = {b.index: b.size for b in node.quantifier}
        self._check_indices(node.left, bound)
        self._check_indices(node.right, bound)
        shape = self._bindings_shape(node.quantifier)
        penalty = 0.0 if node.penalty is None else self.numeric(node.penalty, "a penalty")
        if penalty < 0:
            raise fail(f"a penalty cannot be negative, got {penalty:g}", node.penalty.span)
        decisions = {s for a in self.actions.values() for s in a.symbols()}
        excesses, instances = [], []
        for index, ctx in self._contexts(node.quantifier, shape):
            left, right = lower(node.left, self, ctx), lower(node.right, self, ctx)
            excess = {"<=": left - right, ">=": right - left, "==": sp.Abs(left - right)}[node.comparator]
            if not self.depends_on(excess) & decisions:
                raise fail(f"constraint {node.label} mentions no action", node.span,
                           hint="a constraint restricts decisions; a condition of the state alone cannot be obeyed")
            excesses.append(excess)
            instances.append(index)
        if node.label in self._labels:
            raise fail(f"a second constraint labelled '{node.label}'", node.span, hint="labels name constraints")
        kept = None
        if node.penalty is None:
            try:
                kept = kept_by(excesses, self.actions, self._expanded)
            except NotBuiltIn as why:
                raise fail(f"hard constraint {node.label} cannot be built into the action map: {why.reason}",
                           node.span, hint=why.hint) from None
        self._labels.append(node.label)
        text = format_constraint_body(node)
        return PenalisedConstraint(node.label, tuple(excesses), tuple(instances), penalty, text, node.span.line, kept)

    def _expanded(self, expr: sp.Expr) -> sp.Expr:
        """`expr` with every intermediate substituted and every constant an exact rational."""
        fold: dict[sp.Symbol, sp.Expr] = {c.symbol(): sp.Rational(repr(float(c.value))) for c in self.constants.values()}
        for d in self.derived.values():
            fold[d.symbol()] = d.expr.xreplace(fold)
        while expr.free_symbols & set(self.intermediates):
            expr = expr.xreplace(self.intermediates)
        return expr.xreplace(fold)

    def _metric(self, node: ast.MetricDecl) -> Metric:
        shape = self._bindings_shape(node.bindings)
        self._check_indices(node.expr, {b.index: b.size for b in node.bindings})
        exprs = tuple(lower(node.expr, self, ctx) for _, ctx in self._contexts(node.bindings, shape))
        return Metric(node.name, shape, exprs=exprs)

    def _horizon(self) -> tuple[int, float]:
        nodes = self._of(ast.HorizonDecl)
        if not nodes:
            self._error_at_end("the scenario declares no horizon", "add e.g. `horizon 20 discount 0.95`")
            return 1, 1.0
        for extra in nodes[1:]:
            self._error("a second horizon; only one is allowed", extra.span)
        node = nodes[0]
        try:
            length = self.numeric(node.length, "the horizon")
            if length != int(length) or length < 1:
                raise fail(f"the horizon is a whole number of slots >= 1, got {length:g}", node.length.span)
            discount = 1.0 if node.discount is None else self.numeric(node.discount, "the discount")
            if not 0 < discount <= 1:
                raise fail(f"the discount lies in (0, 1], got {discount:g}", node.discount.span)
            return int(length), discount
        except LoweringError as error:
            self._record(error)
            return 1, 1.0


def check_scenario(spec: ast.Spec, overrides: dict[str, float] | None = None) -> ScenarioModel:
    """Check a parsed scenario spec; raises `SpecError` listing every mistake."""
    return ScenarioChecker(spec, dict(overrides or {})).check()
