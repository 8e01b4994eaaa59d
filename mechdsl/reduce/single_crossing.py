"""Spence-Mirrlees single-crossing check of the agent's utility u(theta, x, y).

Screening with ordered types needs (i) money to be a good, and (ii) higher types to need
a smaller transfer per unit of allocation. With the payment's money flow f (+1 when the
principal pays the agent, -1 when the agent pays: `payment t[K] from consumer`), the
transfer the agent receives is f y, so (i) is f du/dy > 0 and (ii) says the marginal rate
of substitution between allocation and transfer,
    MRS(theta, x, y) = -(du/dx) / (f du/dy),
is strictly monotone in theta. Decreasing (d MRS / d theta < 0: higher types value the
allocation more, so implementable allocations rise with the type) is the usual direction: for
a price (u = theta q - t, f = -1), f du/dt = 1 > 0 and MRS = -theta. Increasing (procurement
from cost types, u = t - theta q: MRS = theta) is single crossing too, with allocations that
fall with the type; `SingleCrossingVerdict.direction` says which.
Both are decided symbolically with the model's sign facts when SymPy can; otherwise they
are tested numerically on sampled (theta, x, y, parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from mechdsl.model import Model
from mechdsl.reduce.assumptions import with_signs
from mechdsl.seeds import SINGLE_CROSSING_SEED


@dataclass(frozen=True)
class SingleCrossingVerdict:
    holds: bool
    method: str  # "symbolic" | "numeric"
    mrs: sp.Expr
    d_mrs_dtheta: sp.Expr
    du_dy: sp.Expr
    message: str
    direction: int = -1  # sign of dMRS/dtheta: -1 allocations rise with the type, +1 they fall

    @property
    def allocation_rises(self) -> bool:
        return self.direction < 0


def _type_range(model: Model) -> tuple[float, float]:
    ranges = [t.entry_range(k) for t in model.types.values() for k in range(t.shape[0])]
    return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)


def _variable_range(model: Model, kind: str) -> tuple[float, float]:
    variables = [v for v in model.variables.values() if v.kind == kind]
    low = min(v.lower for v in variables)
    highs = [v.upper for v in variables if v.upper is not None]
    return low, (max(highs) if highs else low + 100.0)


def _parameter_samples(model: Model, samples: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every constant at its value, every other state symbol uniform over its support (the
    whole range must satisfy single crossing, not only where draws are likely)."""
    values = {name: np.full(samples, c.value) for name, c in model.constants.items()}
    for r in model.randoms.values():
        values[r.name] = rng.uniform(*r.distribution.support(), samples)
    for t in model.types.values():
        for k, s in enumerate(t.symbols()):
            values[s.name] = rng.uniform(*t.entry_range(k), samples)
    for p in model.probs.values():
        for s in p.symbols():
            values[s.name] = rng.uniform(0.0, 1.0, samples)
    return values


def check_single_crossing(model: Model, samples: int = 2000, seed: int = SINGLE_CROSSING_SEED) -> SingleCrossingVerdict:
    u = model.utility
    theta, x, y = u.type_symbol, u.allocation_symbol, u.payment_symbol
    flow = model.payment_flow
    du_dy = flow * sp.diff(u.expr, y)  # the marginal utility of the transfer f y
    mrs = sp.simplify(-sp.diff(u.expr, x) / du_dy)
    d_mrs = sp.simplify(sp.diff(mrs, theta))
    # Signed stand-ins are Dummies: a same-named Symbol could be a user symbol of that sign.
    positive = {theta: sp.Dummy(theta.name, positive=True),
                x: sp.Dummy(x.name, nonnegative=True), y: sp.Dummy(y.name, nonnegative=True)}
    money_good = with_signs(du_dy, model, positive).is_positive
    signed_slope = with_signs(d_mrs, model, positive)
    decreasing, increasing = signed_slope.is_negative, signed_slope.is_positive
    paid = f" ({y} is paid by {model.agent}: the transfer it receives is -{y})" if flow < 0 else ""
    if money_good and (decreasing or increasing):
        return SingleCrossingVerdict(True, "symbolic", mrs, d_mrs, du_dy,
                                     f"single crossing holds symbolically{paid}: MRS = {mrs}, "
                                     f"dMRS/d{theta} = {d_mrs} {'< 0' if decreasing else '> 0'}"
                                     f"{_direction_text(-1 if decreasing else 1, theta)}", -1 if decreasing else 1)
    if money_good is False or d_mrs == 0:
        what = f"dMRS/d{theta} = 0: the type does not change the trade-off between allocation and money"
        if money_good is False:
            paid_text = "the agent pays" if flow < 0 else "the agent receives"
            other = "without `from ...`" if flow < 0 else f"as `payment {y}[...] from {model.agent}`"
            what = (f"{paid_text} '{y}', yet its utility does not {'fall' if flow < 0 else 'rise'} with it "
                    f"(du/d{y} = {sp.diff(u.expr, y)}); if the money flows the other way, declare the payment {other}")
        return SingleCrossingVerdict(False, "symbolic", mrs, d_mrs, du_dy,
                                     f"single crossing fails: {what}; ordered-type screening does not apply")
    # Numeric fallback: sample every free symbol uniformly within its declared range.
    money, slope = _sampled(model, [du_dy, d_mrs], samples, seed)
    direction = -1 if np.all(slope < 0) else 1 if np.all(slope > 0) else 0
    ok = bool(np.all(money > 0)) and direction != 0
    message = (f"single crossing holds numerically on {samples} samples (SymPy could not decide the sign of "
               f"dMRS/d{theta} = {d_mrs}; it is {'negative' if direction < 0 else 'positive'} on every sample)"
               f"{_direction_text(direction, theta)}" if ok else
               f"single crossing fails numerically: du/dy <= 0 on {int(np.sum(money <= 0))} of {samples} samples, "
               f"dMRS/d{theta} = {d_mrs} is negative on {int(np.sum(slope < 0))} and positive on "
               f"{int(np.sum(slope > 0))} of them (it must keep one sign)")
    return SingleCrossingVerdict(ok, "numeric", mrs, d_mrs, du_dy, message, direction if ok else -1)


