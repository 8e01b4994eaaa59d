"""What the generated environment looks like from outside: state/action layouts, the
local variable name of every model symbol, state bounds and the monotone action chains.

Local names: every model symbol `name[i, j]` becomes `v_name__i_j` (`v_name` when
scalar). The `v_` prefix keeps spec names (`torch`, `os`, `state`) from shadowing
anything in the generated module; collisions between mangled names are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from mechdsl.codegen.printer import check_identifier
from mechdsl.model import Distribution, Indexed, Model, ProbTable, RandomParam, TypeVector, all_indices
from mechdsl.reduce.derivation import Derivation, Inequality
from mechdsl.reduce.payment_ranges import UNBOUNDED_SPAN



class LayoutError(ValueError):
    """The model cannot be laid out as a generated environment."""


def local_name(entity: Indexed, index: tuple[int, ...]) -> str:
    check_identifier(entity.name)
    suffix = "__" + "_".join(map(str, index)) if index else ""
    return f"v_{entity.name}{suffix}"


def distribution_range(d: Distribution) -> tuple[float, float]:
    """Bounds used to normalise observations (normal: mean +- 3 sd)."""
    a = d.args
    if d.name in ("uniform", "loguniform"):
        return float(a[0]), float(a[1])
    if d.name == "normal":
        return float(a[0] - 3 * a[1]), float(a[0] + 3 * a[1])
    if d.name == "choice":
        return float(min(a)), float(max(a))
    raise LayoutError(f"cannot bound a draw from {d}")


@dataclass(frozen=True)
class Chain:
    """Allocation entries that must be non-decreasing in this order (from `derivation.monotone`)."""

    symbols: tuple[sp.Symbol, ...]
    lower: float
    upper: float


@dataclass(frozen=True)
class Layout:
    names: dict[sp.Symbol, str]          # every model symbol -> local variable name
    state_symbols: tuple[sp.Symbol, ...]
    state_low: tuple[float, ...]
    state_high: tuple[float, ...]
    action_symbols: tuple[sp.Symbol, ...]  # allocation entries, one action dimension each
    payment_symbols: tuple[sp.Symbol, ...]
    bounds: dict[sp.Symbol, tuple[float, float]]  # allocation -> [lower, upper] used by the action map
    chains: tuple[Chain, ...]
    slack_symbols: tuple[sp.Symbol, ...] = ()  # payments with a slack action entry, after the allocations

    def action_names(self) -> list[str]:
        """ACTION_LAYOUT: the allocations, then `slack <payment>` entries."""
        return [str(s) for s in self.action_symbols] + [f"slack {s}" for s in self.slack_symbols]


def _entities(model: Model) -> list[Indexed]:
    return [*model.constants.values(), *model.state_entities(), *model.derived.values(), *model.variables.values()]


def _state_bounds(entity: Indexed) -> list[tuple[float, float]]:
    if isinstance(entity, RandomParam):
        return [distribution_range(entity.distribution)] * len(entity.symbols())
    if isinstance(entity, TypeVector) and entity.values is not None:
        return [(float(v), float(v)) for v in entity.values]
    if isinstance(entity, TypeVector):
        ranges = [distribution_range(d) for d in entity.distributions]
        low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
        return [(low, high)] * len(entity.symbols())
    if isinstance(entity, ProbTable):
        if entity.distribution is None:
            return [(float(v), float(v)) for v in entity.values]
        return [(0.0, 1.0)] * len(entity.symbols())
    raise LayoutError(f"{entity.name} is not a state entity")


def monotonicity(derivation: Derivation) -> list[Inequality]:
    """x_b - x_a >= 0 constraints the action map builds in: those the reduction derived
    (static screening) and the spec's own `constraint monotone X` (declared residuals)."""
    declared = [c for c in derivation.residual if c.family == "monotone"]
    unique: dict[sp.Expr, Inequality] = {}
    for inequality in [*derivation.monotone, *declared]:
        unique.setdefault(sp.expand(inequality.g), inequality)
    return list(unique.values())


def _chains(derivation: Derivation, bounds: dict[sp.Symbol, tuple[float, float]]) -> tuple[Chain, ...]:
    successor: dict[sp.Symbol, sp.Symbol] = {}
    predecessor: dict[sp.Symbol, sp.Symbol] = {}
    for inequality in monotonicity(derivation):
        coefficients = sp.expand(inequality.g).as_coefficients_dict()
        up = [s for s, c in coefficients.items() if c == 1]
        down = [s for s, c in coefficients.items() if c == -1]
        if len(coefficients) != 2 or len(up) != 1 or len(down) != 1:
            raise LayoutError(f"monotonicity {inequality.name} is not of the form x_b - x_a >= 0")
        a, b = down[0], up[0]
        if a in successor or b in predecessor:
            raise LayoutError(f"monotonicity {inequality.name} branches; only chains are supported")
        successor[a], predecessor[b] = b, a
    chains = []
    order = list(bounds)
    for start in order:
        if start in successor and start not in predecessor:
            members = [start]
            while members[-1] in successor:
                members.append(successor[members[-1]])
            spans = {bounds[s] for s in members}
            if len(spans) != 1:
                raise LayoutError(f"monotone chain {[str(s) for s in members]} mixes allocation bounds")
            (lower, upper), = spans
            chains.append(Chain(tuple(members), lower, upper))
    return tuple(chains)


def build_layout(model: Model, derivation: Derivation) -> Layout:
    names: dict[sp.Symbol, str] = {}
    for entity in _entities(model):
        for index in all_indices(entity.shape):
            symbol = entity.symbol(*index)
            local = local_name(entity, index)
            if local in names.values():
                raise LayoutError(f"{symbol} and another entry both become the Python name {local}; rename one")
            names[symbol] = local
    state_symbols, low, high = [], [], []
    for entity in model.state_entities():
        state_symbols += entity.symbols()
        for lo, hi in _state_bounds(entity):
            low.append(lo)
            high.append(hi)
    actions, payments, bounds = [], [], {}
    for variable in model.variables.values():
        for symbol in variable.symbols():
            if variable.kind == "allocation":
                actions.append(symbol)
                upper = variable.upper if variable.upper is not None else variable.lower + UNBOUNDED_SPAN
                bounds[symbol] = (float(variable.lower), float(upper))
            else:
                payments.append(symbol)
                if symbol not in derivation.rules:
                    raise LayoutError(f"payment {symbol} has no least-payment rule in the derivation")
    slack = tuple(s for s, r in derivation.payment_ranges.items() if r.slack)
    return Layout(names, tuple(state_symbols), tuple(low), tuple(high), tuple(actions), tuple(payments),
                  bounds, _chains(derivation, bounds), slack)


__all__ = ["Chain", "Layout", "LayoutError", "build_layout", "local_name"]
