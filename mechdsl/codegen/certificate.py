"""The certificate of `mechdsl.solve.certificate.certify`, vectorised for the generated env.

The generated `_score` keeps the batch as the LAST dimension: `rows` (S, B) holds the state
columns and `decisions` (n, B) the contract items in `CONTRACT_LAYOUT` order, so every
per-sample quantity (B,) broadcasts against any tensor of shape (..., B). Per period t,
with H_t = K^(t-1) report histories h (flattened row-major, as `Screening.histories`):

    U_t[h, i, r] = u(theta_t[i]; x_t[h, r], y_t[h, r])                 (H_t, K, K, B)

is ONE call of the utility on views (theta_t as (1, K, 1, B), x_t and y_t as
(H_t, 1, K, B)). Values with optimal later play are built from the last period back:

    V_P = U_P,
    V_t[h, i, r] = U_t[h, i, r] + delta_{t+1} sum_j P_{t+1}(j | i) max_{r'} V_{t+1}[(h, r), j, r'],

the continuation C*(t, i, h, r) of `certify`, as a broadcast product summed over j. With
`truthful_later_play` the max over r' is replaced by r' = j (V_{t+1}[(h, r), j, j]): together
with IC at every later history this is the same constraint set (`mechdsl.solve.exact`), and
every slack is then affine in the payments when the utility is (the payment repair's LP). The
slacks come in one (n, B) block per constraint family of `mechdsl.constraints` (labelled by the
family's `block` place: `SLACK_LABELS`), concatenated and reduced once. The families known here
are vectorised; any other item family is printed instance by instance (optimal later play):

  * IR (per period): U_t[h, i, i] >= 0; lifetime IR: V_1[i, i] >= 0;
  * IC / IIC: V_t[h, i, i] - V_t[h, i, r] >= 0 for every r. The r = i entries add zero
    slacks, which cannot create a violation (violation = max(0, -min slack));
  * bounds lower <= x <= upper on the stacked decisions (upper = inf when undeclared);
  * declared `monotone` (differences along the last index) and plain constraints.

`certificate_code` returns the statements and the per-family slack expressions as code;
the template prints them. Numbers were folded in by the caller (`fold` maps constant
symbols to values), so no constant needs a tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from mechdsl.codegen.layout import Layout, LayoutError
from mechdsl.codegen.printer import float_literal, print_expression
from mechdsl.constraints import BOUNDS, DECLARED, ITEM_FAMILIES, OPTIMAL, ItemFamily, Screening
from mechdsl.constraints.families import Incentive, LifetimeIR, PerPeriodIR
from mechdsl.model import Model
from mechdsl.tolerances import VIOLATION_TOLERANCE

UTILITY_ARGUMENTS = ("type_value", "allocation", "payment")  # `_utility`'s own parameters


@dataclass(frozen=True)
class UtilityFunction:
    """`_utility(type_value, allocation, payment, *others)`: the agent's per-period utility."""

    others: tuple[str, ...]   # local names of the state quantities it also reads
    code: str
    formula: str              # the spec's formula, for the docstring
    broadcasts: bool          # uses type, allocation and payment, so its result is (H, K, K, B)


@dataclass(frozen=True)
class CertificateCode:
    utility: UtilityFunction
    statements: tuple[tuple[str, str], ...]   # (local, code), in order
    slacks: tuple[tuple[str, str], ...]       # (label, code of an (n, B) block of slacks)
    utilities: tuple[tuple[str, str], ...]    # ("u<t>[h..., i]", code) truthful utilities
    violation_tolerance: str = repr(VIOLATION_TOLERANCE)  # rendered as VIOLATION_TOLERANCE (`mechdsl.tolerances`)


def _rows(layout_symbols: list[sp.Symbol], wanted: list[sp.Symbol], what: str) -> tuple[int, int]:
    """The slice [start, stop) of `layout_symbols` holding exactly `wanted`, in order."""
    start = layout_symbols.index(wanted[0]) if wanted and wanted[0] in layout_symbols else -1
    if start < 0 or layout_symbols[start:start + len(wanted)] != wanted:
        raise LayoutError(f"{what} is not stored as consecutive entries in the layout")
    return start, start + len(wanted)