def _direction_text(direction: int, theta) -> str:
    if direction < 0:
        return f"; higher {theta} values the allocation more, so implementable allocations rise with {theta}"
    return (f"; higher {theta} values the allocation less (cost types), so implementable allocations fall "
            f"with {theta}")


def _sampled(model: Model, expressions: list[sp.Expr], samples: int, seed: int) -> list[np.ndarray]:
    """Each expression in the utility's (theta, x, y) and the parameters, evaluated on `samples`
    draws of every free symbol, uniform within its declared range (lets substituted first)."""
    u = model.utility
    theta, x, y = u.type_symbol, u.allocation_symbol, u.payment_symbol
    rng = np.random.default_rng(seed)
    lets = model.derived_substitution()
    exprs = [e.xreplace(lets) for e in expressions]  # in parameters only
    t_lo, t_hi = _type_range(model)
    x_lo, x_hi = _variable_range(model, "allocation")
    y_lo, y_hi = _variable_range(model, "payment")
    values = {**_parameter_samples(model, samples, rng), theta.name: rng.uniform(t_lo, t_hi, samples),
              x.name: rng.uniform(x_lo, x_hi, samples), y.name: rng.uniform(y_lo, y_hi, samples)}
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name)
    args = [np.broadcast_to(values[s.name], (samples,)) for s in symbols]
    return [np.asarray(sp.lambdify(symbols, e, "numpy")(*args), dtype=float) * np.ones(samples) for e in exprs]


@dataclass(frozen=True)
class TypeOrientation:
    """The direction in which the type orders the agent's utility, which decides the IR that binds.

    Utility rising with the type (du/dtheta >= 0) at every contract item: with IC,
        U_k = u(theta_k; item k) >= u(theta_k; item 0) >= u(theta_0; item 0) = U_0,
    so the lowest type's IR implies every other type's; rents grow upward and the local
    DOWNWARD IC binds. Utility falling with the type (cost types, du/dtheta <= 0): symmetrically
        U_k >= u(theta_k; item K-1) >= u(theta_{K-1}; item K-1) = U_{K-1},
    so the HIGHEST type's IR implies the others' and the local UPWARD IC binds (Laffont-Tirole's
    efficient firm earns the rent). Only contract items the binding type accepts matter, so where
    du/dtheta changes sign on the declared ranges the sign is decided again where u >= 0
    (`_orientation_where_accepted`); where it changes sign there too neither end's IR is implied
    (countervailing incentives): the reduction is refused, not assumed."""

    rises: bool | None   # True: du/dtheta >= 0 everywhere; False: <= 0 everywhere; None: changes sign
    # "symbolic" | "numeric" | "numeric (accepted set)" (decided where u >= 0 only, `_orientation_where_accepted`)
    # | "relaxation" (undecided; forced for a certified solve)
    method: str
    du_dtheta: sp.Expr
    message: str

    @property
    def binding_ir(self) -> str | None:
        """Which type's IR the reduction keeps: "lowest", "highest", or None (undecided)."""
        return None if self.rises is None else "lowest" if self.rises else "highest"


