"""The checked, typed model of a spec: what every later stage consumes.

Sizes are concrete (K is a number), so every indexed entity is expanded into scalar SymPy
symbols named like the spec writes them (`T2[1, 0]`). Parameters (constant or random),
types and probabilities stay symbols so derivations read like the paper; their values
come from `constants` or from sampled states. `let` quantities that do not involve a
decision variable are kept as named derived symbols with their definitions; everything
else (functions, lets of decision variables, indexed sums) is expanded in place.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Iterator

import sympy as sp


def entry_name(name: str, index: tuple[int, ...]) -> str:
    """The display name of one entry of an indexed entity: `p2[1, 0]`."""
    return f"{name}[{', '.join(map(str, index))}]" if index else name


@functools.lru_cache(maxsize=1 << 16)
def real_symbol(name: str) -> sp.Symbol:
    """The real SymPy symbol named `name`. SymPy returns equal symbols for equal names and
    assumptions anyway; remembering them skips re-validating the assumptions, which checking
    a spec does for every entry it reads (16,000 times for `specs/agent_migration.mech`)."""
    return sp.Symbol(name, real=True)


def all_indices(shape: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(n) for n in shape))


def exact_constants(constants, derived, inline_lets: bool = False) -> dict[sp.Symbol, sp.Expr]:
    """Constant folding: each `param` constant -> the decimal the spec wrote, exactly
    (`Rational(repr(value))`), and each `let` (in dependency order) -> its definition with those
    values substituted, when that leaves no free symbol (constant-only lets). `inline_lets`
    maps every let to its substituted definition (the scenario generator inlines lets of state)."""
    fold: dict[sp.Symbol, sp.Expr] = {c.symbol(): sp.Rational(repr(float(c.value))) for c in constants.values()}
    for d in derived.values():
        value = d.expr.xreplace(fold)
        if inline_lets or not value.free_symbols:
            fold[d.symbol()] = value
    return fold


@dataclass(frozen=True)
class Distribution:
    """A random draw: `uniform(a, b)`, `loguniform(a, b)`, `normal(mu, sd)`,
    `choice(v1, ..., vn)`, `dirichlet(alpha...)` with numeric arguments."""

    name: str
    args: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(f'{a:g}' for a in self.args)})"

    def support(self) -> tuple[float, float]:
        """[lowest, highest] value of a scalar draw (normal: mean +- 3 sd; dirichlet: [0, 1])."""
        a = self.args
        if self.name == "normal":
            return a[0] - 3 * a[1], a[0] + 3 * a[1]
        if self.name == "choice":
            return min(a), max(a)
        if self.name == "dirichlet":
            return 0.0, 1.0
        return a[0], a[1]


@dataclass(frozen=True)
class Indexed:
    """An indexed (or scalar, shape ()) family of symbols: `T2` with shape (K, K)."""

    name: str
    shape: tuple[int, ...]

    def symbol(self, *index: int) -> sp.Symbol:
        return real_symbol(entry_name(self.name, tuple(index)))

    def symbols(self) -> list[sp.Symbol]:
        return [self.symbol(*i) for i in all_indices(self.shape)]


@dataclass(frozen=True)
class ConstParam(Indexed):
    value: float = 0.0
    sweep: tuple[float, ...] | None = None


@dataclass(frozen=True)
class RandomParam(Indexed):
    distribution: Distribution = Distribution("uniform", (0.0, 1.0))


@dataclass(frozen=True)
class Derived(Indexed):
    """`let c = sigma * rho * ...`: a state quantity computed from parameters."""

    expr: sp.Expr = sp.S.Zero


@dataclass(frozen=True)
class TypeVector(Indexed):
    """K hidden types, sorted ascending: entry k drawn from `distributions[k]` (then each
    draw sorted), or fixed to `values[k]` (`types theta[K] = [3, 4.05, 4.6]`)."""

    distributions: tuple[Distribution, ...] = ()
    values: tuple[float, ...] | None = None

    def entry_range(self, k: int) -> tuple[float, float]:
        """[lowest, highest] value type k can take (normal draws: mean +- 3 sd)."""
        if self.values is not None:
            return self.values[k], self.values[k]
        return self.distributions[k].support()

    def lower_bound(self, k: int) -> float | None:
        """A value type k never falls below (None for a normal draw)."""
        if self.values is None and self.distributions[k].name == "normal":
            return None
        return self.entry_range(k)[0]


@dataclass(frozen=True)
class ProbTable(Indexed):
    """Type probabilities: shape (K,) or a transition matrix (K, K) whose rows sum to 1.
    Either drawn (`dirichlet` per row) or fixed (`values`, row-major)."""

    distribution: Distribution | None = None
    values: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ContractVariable(Indexed):
    """An allocation or a payment of the menu. `flow` is the direction of a payment's
    money: +1 the principal pays the agent (the default), -1 the agent pays the principal
    (`payment t[K] from consumer`). A payment's values keep the declared sign either way;
    the transfer the agent receives is flow * value."""

    kind: str = "allocation"  # "allocation" | "payment"
    lower: float = 0.0
    upper: float | None = None
    flow: int = 1

    def described(self, agent: str) -> str:
        """`payment t[3] from consumer in [0, 100]`: the declaration, sizes expanded."""
        flow = "" if self.kind != "payment" or self.flow == 1 else f" from {agent}"
        upper = "inf" if self.upper is None else f"{self.upper:g}"
        return f"{self.kind:<11} {self.name}{list(self.shape)}{flow} in [{self.lower:g}, {upper}]"


@dataclass(frozen=True)
class Period:
    """Period t: its types, their probabilities (row = previous-period type for t > 1),
    its menu (allocation and payment indexed by the reports of periods 1..t) and its
    discount factor relative to period 1."""

    number: int
    discount: sp.Expr
    types: str
    prob: str
    allocation: str
    payment: str


@dataclass(frozen=True)
class Utility:
    """Per-period agent utility u(type, allocation, payment)."""

    agent: str
    type_symbol: sp.Symbol
    allocation_symbol: sp.Symbol
    payment_symbol: sp.Symbol
    expr: sp.Expr

    def __call__(self, theta, allocation, payment) -> sp.Expr:
        return self.expr.xreplace(
            {self.type_symbol: theta, self.allocation_symbol: allocation, self.payment_symbol: payment}
        )


@dataclass(frozen=True)
class Constraint:
    """A declared constraint. Structural kinds (`ir`, `ic`, `iic`, `monotone`) are
    expanded by the symbolic core; `plain` ones carry their instances as `g >= 0` or
    `g == 0` expressions in `instances`."""

    kind: str
    scope: str | None = None
    names: tuple[str, ...] = ()
    instances: tuple[tuple[sp.Expr, str], ...] = ()  # (g, ">=" | "==") meaning g >= 0 / g == 0
    text: str = ""
    line: int = 0


@dataclass(frozen=True)
class Objective:
    sense: str
    expr: sp.Expr


@dataclass(frozen=True)
class Model:
    name: str
    path: str
    sizes: dict[str, int]
    constants: dict[str, ConstParam]
    randoms: dict[str, RandomParam]
    derived: dict[str, Derived]
    types: dict[str, TypeVector]
    probs: dict[str, ProbTable]
    principal: str
    agent: str
    agent_count: sp.Expr
    utility: Utility
    periods: tuple[Period, ...]
    variables: dict[str, ContractVariable]
    objective: Objective
    constraints: tuple[Constraint, ...]
    train: dict[str, object] = field(default_factory=dict)
    size_sweeps: dict[str, tuple[int, ...]] = field(default_factory=dict)

    # ------------------------------------------------------------------ views
    @property
    def payment_flow(self) -> int:
        """+1 when the menu's payments go to the agent, -1 when the agent pays (the checker
        makes every period's payment flow the same way)."""
        return self.variables[self.periods[0].payment].flow

    @property
    def K(self) -> int:
        """Number of hidden types per period (the size indexing the first period's types)."""
        return self.types[self.periods[0].types].shape[0]

    def constant_values(self) -> dict[sp.Symbol, float]:
        return {p.symbol(): p.value for p in self.constants.values()}

    def state_entities(self) -> list[Indexed]:
        """Everything drawn per state, in layout order: random params, types, probabilities."""
        return [*self.randoms.values(), *self.types.values(), *self.probs.values()]

    def state_symbols(self) -> list[sp.Symbol]:
        return [s for e in self.state_entities() for s in e.symbols()]

    def derived_substitution(self) -> dict[sp.Symbol, sp.Expr]:
        """Derived symbol -> its expression in parameters only (nested lets resolved)."""
        resolved: dict[sp.Symbol, sp.Expr] = {}
        for d in self.derived.values():  # checker stores them in dependency order
            resolved[d.symbol()] = d.expr.xreplace(resolved)
        return resolved

    def decision_symbols(self) -> list[sp.Symbol]:
        return [s for v in self.variables.values() for s in v.symbols()]

    def has_constraint(self, kind: str) -> bool:
        return any(c.kind == kind for c in self.constraints)

    def ir_scope(self) -> str | None:
        for c in self.constraints:
            if c.kind == "ir":
                return c.scope
        return None

    def summary(self) -> str:
        """A one-screen description of the model (what `mechdsl check` prints)."""
        lines = [f"mechanism {self.name}  ({self.path})"]
        lines.append(f"  sizes       {', '.join(f'{k} = {v}' for k, v in self.sizes.items())}")
        lines.append(f"  principal   {self.principal}")
        lines.append(f"  agents      {self.agent} x {self.agent_count}")
        lines.append(
            f"  parameters  {len(self.constants)} constant, {len(self.randoms)} random, "
            f"{len(self.derived)} derived"
        )
        for t in self.types.values():
            if t.values is not None:
                lines.append(f"  types       {t.name}[{t.shape[0]}] = [{', '.join(f'{v:g}' for v in t.values)}]")
                continue
            ranges = ", ".join(str(d) for d in t.distributions)
            lines.append(f"  types       {t.name}[{t.shape[0]}] ~ {ranges} (sorted)")
        for p in self.probs.values():
            how = str(p.distribution) + (" per row" if len(p.shape) > 1 else "") if p.distribution else f"fixed {list(p.values)}"
            lines.append(f"  probability {p.name}{list(p.shape)} ~ {how}")
        for v in self.variables.values():
            lines.append(f"  {v.described(self.agent)}")
        for p in self.periods:
            lines.append(
                f"  period {p.number}    types {p.types}, prob {p.prob}, menu ({p.allocation}, "
                f"{p.payment}), discount {p.discount}"
            )
        lines.append(f"  utility     u({self.utility.type_symbol}, {self.utility.allocation_symbol}, "
                     f"{self.utility.payment_symbol}) = {self.utility.expr}")
        lines.append(f"  objective   {self.objective.sense} ({len(self.objective.expr.free_symbols)} symbols)")
        for c in self.constraints:
            lines.append(f"  constraint  {c.text}")
        if self.train:
            lines.append("  train       " + ", ".join(f"{k} = {v}" for k, v in self.train.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Model {self.name}: K={self.K}, {len(self.periods)} period(s), {len(self.decision_symbols())} decision variables>"