def _utility_function(model: Model, fold: dict, names: dict[sp.Symbol, str]) -> UtilityFunction:
    u = model.utility
    own = (u.type_symbol, u.allocation_symbol, u.payment_symbol)
    expr = u.expr.xreplace({s: v for s, v in fold.items() if s not in own})
    others = sorted(expr.free_symbols - set(own), key=lambda s: names[s])
    local = {**{s: names[s] for s in others}, **dict(zip(own, UTILITY_ARGUMENTS))}
    formula = f"u({', '.join(map(str, own))}) = {u.expr}"
    # terms without the type are computed on (H, 1, K, B) before broadcasting to (H, K, K, B)
    typed = [a for a in sp.Add.make_args(expr) if u.type_symbol in a.free_symbols]
    untyped = [a for a in sp.Add.make_args(expr) if u.type_symbol not in a.free_symbols]
    if typed and untyped:
        code = f"{print_expression(sp.Add(*typed), local)} + ({print_expression(sp.Add(*untyped), local)})"
    else:
        code = print_expression(expr, local)
    return UtilityFunction(tuple(names[s] for s in others), code, formula, set(own) <= expr.free_symbols)


def certificate_code(model: Model, layout: Layout, fold: dict, contract: list[sp.Symbol]) -> CertificateCode:
    """Code of the vectorised certificate (see the module docstring); `contract` is the
    decision order of `decisions`, `fold` the constant symbols -> numbers."""
    s = Screening(model)
    K, periods, names = s.K, s.periods, layout.names
    state = list(layout.state_symbols)
    utility = _utility_function(model, fold, names)
    extra = "".join(f", {o}" for o in utility.others)
    statements: list[tuple[str, str]] = []
    for t in range(1, periods + 1):
        H = K ** (t - 1)
        types = _rows(state, [s.theta(t, i) for i in range(K)], f"the period-{t} types")
        items = [(h, r) for h in s.histories(t) for r in range(K)]
        x = _rows(contract, [s.allocation(t, h, r) for h, r in items], f"period-{t} allocations")
        y = _rows(contract, [s.payment(t, h, r) for h, r in items], f"period-{t} payments")
        call = (f"_utility(rows[{types[0]}:{types[1]}].view(1, {K}, 1, -1), "
                f"decisions[{x[0]}:{x[1]}].view({H}, 1, {K}, -1), "
                f"decisions[{y[0]}:{y[1]}].view({H}, 1, {K}, -1){extra})")
        if not utility.broadcasts:
            call = f"torch.broadcast_to({call}, ({H}, {K}, {K}, batch))"
        statements.append((f"u{t}", call))
    value = {periods: f"u{periods}"}
    for t in range(periods - 1, 0, -1):
        H = K ** (t - 1)
        if len(model.probs[model.periods[t].prob].shape) == 2:
            table = _rows(state, [s.prob(t + 1, i, j) for i in range(K) for j in range(K)], f"P_{t + 1}(j | i)")
            prob = f"rows[{table[0]}:{table[1]}].view(1, {K}, 1, {K}, -1)"
        else:
            table = _rows(state, [s.prob(t + 1, None, j) for j in range(K)], f"P_{t + 1}(j)")
            prob = f"rows[{table[0]}:{table[1]}].view(1, 1, 1, {K}, -1)"
        best = f"_later_play({value[t + 1]}, truthful_later_play).reshape({H}, 1, {K}, {K}, -1)"
        continuation = f"({prob} * {best}).sum(3)"
        discount = s.discount(t + 1).xreplace(fold)
        if discount != 1:
            continuation = f"{_factor(discount, names)} * {continuation}"
        statements.append((f"value{t}", f"u{t} + {continuation}"))
        value[t] = f"value{t}"

    for t in range(1, periods + 1):  # u_t[h, i, i] as rows h * K + i, (H_t K, B)
        statements.append((f"truthful_u{t}", f"u{t}.diagonal(0, 1, 2).transpose(1, 2).reshape({K ** t}, batch)"))
    slacks = [(str(family.block(s, t)), _item_block(family, s, t, value, layout, fold))
              for family in ITEM_FAMILIES if family.applies(model) for t in family.periods(s)]
    slacks += _declared_slacks(model, layout, fold, contract)
    utilities = [(f"u{t}[{', '.join(map(str, h + (i,)))}]", f"truthful_u{t}[{flat * K + i}]")
                 for t in range(1, periods + 1) for flat, h in enumerate(s.histories(t)) for i in range(K)]
    return CertificateCode(utility, tuple(statements), tuple(slacks), tuple(utilities))


