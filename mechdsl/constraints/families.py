"""The constraint families of a screening contract, each defined once, as SymPy data.

Notation of `mechdsl.constraints.structure`: at period t after report history h, type i
takes item i, u_t(i; r) = u(theta_t[i], x_t[h, r], y_t[h, r]), V_t(i, r) = u_t(i; r) + C(t, i, h, r)
with the continuation C of later periods. Every family yields `Instance`s g >= 0:

  * IR per period (`constraint ir`):        u_t(i; i) >= 0 at every t, h, i;
  * lifetime IR (`constraint ir lifetime`): V_1(i, i) >= 0;
  * IC (last period) and IIC (earlier periods, Laffont-Martimort ch. 7 / Pavan-Segal-Toikka):
        V_t(i, i) - V_t(i, r) >= 0 for every report r != i;
  * bounds:    x - lower >= 0 and upper - x >= 0 for every decision;
  * monotone:  x[..., k] - x[..., k-1] >= 0 (`constraint monotone x`);
  * declared:  the spec's own `constraint g >= 0` (an equality gives g >= 0 and -g >= 0).

The continuation is either with truthful later play (`TRUTHFUL`: the same feasible set, since
IC holds at every later history, and affine in the payments for a linear utility; the exact
solvers and the reduction) or with optimal later play (`OPTIMAL`: the agent re-optimises every
later report, C* = delta sum_j P(j | i) max_r' V(j, r'); the certificate, which must not assume
the later IC it checks). Consumers produce their own form from these instances: the symbolic
reduction (`mechdsl.reduce`), CVXPY (`mechdsl.solve.exact`, `mechdsl.solve.parametric`), NumPy
(`mechdsl.solve.certificate`) and generated torch (`mechdsl.codegen.certificate`, which
vectorises the families it knows and prints the instances of any other). Labels follow
`mechdsl.constraints.labels`. Adding a family: a class here, listed in ITEM_FAMILIES (one
constraint set per menu item) or DECLARED (per declared `constraint` kind), plus its tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import sympy as sp

from mechdsl.constraints.labels import EVERY, Place, item_subject
from mechdsl.constraints.structure import History, Screening
from mechdsl.model import Constraint, Model, all_indices

TRUTHFUL = "truthful"  # later reports truthful (valid once IC holds at every later history)
OPTIMAL = "optimal"    # later reports re-optimised by the agent


@dataclass(frozen=True)
class Instance:
    """One constraint g >= 0, labelled by the scheme of `mechdsl.constraints.labels`."""

    name: str
    g: sp.Expr
    family: str                   # "ir" | "lifetime ir" | "ic" | "iic" | "bound" | "monotone" | "declared"
    type: int | None = None       # the true type of an item constraint
    report: int | None = None     # the report of an IC / IIC constraint
    bound: tuple[sp.Symbol, str, float] | None = None  # (decision, "lower" | "upper", value) of a bound


def _history_block(t: int) -> tuple[()] | str:
    return EVERY if t > 1 else ()


class ItemFamily(ABC):
    """Constraints at one menu item: period t, history h, true type i."""

    @abstractmethod
    def applies(self, model: Model) -> bool: ...

    @abstractmethod
    def periods(self, s: Screening) -> range: ...

    @abstractmethod
    def at(self, s: Screening, t: int, h: History, i: int, later: str) -> list[Instance]: ...

    @abstractmethod
    def block(self, s: Screening, t: int) -> Place:
        """The place of all its constraints of period t (one block of a vectorised consumer)."""


def continuation(s: Screening, t: int, i: int, h: History, r: int, later: str) -> sp.Expr:
    return s.continuation(t, i, h, r) if later == TRUTHFUL else s.optimal_continuation(t, i, h, r)


class PerPeriodIR(ItemFamily):
    """u_t(i; i) >= 0: every type accepts its item in every period (`ir` without `lifetime`)."""

    def applies(self, model: Model) -> bool:
        return model.ir_scope() != "lifetime"

    def periods(self, s: Screening) -> range:
        return range(1, s.periods + 1)

    def at(self, s, t, h, i, later) -> list[Instance]:
        return [Instance(str(Place("IR", item_subject(i), t, h)), s.u(t, i, h, i), "ir", i)]

    def block(self, s, t) -> Place:
        return Place("IR", item_subject(EVERY), t, _history_block(t))


class LifetimeIR(ItemFamily):
    """V_1(i, i) >= 0: every type accepts the contract as a whole (`ir lifetime`)."""

    def applies(self, model: Model) -> bool:
        return model.ir_scope() == "lifetime"

    def periods(self, s: Screening) -> range:
        return range(1, 2)

    def at(self, s, t, h, i, later) -> list[Instance]:
        value = s.u(t, i, h, i) + continuation(s, t, i, h, i, later)
        return [Instance(str(Place("lifetime IR", item_subject(i))), value, "lifetime ir", i)]

    def block(self, s, t) -> Place:
        return Place("lifetime IR", item_subject(EVERY))


class Incentive(ItemFamily):
    """V_t(i, i) - V_t(i, r) >= 0 for every report r != i: IC in the last period, IIC before."""

    def applies(self, model: Model) -> bool:
        return True

    def periods(self, s: Screening) -> range:
        return range(1, s.periods + 1)

    @staticmethod
    def kind(s: Screening, t: int) -> str:
        return "iic" if t < s.periods else "ic"

    def pair(self, s: Screening, t: int, h: History, i: int, r: int, later: str) -> Instance:
        stay = s.u(t, i, h, i) + continuation(s, t, i, h, i, later)
        g = stay - s.u(t, i, h, r) - continuation(s, t, i, h, r, later)
        kind = self.kind(s, t)
        return Instance(str(Place(kind.upper(), item_subject(i, r), t, h)), g, kind, i, r)

    def at(self, s, t, h, i, later) -> list[Instance]:
        return [self.pair(s, t, h, i, r, later) for r in range(s.K) if r != i]

    def block(self, s, t) -> Place:
        return Place(self.kind(s, t).upper(), item_subject(EVERY, EVERY), t, _history_block(t))


class Bounds:
    """lower <= x <= upper for every decision (upper only where declared)."""

    def instances(self, model: Model, kind: str | None = None) -> list[Instance]:
        """Lower then upper bound of each decision symbol; `kind` keeps allocations or payments."""
        out: list[Instance] = []
        for v in model.variables.values():
            if kind is not None and v.kind != kind:
                continue
            for symbol in v.symbols():
                out.append(Instance(str(Place("bound", f"{symbol} >= {v.lower:g}")), symbol - v.lower, "bound",
                                    bound=(symbol, "lower", v.lower)))
                if v.upper is not None:
                    out.append(Instance(str(Place("bound", f"{symbol} <= {v.upper:g}")), v.upper - symbol, "bound",
                                        bound=(symbol, "upper", v.upper)))
        return out

    def block(self, side: str) -> Place:
        return Place("bound", f"{EVERY} decision {'>=' if side == 'lower' else '<='} its {side} bound")


class Monotone:
    """`constraint monotone x`: x[..., k] >= x[..., k-1] along the last index."""

    def instances(self, model: Model, c: Constraint) -> list[Instance]:
        out = []
        for name in c.names:
            var = model.variables[name]
            for index in all_indices(var.shape):
                if index[-1] > 0:
                    prev = index[:-1] + (index[-1] - 1,)
                    out.append(self.pair(var.symbol(*index), var.symbol(*prev)))
        return out

    @staticmethod
    def pair(higher: sp.Symbol, lower: sp.Symbol) -> Instance:
        return Instance(str(Place("monotone", f"{higher} >= {lower}")), higher - lower, "monotone")

    def block(self, name: str) -> Place:
        return Place("monotone", f"{EVERY} entry of {name} >= the previous one along the last index")


class Declared:
    """The spec's own `constraint g >= 0` / `g == 0` (checked into `Constraint.instances`)."""

    def instances(self, model: Model, c: Constraint) -> list[Instance]:
        out = []
        for n, (g, op) in enumerate(c.instances):
            out.append(Instance(str(Place(f"line {c.line}", f"{c.text} [{n}]")), g, "declared"))
            if op == "==":
                out.append(Instance(str(Place(f"line {c.line}", f"{c.text} [{n}] (<=)")), -g, "declared"))
        return out

    def block(self, c: Constraint) -> Place:
        return Place(f"line {c.line}", c.text)