def check_type_orientation(model: Model, samples: int = 2000, seed: int = SINGLE_CROSSING_SEED) -> TypeOrientation:
    """The sign of du/dtheta (see `TypeOrientation`), decided with the model's sign facts, else on
    samples of the declared ranges: one sign on every sample decides it, both signs leave it undecided."""
    u = model.utility
    theta, x, y = u.type_symbol, u.allocation_symbol, u.payment_symbol
    du = sp.simplify(sp.diff(u.expr, theta))
    positive = {theta: sp.Dummy(theta.name, positive=True),
                x: sp.Dummy(x.name, nonnegative=True), y: sp.Dummy(y.name, nonnegative=True)}
    rises_why = (f"so the lowest type's IR and IC imply every other type's IR (U[k] >= u({theta}[k]; item 0) "
                 f">= U[0] >= 0): only the lowest type's IR is kept and the local downward IC binds")
    falls_why = (f"so the highest type's IR and IC imply every other type's IR (U[k] >= u({theta}[k]; item K-1) "
                 f">= U[K-1] >= 0): only the highest type's IR is kept and the local upward IC binds "
                 f"(the reduction walks the types from the highest down)")
    signed = with_signs(du, model, positive)
    if signed.is_nonnegative:
        return TypeOrientation(True, "symbolic", du, f"utility rises with the type (du/d{theta} = {du} >= 0), {rises_why}")
    if signed.is_nonpositive:
        return TypeOrientation(False, "symbolic", du, f"utility falls with the type (du/d{theta} = {du} <= 0), {falls_why}")
    (values,) = _sampled(model, [du], samples, seed)
    negative, positive_count = int(np.sum(values < 0)), int(np.sum(values > 0))
    if negative == 0:
        return TypeOrientation(True, "numeric", du, f"utility rises with the type on {samples} samples of the declared "
                                                    f"ranges (du/d{theta} = {du} >= 0 there), {rises_why}")
    if positive_count == 0:
        return TypeOrientation(False, "numeric", du, f"utility falls with the type on {samples} samples of the declared "
                                                     f"ranges (du/d{theta} = {du} <= 0 there), {falls_why}")
    accepted = _orientation_where_accepted(model, du, samples, seed)
    if accepted is not None:
        rises, count, drawn = accepted
        where = (f"du/d{theta} = {du} has both signs on the declared ranges ({negative} negative, {positive_count} "
                 f"positive of {samples} samples), but it is {'>= 0' if rises else '<= 0'} on all {count} of {drawn} "
                 f"samples where the agent accepts (u >= 0), and that is all the IR needs (U[k](c) >= U[end](c) "
                 f"wherever U[end](c) >= 0)")
        return TypeOrientation(rises, "numeric (accepted set)", du,
                               f"utility {'rises' if rises else 'falls'} with the type where the agent accepts: {where}, "
                               f"{rises_why if rises else falls_why}")
    return TypeOrientation(None, "numeric", du, (
        f"cannot decide which type's IR binds: du/d{theta} = {du} is negative on {negative} and positive on "
        f"{positive_count} of {samples} samples of the declared ranges (and on the samples where u >= 0), so "
        f"neither the lowest nor the highest type's IR implies the others'; narrow the bounds of the allocation or "
        f"the types so that du/d{theta} keeps one sign (for Laffont-Tirole, C <= min beta keeps the effort beta - C >= 0)"))


ACCEPTED_ROUNDS = 10  # rounds of `samples` draws of the declared box to find `samples` points with u >= 0


def _orientation_where_accepted(model: Model, du: sp.Expr, samples: int, seed: int) -> tuple[bool, int, int] | None:
    """The orientation decided on the IR-feasible part of the declared box (`TypeOrientation`):
    (rises, accepted samples, drawn samples), or None where du/dtheta has both signs there too.

    The lowest type's IR with IC implies every IR iff U_k(c) >= U_0(c) at every contract item c
    that the lowest type accepts, U_0(c) = u(theta_0, c) >= 0; then U_k(c_k) >= U_k(c_0) >= U_0(c_0) >= 0.
    du/dtheta >= 0 at every (theta, c) with u(theta, c) >= 0 gives it: along theta from theta_0
    upward u never falls while it is >= 0, so it stays >= U_0(c). Symmetrically du/dtheta <= 0
    where u >= 0 makes the highest type's IR imply the others'. Only where every period's IR is
    u >= 0 (per period, or one period): a lifetime IR of several periods bounds a sum of them.
    Decided on samples of the box with u >= 0 (at least `samples` of them within
    ACCEPTED_ROUNDS rounds, else undecided)."""
    if model.ir_scope() == "lifetime" and len(model.periods) > 1:
        return None
    u = model.utility.expr
    slopes, drawn = [], 0
    for round_ in range(ACCEPTED_ROUNDS):
        slope, level = _sampled(model, [du, u], samples, seed + round_)
        drawn += samples
        keep = np.isfinite(level) & (level >= 0)
        slopes.append(slope[keep])
        if sum(len(s) for s in slopes) >= samples:
            break
    slope = np.concatenate(slopes)
    if len(slope) < samples or not np.all(np.isfinite(slope)):
        return None
    if np.all(slope >= 0):
        return True, len(slope), drawn
    if np.all(slope <= 0):
        return False, len(slope), drawn
    return None