def _factor(expr: sp.Expr, names: dict[sp.Symbol, str]) -> str:
    code = print_expression(expr, names)
    return code if expr.is_Atom or code.startswith("(") else f"({code})"


_VECTORISED = {  # item family -> its (rows, B) block of period t, vectorised over histories, types, reports
    PerPeriodIR: lambda s, t, value: f"truthful_u{t}",
    LifetimeIR: lambda s, t, value: f"{value[1]}.diagonal(0, 1, 2).transpose(1, 2).reshape({s.K}, batch)",
    Incentive: lambda s, t, value: f"_incentive_slacks({value[t]})",
}


def _item_block(family: ItemFamily, s: Screening, t: int, value: dict[int, str], layout: Layout, fold: dict) -> str:
    """The family's slacks of period t: vectorised when `_VECTORISED` knows the family, else
    its instances (optimal later play) printed one per row."""
    if type(family) in _VECTORISED:
        return _VECTORISED[type(family)](s, t, value)
    instances = [c for h in s.histories(t) for i in range(s.K) for c in family.at(s, t, h, i, OPTIMAL)]
    return _printed_rows([c.g for c in instances], layout, fold)


def _row_code(g: sp.Expr, layout: Layout, fold: dict) -> str:
    """One printed row of slacks (B,), constants folded."""
    g = g.xreplace(fold)
    return print_expression(g, layout.names) if g.free_symbols else f"_per_sample({float_literal(g)}, rows)"


def _printed_rows(expressions: list[sp.Expr], layout: Layout, fold: dict) -> str:
    return f"torch.stack([{', '.join(_row_code(g, layout, fold) for g in expressions)}])"


def _declared_slacks(model: Model, layout: Layout, fold: dict, contract: list[sp.Symbol]) -> list[tuple[str, str]]:
    """Bounds of every decision, declared `monotone` and plain constraints, (n, B) each."""
    lower_zero = all(v.lower == 0 for v in model.variables.values())
    lower = "decisions" if lower_zero else "decisions - k.decision_lower"  # x - 0 is x: no torch call
    slacks = [(str(BOUNDS.block("lower")), lower)]
    if any(v.upper is not None for v in model.variables.values()):
        slacks.append((str(BOUNDS.block("upper")), "k.decision_upper - decisions"))
    for c in model.constraints:
        family = DECLARED.get(c.kind)
        if c.kind == "monotone":
            for name in c.names:
                var = model.variables[name]
                if var.shape[-1] < 2:
                    continue
                start, stop = _rows(contract, var.symbols(), f"{name}")
                shape = ", ".join(map(str, var.shape))
                slacks.append((str(family.block(name)),
                               f"torch.diff(decisions[{start}:{stop}].view({shape}, -1), dim=-2).reshape(-1, batch)"))
        elif c.kind == "plain":  # an equality g == 0 as one row -|g|
            codes = [_row_code(g, layout, fold) if op == ">=" else f"-torch.abs({_row_code(g, layout, fold)})"
                     for g, op in c.instances]
            slacks.append((str(family.block(c)), f"torch.stack([{', '.join(codes)}])"))
        elif family is not None:
            slacks.append((str(family.block(c)), _printed_rows([i.g for i in family.instances(model, c)], layout, fold)))
    return slacks


__all__ = ["CertificateCode", "UtilityFunction", "certificate_code"]
