"""Spence-Mirrlees single-crossing check of the agent's utility u(theta, x, y).

Screening with ordered types needs (i) money to be a good, and (ii) higher types to need
a smaller transfer per unit of allocation. With the payment's money flow f (+1 when the
principal pays the agent, -1 when the agent pays: `payment t[K] from consumer`), the
transfer the agent receives is f y, so (i) is f du/dy > 0 and (ii) says the marginal rate
of substitution between allocation and transfer,
    MRS(theta, x, y) = -(du/dx) / (f du/dy),
is strictly decreasing in theta, d MRS / d theta < 0. For a price (u = theta q - t, f = -1):
f du/dt = 1 > 0 and MRS = -theta, decreasing: higher types value the good more.
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
    decreasing = with_signs(d_mrs, model, positive).is_negative
    if money_good and decreasing:
        paid = f" ({y} is paid by {model.agent}: the transfer it receives is -{y})" if flow < 0 else ""
        return SingleCrossingVerdict(True, "symbolic", mrs, d_mrs, du_dy,
                                     f"single crossing holds symbolically{paid}: MRS = {mrs}, "
                                     f"dMRS/d{theta} = {d_mrs} < 0")
    if money_good is False or decreasing is False:
        what = f"dMRS/d{theta} = {d_mrs} is not negative"
        if money_good is False:
            paid = "the agent pays" if flow < 0 else "the agent receives"
            other = "without `from ...`" if flow < 0 else f"as `payment {y}[...] from {model.agent}`"
            what = (f"{paid} '{y}', yet its utility does not {'fall' if flow < 0 else 'rise'} with it "
                    f"(du/d{y} = {sp.diff(u.expr, y)}); if the money flows the other way, declare the payment {other}")
        return SingleCrossingVerdict(False, "symbolic", mrs, d_mrs, du_dy,
                                     f"single crossing fails: {what}; ordered-type screening does not apply")
    # Numeric fallback: sample every free symbol uniformly within its declared range.
    money, slope = _sampled(model, [du_dy, d_mrs], samples, seed)
    ok = bool(np.all(money > 0) and np.all(slope < 0))
    message = (f"single crossing holds numerically on {samples} samples (SymPy could not decide the sign of "
               f"dMRS/d{theta} = {d_mrs})" if ok else
               f"single crossing fails numerically: du/dy <= 0 on {int(np.sum(money <= 0))} and dMRS/d{theta} >= 0 "
               f"on {int(np.sum(slope >= 0))} of {samples} samples")
    return SingleCrossingVerdict(ok, "numeric", mrs, d_mrs, du_dy, message)


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
    """Whether the agent's utility rises with its type at every contract item: then, with IC,
    U_k = u(theta_k; item k) >= u(theta_k; item 0) >= u(theta_0; item 0) = U_0, so the lowest
    type's IR implies every other type's, which the reduction assumes (it keeps only that IR)."""

    rises: bool | None   # True: du/dtheta >= 0 everywhere; False: it is negative somewhere; None: undecided
    method: str          # "symbolic" | "numeric"
    du_dtheta: sp.Expr
    message: str


def check_type_orientation(model: Model, samples: int = 2000, seed: int = SINGLE_CROSSING_SEED) -> TypeOrientation:
    """du/dtheta >= 0 (types ordered so that utility rises with the type, as the reduction and
    the docs' convention assume), decided with the model's sign facts, else on samples."""
    u = model.utility
    theta, x, y = u.type_symbol, u.allocation_symbol, u.payment_symbol
    du = sp.simplify(sp.diff(u.expr, theta))
    positive = {theta: sp.Dummy(theta.name, positive=True),
                x: sp.Dummy(x.name, nonnegative=True), y: sp.Dummy(y.name, nonnegative=True)}
    why = (f"so the lowest type's IR and IC imply every other type's IR (U[k] >= u({theta}[k]; item 0) "
           f">= U[0] >= 0): only the lowest type's IR is kept")
    if with_signs(du, model, positive).is_nonnegative:
        return TypeOrientation(True, "symbolic", du, f"utility rises with the type (du/d{theta} = {du} >= 0), {why}")
    (values,) = _sampled(model, [du], samples, seed)
    negative = int(np.sum(values < 0))
    if negative == 0:
        return TypeOrientation(True, "numeric", du, f"utility rises with the type on {samples} samples "
                                                    f"(du/d{theta} = {du} >= 0 there), {why}")
    return TypeOrientation(False, "numeric", du, (
        f"utility does NOT rise with the type everywhere (du/d{theta} = {du} < 0 on {negative} of {samples} "
        f"samples of the declared ranges): the lowest type's IR need not imply the others' (with cost types the "
        f"highest type's IR binds), so the least payments below may violate an IR; `mechdsl solve` certifies every "
        f"answer against every original constraint and solves the unreduced problem where the certificate fails, "
        f"and the generated env repairs such proposals; order the types so that utility rises with them "
        f"(e.g. type = 2 - beta) to get exact closed forms"))