PER_PERIOD_IR, LIFETIME_IR, INCENTIVE = PerPeriodIR(), LifetimeIR(), Incentive()
ITEM_FAMILIES: tuple[ItemFamily, ...] = (PER_PERIOD_IR, LIFETIME_IR, INCENTIVE)  # per item, in this order
BOUNDS = Bounds()
DECLARED = {"monotone": Monotone(), "plain": Declared()}  # declared `constraint` kind -> its family


def item_constraints(model: Model, later: str = TRUTHFUL) -> list[Instance]:
    """Every item family's constraints, ordered by period, history, type, then family."""
    s = Screening(model)
    families = [f for f in ITEM_FAMILIES if f.applies(model)]
    out: list[Instance] = []
    for t in range(1, s.periods + 1):
        for h in s.histories(t):
            for i in range(s.K):
                for family in families:
                    if t in family.periods(s):
                        out += family.at(s, t, h, i, later)
    return out


def declared_constraints(model: Model) -> list[Instance]:
    """The spec's `monotone` and plain constraints, in declaration order."""
    return [inst for c in model.constraints if c.kind in DECLARED for inst in DECLARED[c.kind].instances(model, c)]


def original_constraints(model: Model, later: str = TRUTHFUL, bounds: bool = False) -> list[Instance]:
    """Every original constraint of the contract: item families, bounds (if asked), declared ones."""
    return [*item_constraints(model, later), *(BOUNDS.instances(model) if bounds else ()), *declared_constraints(model)]


__all__ = ["BOUNDS", "DECLARED", "INCENTIVE", "ITEM_FAMILIES", "LIFETIME_IR", "OPTIMAL", "PER_PERIOD_IR", "TRUTHFUL",
           "Instance", "ItemFamily", "continuation", "declared_constraints", "item_constraints", "original_constraints"]
