"""Checker of contract specs (`mechanism NAME`): `ast.Spec` -> `mechdsl.model.Model`.

On top of what every kind shares (`spec_checker.SpecChecker`: sizes, constants, random
parameters, lets, the train block) a contract declares types and probabilities, its
contract variables (allocations and payments, with the payment's direction), the principal
and the agent with its utility, the periods and their menus, the objective, and IR, IC,
IIC, monotonicity and plain constraints.
"""

from __future__ import annotations

import math
import sympy as sp

from mechdsl import model as m
from mechdsl.lang import ast
from mechdsl.lang.diagnostics import did_you_mean, source_lines
from mechdsl.lang.float64 import beyond_float64
from mechdsl.lang.fmt import format_constraint_body
from mechdsl.lang.lowering import Context, fail, lower, unknown_name
from mechdsl.lang.spec_checker import SHARED_STATEMENTS, SpecChecker, _AlreadyReported, _count
from mechdsl.lang.type_values import candidate_values, sign_facts, type_value_problem
from mechdsl.tolerances import PROBABILITY_TOLERANCE


class ContractChecker(SpecChecker):
    KIND = "contract"
    DECLARATION = ast.MechanismDecl
    DECLARATION_KEYWORD = "mechanism"
    STATEMENTS = SHARED_STATEMENTS | {
        ast.MechanismDecl, ast.ParamRandom, ast.TypesDecl, ast.TypesFixed, ast.ProbRandom, ast.ProbFixed,
        ast.PrincipalDecl, ast.AgentDecl, ast.UtilityDecl, ast.VariableDecl, ast.PeriodDecl, ast.ObjectiveDecl,
        ast.ConstraintIR, ast.ConstraintIC, ast.ConstraintIIC, ast.ConstraintMonotone, ast.ConstraintPlain,
    }
    DECLARES = {
        ast.TypesDecl: "types", ast.TypesFixed: "types", ast.ProbRandom: "probability", ast.ProbFixed: "probability",
        ast.VariableDecl: "contract variable", ast.PrincipalDecl: "principal", ast.AgentDecl: "agent",
    }
    CONTENTS = "types, prob, principal, agent, utility, allocation/payment, period, maximize, constraint ir/ic/iic"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.types: dict[str, m.TypeVector] = {}
        self.probs: dict[str, m.ProbTable] = {}
        self.variables: dict[str, m.ContractVariable] = {}

    # ================================================================ driver
    def _declarations(self) -> None:
        for node in self._of(ast.TypesDecl):
            self._declare(self._types, node)
        for node in self._of(ast.TypesFixed):
            self._declare(self._fixed_types, node)
        for node in self._of(ast.ProbRandom, ast.ProbFixed):
            self._declare(self._prob, node)
        for node in self._of(ast.VariableDecl):
            self._declare(self._variable, node)

    def _statements(self) -> dict:
        utility_node = self._single(ast.UtilityDecl, "utility")
        utility = self._attempt(self._utility, utility_node) if utility_node else None
        periods = self._attempt(self._periods)
        if utility is not None and periods:
            self._type_values(utility, periods, utility_node.span)
        objective_node = self._single(ast.ObjectiveDecl, "objective (maximize ...)")
        objective = self._attempt(self._objective, objective_node) if objective_node else None
        agent = self._single(ast.AgentDecl, "agent")
        agent_count = self._attempt(self._agent_count, agent) if agent else None
        principal = self._single(ast.PrincipalDecl, "principal")
        constraints = tuple(
            c for node in self._of(ast.ConstraintIR, ast.ConstraintIC, ast.ConstraintIIC,
                                   ast.ConstraintMonotone, ast.ConstraintPlain)
            if (c := self._attempt(self._constraint, node, periods)) is not None
        )
        return dict(utility=utility, periods=periods, objective=objective, agent=agent, agent_count=agent_count,
                    principal=principal, constraints=constraints)

    def _model(self, name: str, parts: dict, train: dict) -> m.Model:
        return m.Model(
            name=name, path=self.spec.path, sizes=dict(self.sizes),
            constants=self.constants, randoms=self.randoms, derived=self.derived,
            types=self.types, probs=self.probs, principal=parts["principal"].name, agent=parts["agent"].name,
            agent_count=parts["agent_count"], utility=parts["utility"], periods=parts["periods"],
            variables=self.variables, objective=parts["objective"], constraints=parts["constraints"],
            train=train, size_sweeps=dict(self._size_sweeps),
        )

    # ================================================================ Scope protocol
    def resolve_name(self, node: ast.Name, ctx: Context) -> sp.Expr:
        name, kind = node.name, self._kind(node.name)
        if kind in ("types", "probability", "contract variable"):
            shape = self.declared[name].node.shape if kind != "types" else ("K",)
            raise fail(f"'{name}' needs {len(shape)} index(es), e.g. {name}[{', '.join('k' * 1 for _ in shape)}]",
                       node.span)
        if kind in ("principal", "agent"):
            raise fail(f"'{name}' names the {kind}; it has no value", node.span)
        return super().resolve_name(node, ctx)

    def _indexed_entity(self, name: str) -> m.Indexed | None:
        for table in (self.types, self.probs, self.variables):
            if name in table:
                return table[name]
        return None

    def _decision_symbols(self) -> list[sp.Symbol]:
        return [s for v in self.variables.values() for s in v.symbols()]

    # ================================================================ declarations
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
            total = math.fsum(values[r * row:(r + 1) * row])
            if abs(total - 1) > PROBABILITY_TOLERANCE:  # the tolerance of a state's probabilities too
                tolerance = f"{PROBABILITY_TOLERANCE:.0e}".replace("e-0", "e-")
                raise fail(f"probabilities of '{node.name}' (row {r}) sum to {total:.12g}, not 1 "
                           f"(to within {tolerance})", node.rows[r].span if node.nested else node.span,
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

    def _utility(self, node: ast.UtilityDecl) -> m.Utility:
        if self._kind(node.agent) != "agent":
            raise fail(f"'{node.agent}' is not the declared agent", node.span,
                       hint=did_you_mean(node.agent, [n for n, d in self.declared.items() if d.kind == "agent"]))
        if len(node.params) != 3:
            raise fail("a utility takes exactly 3 parameters: (type, allocation, payment)", node.span)
        self._utility_parameter_names(node)
        symbols = [sp.Symbol(p, real=True) for p in node.params]
        expr = lower(node.body, self, Context(dict(zip(node.params, symbols))))
        if expr.free_symbols & set(self._decision_symbols()):
            raise fail("a utility is written in its parameters (type, allocation, payment), "
                       "not in contract variables", node.body.span)
        for role, s in zip(("type", "allocation", "payment"), symbols):
            if s not in expr.free_symbols:
                raise fail(f"the utility does not depend on its {role} parameter '{s}'", node.span)
        return m.Utility(node.agent, *symbols, expr)

    def _utility_parameter_names(self, node: ast.UtilityDecl) -> None:
        """Refuse a repeated parameter, and a parameter named like a scalar param or let: a
        parameter is the SymPy symbol of its name, which is also that param's (or let's) symbol,
        so a let or function that uses the param inside the utility would read the parameter."""
        if len(set(node.params)) != len(node.params):
            raise fail("the utility repeats a parameter name", node.span,
                       hint="name the type, allocation and payment parameters differently")
        scalars = {"constant": "param", "random parameter": "param", "let": "let"}
        for name in node.params:
            kind = scalars.get(self._kind(name))
            if kind is not None:
                raise fail(f"the utility parameter '{name}' has the name of the {kind} '{name}'", node.span,
                           hint=f"rename the parameter: a let or function using the {kind} '{name}' inside "
                                "the utility would read the parameter instead")

    def _type_values(self, utility: m.Utility, periods: tuple[m.Period, ...], at: ast.Span) -> None:
        """Refuse a type value where the utility is undefined or money worth nothing to the agent
        (`mechdsl.lang.type_values`): one error per type vector, at its first such type."""
        flow = self.variables[periods[0].payment].flow
        constants = {c.symbol(): float(c.value) for c in self.constants.values() if not c.shape}
        if self._utility_beyond_float64(utility, constants, "once the constants are substituted", at):
            return
        facts = sign_facts(self.constants, self.randoms, self.variables, utility)
        for name in dict.fromkeys(p.types for p in periods):
            types, node = self.types[name], self.declared[name].node
            fixed = isinstance(node, ast.TypesFixed)
            if any(self._utility_beyond_float64(utility, {**constants, utility.type_symbol: value},
                                                f"at type {k} of '{name}' = {value:g}", at)
                   for k in range(types.shape[0]) for value in candidate_values(types, k)):
                continue
            found = ((k, value, problem) for k in range(types.shape[0]) for value in candidate_values(types, k)
                     if (problem := type_value_problem(utility, flow, value, facts)) is not None)
            k, value, problem = next(found, (None, None, None))
            if problem is not None:
                self._error(f"type {k} of '{name}' {'is' if fixed else 'can be'} {value:g}, where {problem}",
                            node.values.values[k].span if fixed else node.distribution.span,
                            hint=f"every type must keep the utility defined and value money: screening divides "
                                 f"by du/d{utility.payment_symbol} (the MRS, the least payments); e.g. positive types")

    def _utility_beyond_float64(self, utility: m.Utility, values: dict[sp.Symbol, float], where: str,
                                at: ast.Span) -> bool:
        """Report (at the utility) a subexpression that leaves float64 at these values: SymPy
        would compute it exactly and without bound in the checks that follow (`lang.float64`)."""
        culprit = beyond_float64(utility.expr, values)
        if culprit is not None:
            self._error(f"the utility's {sp.sstr(culprit)} is beyond float64 (about 1.8e308) {where}",
                        at,
                        hint="every later stage computes in float64: rescale the spec's units or bound the types")
        return culprit is not None

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
        self._require_defined(expr, node.expr.span, "the objective")
        self._require_decision(expr, node.expr.span, "the objective")
        return m.Objective(node.sense, expr)

    def _require_defined(self, expr: sp.Expr, span: ast.Span, what: str) -> None:
        """SymPy folds a division by a zero constant, or 0 to a negative power, into zoo (or nan):
        no solver can evaluate that, so it is the spec's mistake, reported here."""
        if expr.has(sp.zoo, sp.nan):
            raise fail(f"{what} is undefined: it divides by zero or raises 0 to a negative power", span,
                       hint="check the constants, lets and functions it uses for a denominator or base that is 0")

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
            self._require_defined(g, node.span, "the constraint")
            self._require_decision(g, node.span, "the constraint")
            instances.append((g, "==" if node.comparator == "==" else ">="))
        return m.Constraint("plain", instances=tuple(instances), text=text, line=node.span.line)


def check(spec: ast.Spec, overrides: dict[str, float] | None = None) -> m.Model:
    """Check a parsed contract spec and build its model; raises `SpecError` listing every mistake."""
    return ContractChecker(spec, dict(overrides or {})).check()
