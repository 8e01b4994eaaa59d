"""The checked model of a sequential scenario (`scenario NAME` specs, docs/scenarios.md).

Sizes are concrete, so every indexed state variable, action, constraint and metric is
expanded into scalar SymPy symbols and expressions named as the spec writes them
(`rep[2, 1]`). Constants and `let`s of constants only are folded by the code generator;
every other `let` is already expanded in place. A slot of the scenario reads:

    decisions d = map(raw action a in [-1, 1]^n, state x)          (action declarations)
    reward r(x, d), constraint excesses g_c(x, d), metrics m(x, d)  (all deterministic)
    x' = f(x, d)  or  x' ~ D(args(x, d))                            (per-slot transitions)

States without a `next` keep their value over the episode (per-episode draws). An implicit
state column `slot` counts slots; an episode ends after `horizon` slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

from mechdsl.model import ConstParam, Derived, Indexed, all_indices, exact_constants

if TYPE_CHECKING:
    from mechdsl.scenario.hard import KeptBy

SLOT = "slot"  # the implicit slot-counter state column

# distribution name -> number of arguments (arguments may be expressions of the state)
SCENARIO_DISTRIBUTIONS = {"uniform": 2, "normal": 2, "bernoulli": 1}


@dataclass(frozen=True)
class Draw:
    """A random draw `name(args)`; the arguments are SymPy expressions (of constants,
    indices, and, in transitions, of the state and the decisions)."""

    name: str
    args: tuple[sp.Expr, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(str, self.args))})"


@dataclass(frozen=True)
class StateVariable(Indexed):
    """A state variable: its entries, observation bounds, initial values and whether the
    policy observes it."""

    index_sizes: tuple[str, ...] = ()
    lower: float = 0.0
    upper: float = 1.0
    init: tuple[sp.Expr | Draw, ...] = ()
    observed: bool = False


@dataclass(frozen=True)
class Action(Indexed):
    """Raw outputs a in [-1, 1] (one per entry) and their map to decisions:

    softmax   one-hot of argmax along `axis` (the argmax of softmax(a) along that axis); a
              choice (`qualify`, `fallback`, `capacity` set) is mapped by
              mechdsl/scenario/choice.py: entries qualify where q >= 0 (q > 0 if
              `qualify_strict`), rows without a place take the largest `fallback`, and at
              most `capacity` rows take each entry;
    threshold 1 if (a + 1) / 2 > level else 0;
    simplex   shares w exp(a) / sum_axis w exp(a) along `axis`, w = max(mask, 0) (0 where
              the masked sum is 0);
    interval  lower + (upper - lower) (a + 1) / 2.
    """

    index_sizes: tuple[str, ...] = ()
    kind: str = "interval"
    axis: int | None = None
    level: float | None = None
    mask: tuple[sp.Expr, ...] | None = None
    lower: float = 0.0
    upper: float = 1.0
    qualify: tuple[sp.Expr, ...] | None = None
    qualify_strict: bool = False
    fallback: tuple[sp.Expr, ...] | None = None
    capacity: int | None = None

    @property
    def is_choice(self) -> bool:
        """A softmax with a mask or a capacity (mapped by mechdsl/scenario/choice.py)."""
        return self.qualify is not None or self.capacity is not None

    def rows_and_entries(self) -> tuple[int, int]:
        entries = self.shape[self.axis]
        return len(self.symbols()) // entries, entries


@dataclass(frozen=True)
class PenalisedConstraint:
    """`constraint label: lhs <= rhs for ... penalty w` or `... hard`; `excesses` are lhs - rhs
    (for <=), rhs - lhs (for >=) or |lhs - rhs| (for ==), one per instance: violated when > 0.
    A hard constraint has penalty 0 and `kept` says which part of the action map keeps it
    (mechdsl/scenario/hard.py)."""

    label: str
    excesses: tuple[sp.Expr, ...]
    instances: tuple[tuple[int, ...], ...]
    penalty: float
    text: str
    line: int
    kept: KeptBy | None = None

    @property
    def hard(self) -> bool:
        return self.kept is not None


@dataclass(frozen=True)
class Metric(Indexed):
    exprs: tuple[sp.Expr, ...] = ()


@dataclass(frozen=True)
class ScenarioModel:
    name: str
    path: str
    sizes: dict[str, int]
    constants: dict[str, ConstParam]
    derived: dict[str, Derived]
    states: dict[str, StateVariable]
    actions: dict[str, Action]
    transitions: dict[sp.Symbol, sp.Expr | Draw]
    reward: sp.Expr
    constraints: tuple[PenalisedConstraint, ...]
    metrics: dict[str, Metric]
    horizon: int
    discount: float
    train: dict = field(default_factory=dict)
    # `f(2, 1)` -> its expression, in dependency order (each reads only earlier ones)
    intermediates: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)

    # ------------------------------------------------------------- layouts
    def state_symbols(self) -> list[sp.Symbol]:
        """Columns of the env state: every state entry in declaration order, then `slot`."""
        return [s for v in self.states.values() for s in v.symbols()] + [sp.Symbol(SLOT, real=True)]

    def decision_symbols(self) -> list[sp.Symbol]:
        return [s for a in self.actions.values() for s in a.symbols()]

    def action_dim(self) -> int:
        return len(self.decision_symbols())

    def constant_substitution(self) -> dict[sp.Symbol, sp.Expr]:
        """Constants and constant-only lets -> exact values (folded into every formula)."""
        return exact_constants(self.constants, self.derived, inline_lets=True)

    # ------------------------------------------------------------- description
    def summary(self) -> str:
        """A one-screen description (what `mechdsl check` prints)."""
        observed = [n for n, v in self.states.items() if v.observed]
        lines = [f"scenario {self.name}  ({self.path})",
                 f"  sizes       {', '.join(f'{k} = {v}' for k, v in self.sizes.items())}",
                 f"  parameters  {len(self.constants)} constant, {len(self.derived)} derived",
                 f"  horizon     {self.horizon} slots, discount {self.discount:g}"]
        for v in self.states.values():
            init = "random" if any(isinstance(i, Draw) for i in v.init) else "fixed"
            dynamics = ("random" if any(isinstance(self.transitions.get(s), Draw) for s in v.symbols())
                        else "deterministic" if any(s in self.transitions for s in v.symbols()) else "constant")
            lines.append(f"  state       {v.name}{list(v.shape)} in [{v.lower:g}, {v.upper:g}], {init} start, "
                         f"{dynamics} dynamics{', observed' if v.name in observed else ''}")
        for a in self.actions.values():
            rules = ([] if a.qualify is None else ["masked"]) + ([] if a.capacity is None else [f"capacity {a.capacity}"])
            lines.append(f"  action      {a.name}{list(a.shape)} {a.kind}" + (f" ({', '.join(rules)})" if rules else ""))
        for c in self.constraints:
            kept = f"hard, kept by the {c.kept.form} of {c.kept.action}" if c.hard else f"penalty {c.penalty:g}"
            lines.append(f"  constraint  {c.label}: {len(c.excesses)} instance(s), {kept}")
        for mt in self.metrics.values():
            lines.append(f"  metric      {mt.name}{list(mt.shape)}")
        lines.append(f"  observation {sum(len(self.states[n].symbols()) for n in observed) + 1} of "
                     f"{len(self.state_symbols())} state columns (with `{SLOT}`), action dim {self.action_dim()}")
        return "\n".join(lines)

    def meaning(self) -> tuple:
        """What a formatted spec must keep: the summary and every expression."""
        return (self.summary(), str(self.reward),
                tuple((str(k), str(v)) for k, v in self.transitions.items()),
                tuple((c.label, tuple(map(str, c.excesses)), c.penalty, c.kept) for c in self.constraints),
                tuple((a.name, a.kind, tuple(map(str, a.qualify or ())), tuple(map(str, a.fallback or ())), a.capacity)
                      for a in self.actions.values()),
                tuple((n, tuple(map(str, m.exprs))) for n, m in self.metrics.items()),
                tuple((n, tuple(map(str, v.init))) for n, v in self.states.items()), self.train,
                tuple((str(k), str(v)) for k, v in self.intermediates.items()))

    def __repr__(self) -> str:
        return (f"<ScenarioModel {self.name}: {len(self.state_symbols())} state columns, "
                f"action dim {self.action_dim()}, horizon {self.horizon}>")


def entries(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    return list(all_indices(shape))
