"""Followers' best response to the leaders' strategies (tier 1 of the seed paper).

For follower instance n with own strategies x in a box [lo, hi] and (optionally) one
budget sum_{k in B} x_k <= c, the best response to leader strategies p solves

    max_x U_n(x; p)   s.t.  lo <= x <= hi,  sum_{k in B} x_k <= c.

**Symbolic derivation (when SymPy can).** If U_n is separable in x (every cross
partial d2U/dx_k dx_l is identically 0) and each stationarity condition
dU/dx_k = lambda [k in B] has one closed-form root x_k(lambda; p) from `sympy.solve`, the
KKT conditions are solved as a projection on the box and the simplex:

    x_k(lambda) = hi                    if dU/dx_k(hi) >= lambda       (upper bound active)
                = lo                    if dU/dx_k(lo) <= lambda       (lower bound active)
                = root of dU/dx_k = lambda  otherwise,

lambda = 0 if sum_B x_k(0) <= c, else the unique lambda > 0 with sum_B x_k(lambda) = c
(found by bisection: x_k(lambda) is non-increasing when U is concave in x_k). The
second-order condition d2U/dx_k2 < 0 is derived symbolically and checked numerically at
every returned point (`second_order_ok`). Otherwise the best response is computed
numerically (scipy SLSQP from several starts); `method` says which was used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.optimize import minimize

from mechdsl.games.model import GameModel

BISECTION_STEPS = 64


@dataclass(frozen=True)
class FollowerForm:
    """The derived best response of one follower instance."""

    player: str
    instance: int
    variables: tuple[sp.Symbol, ...]
    lower: np.ndarray
    upper: np.ndarray
    in_budget: np.ndarray  # bool per variable
    budget: float | None
    utility: sp.Expr
    gradient: tuple[sp.Expr, ...]
    roots: tuple[sp.Expr, ...] | None  # x_k(lambda), None when not derived symbolically
    curvature: tuple[sp.Expr, ...]  # d2U/dx_k2
    method: str  # "symbolic KKT" | "numeric SLSQP"


# The budget multiplier and the placeholders below are Dummies: a spec may name a parameter
# `lambda_budget` or `_state_0`, and a same-named Symbol would be that parameter.
LAMBDA = sp.Dummy("lambda_budget", real=True)


def derive_follower(model: GameModel, player, instance: int) -> FollowerForm:
    """Derive the best-response form of `player[instance]` (see the module docstring)."""
    xs = tuple(model.strategy_symbols(player, instance))
    utility = player.utilities[instance]
    budgets = [b for b in model.budgets if b.player == player.name and b.instance == instance]
    in_budget = np.array([any(x in b.symbols for b in budgets) for x in xs])
    budget = budgets[0].bound if budgets else None
    bounds = [model.bounds_of(x) for x in xs]
    gradient = tuple(sp.diff(utility, x) for x in xs)
    curvature = tuple(sp.diff(gk, x) for gk, x in zip(gradient, xs))
    roots: list[sp.Expr] | None = []
    separable = len(budgets) <= 1 and all(
        sp.diff(gk, y) == 0 for k, gk in enumerate(gradient) for y in xs[k + 1:]
    )
    if separable:
        for gk, x, budgeted in zip(gradient, xs, in_budget):
            root = stationary_root(gk - (LAMBDA if budgeted else 0), x)
            if root is None:
                roots = None
                break
            roots.append(root)
    else:
        roots = None
    return FollowerForm(player.name, instance, xs, np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds]),
                        in_budget, budget, utility, gradient, tuple(roots) if roots is not None else None,
                        curvature, "symbolic KKT" if roots is not None else "numeric SLSQP")


def stationary_root(condition: sp.Expr, x: sp.Symbol) -> sp.Expr | None:
    """The unique root in x of `condition == 0`, or None.

    Fast path: bring the condition over one denominator; if the numerator is linear in x
    (log- or linear-type utilities give this), the root is -c0 / c1. Otherwise
    `sympy.solve`, accepted only when it returns exactly one root."""
    numerator, _ = sp.fraction(sp.together(condition))
    try:
        poly = sp.Poly(sp.expand(numerator), x)
    except sp.PolynomialError:
        poly = None
    if poly is not None and poly.degree() == 1:
        c1, c0 = poly.all_coeffs()
        return -c0 / c1
    try:
        solutions = sp.solve(sp.Eq(condition, 0), x, simplify=False)
    except (NotImplementedError, ValueError):
        return None
    return solutions[0] if len(solutions) == 1 else None


@dataclass(frozen=True)
class CompiledFollowers:
    """State-independent NumPy functions of all followers at once (lambdified once per
    set of forms; a state's values are passed as trailing arguments `params`).

    state_part(params)                        -> K state-only subexpressions k (once per state)
    roots(lambda_0..lambda_{F-1}, p, k)       -> V roots x_v(lambda_owner(v); p)
    grad_lo / grad_hi(p, k)                   -> V values dU/dx_v at x = lo / x = hi
    utilities[k](x_k, p, params), curvatures[k](x_k, p, params)   per follower k
    """

    params: tuple[sp.Symbol, ...]
    owner: np.ndarray  # (V,) follower index of each variable
    lower: np.ndarray  # (V,)
    upper: np.ndarray  # (V,)
    in_budget: np.ndarray  # (V,) bool
    budget: np.ndarray  # (F,) the budget bound, inf without one
    membership: np.ndarray  # (F, V) 1 where variable v is in follower f's budget
    state_part: object | None  # params -> the state-only subexpressions hoisted out of roots and gradients
    roots: object | None
    grad_lo: object | None
    grad_hi: object | None
    utilities: tuple
    curvatures: tuple


_COMPILED: dict[tuple, tuple[object, CompiledFollowers]] = {}


def compile_followers(forms: list[FollowerForm], leader_symbols: list[sp.Symbol]) -> CompiledFollowers:
    """Lambdify every follower's roots, boundary gradients, utility and curvature once.

    Cached by the identity of `forms` (the cache keeps `forms` alive, so ids are not reused)."""
    key = (tuple(id(f) for f in forms), tuple(leader_symbols))
    hit = _COMPILED.get(key)
    if hit is not None:
        return hit[1]
    variables = [x for f in forms for x in f.variables]
    taken = {LAMBDA, *variables, *leader_symbols}
    params = tuple(sorted({s for f in forms for s in f.utility.free_symbols} - taken, key=str))
    owner = np.array([k for k, f in enumerate(forms) for _ in f.variables])
    in_budget = np.concatenate([f.in_budget for f in forms]).astype(bool)
    budget = np.array([f.budget if f.budget is not None else np.inf for f in forms], dtype=float)
    membership = np.zeros((len(forms), len(variables)))
    membership[owner[in_budget], np.flatnonzero(in_budget)] = 1.0
    roots = grad_lo = grad_hi = state_part = None
    if all(f.roots is not None for f in forms):
        lambdas = [sp.Dummy(f"lambda_budget_{k}", real=True) for k in range(len(forms))]
        root_exprs = [r.xreplace({LAMBDA: lambdas[k]}) for k, f in enumerate(forms) for r in f.roots]
        lo_exprs = [g.xreplace(dict(zip(f.variables, map(sp.Float, f.lower)))) for f in forms for g in f.gradient]
        hi_exprs = [g.xreplace(dict(zip(f.variables, map(sp.Float, f.upper)))) for f in forms for g in f.gradient]
        table: dict[sp.Expr, sp.Symbol] = {}
        moving = [*lambdas, *leader_symbols]
        root_exprs, lo_exprs, hi_exprs = ([_hoist(_rational_in(e, moving), set(params), table) for e in exprs]
                                          for exprs in (root_exprs, lo_exprs, hi_exprs))
        coefficients = tuple(table.values())
        state_part = sp.lambdify(list(params), list(table), "numpy", cse=True)
        roots = sp.lambdify([*lambdas, *leader_symbols, *coefficients], root_exprs, "numpy", cse=True)
        grad_lo = sp.lambdify([*leader_symbols, *coefficients], lo_exprs, "numpy", cse=True)
        grad_hi = sp.lambdify([*leader_symbols, *coefficients], hi_exprs, "numpy", cse=True)
    utilities = tuple(sp.lambdify([*f.variables, *leader_symbols, *params], f.utility, "numpy", cse=True)
                      for f in forms)
    curvatures = tuple(sp.lambdify([*f.variables, *leader_symbols, *params], list(f.curvature), "numpy", cse=True)
                       for f in forms)
    compiled = CompiledFollowers(params, owner, np.concatenate([f.lower for f in forms]),
                                 np.concatenate([f.upper for f in forms]), in_budget, budget, membership,
                                 state_part, roots, grad_lo, grad_hi, utilities, curvatures)
    _COMPILED[key] = (forms, compiled)
    return compiled


def _rational_in(expr: sp.Expr, variables: list[sp.Symbol]) -> sp.Expr:
    """`expr` as numerator / denominator polynomials in `variables` (multipliers and
    prices) whose coefficients are state-only expressions, when it is rational in them;
    unchanged otherwise. With the coefficients hoisted (`_hoist`), a call costs a few
    array operations instead of the expanded expression."""
    numerator, denominator = sp.fraction(sp.together(expr))
    try:
        parts = [sp.Poly(sp.expand(part), *variables) for part in (numerator, denominator)]
    except sp.PolynomialError:
        return expr
    if any(not all(c.free_symbols.isdisjoint(variables) for c in poly.coeffs()) for poly in parts):
        return expr
    numerator, denominator = (sp.Add(*[sp.factor_terms(c) * sp.Mul(*[v**e for v, e in zip(variables, m)])
                                        for m, c in poly.terms()]) for poly in parts)
    return numerator / denominator


def _hoist(expr: sp.Expr, params: set, table: dict) -> sp.Expr:
    """Replace every largest subexpression of state symbols only by a placeholder symbol
    (recorded in `table`), so that it is evaluated once per state, not once per call."""
    if expr.free_symbols and expr.free_symbols <= params:
        return table.setdefault(expr, sp.Dummy(f"state_{len(table)}", real=True))
    if expr.is_Atom:
        return expr
    return expr.func(*[_hoist(a, params, table) for a in expr.args])


def _stack(values, rows: int, batch: int) -> np.ndarray:
    """A list of `rows` arrays or scalars (lambdify output) -> one (rows, batch) array."""
    out = np.empty((rows, batch))
    for v, value in enumerate(values):
        out[v] = value
    return out


class FollowerResponse:
    """Batched numeric evaluation of all followers' best responses.

    `respond(leader_values)` takes (B, L) leader strategy values (in the order of
    `leader_symbols`) and returns (B, V) follower strategy values (order of `symbols`).
    All followers are projected at once: the KKT projection runs on (V, B) arrays and the
    budget multipliers of every follower on (F, B) lanes."""

    def __init__(self, model: GameModel, state: dict[sp.Symbol, float], forms: list[FollowerForm],
                 leader_symbols: list[sp.Symbol]):
        self.forms = forms
        self.leader_symbols = leader_symbols
        self.symbols = [x for f in forms for x in f.variables]
        self.state = state
        self.symbolic = all(f.roots is not None for f in forms)
        self.compiled = compile_followers(forms, leader_symbols)
        self._params = tuple(float(state[s]) for s in self.compiled.params)
        self._coefficients = ()
        if self.compiled.state_part is not None:
            with np.errstate(all="ignore"):
                self._coefficients = tuple(float(v) for v in self.compiled.state_part(*self._params))
        self._offsets = np.cumsum([0] + [len(f.variables) for f in forms])

    # -------------------------------------------------------------- symbolic KKT path
    def _project(self, lam: np.ndarray, p: list[np.ndarray], g_lo: np.ndarray, g_hi: np.ndarray) -> np.ndarray:
        """x_v(lambda) of the module docstring for every variable: (F, B) multipliers -> (V, B)."""
        c = self.compiled
        V, B = len(c.owner), lam.shape[1]
        with np.errstate(all="ignore"):
            roots = _stack(c.roots(*lam, *p, *self._coefficients), V, B)
        shift = lam[c.owner] * c.in_budget[:, None]
        lo, hi = c.lower[:, None], c.upper[:, None]
        x = np.clip(np.where(np.isnan(roots), lo, roots), lo, hi)
        x = np.where(g_hi - shift >= 0, hi, x)
        return np.where(g_lo - shift <= 0, lo, x)

    def _respond_symbolic(self, p: list[np.ndarray], B: int) -> np.ndarray:
        c = self.compiled
        V, F = len(c.owner), len(self.forms)
        with np.errstate(all="ignore"):
            g_lo = _stack(c.grad_lo(*p, *self._coefficients), V, B)
            g_hi = _stack(c.grad_hi(*p, *self._coefficients), V, B)
        x = self._project(np.zeros((F, B)), p, g_lo, g_hi)
        over = c.membership @ x > c.budget[:, None]  # (F, B)
        if not over.any():
            return x

        # the budget multipliers: excess(lambda) = sum_B x_k(lambda) - c is non-increasing;
        # bracketed regula falsi with the Illinois modification (superlinear, never leaves the bracket)
        def excess(lam):
            return c.membership @ self._project(lam, p, g_lo, g_hi) - c.budget[:, None]

        scale = np.zeros((F, B))
        np.maximum.at(scale, c.owner, np.abs(np.nan_to_num(g_lo)))
        a, b = np.zeros((F, B)), np.maximum(1.0, 2.0 * scale)
        fa, fb = excess(a), excess(b)
        true_fa, true_fb = fa, fb  # fa, fb are halved by the Illinois step; stop on the true excesses
        side = np.zeros((F, B))
        for _ in range(BISECTION_STEPS):
            active = over & (fa > 1e-15) & (true_fb < -1e-14) & (b - a > 1e-15 * np.maximum(1.0, b))
            if not active.any():
                break
            with np.errstate(all="ignore"):
                mid = np.where(fa - fb > 0, b - fb * (b - a) / (fb - fa), 0.5 * (a + b))
            mid = np.where((mid > a) & (mid < b), mid, 0.5 * (a + b))
            fc = excess(mid)
            right = fc > 0  # root lies right of mid
            fb = np.where(right & (side == 1), 0.5 * fb, fb)
            fa = np.where(~right & (side == -1), 0.5 * fa, fa)
            a, fa = np.where(right, mid, a), np.where(right, fc, fa)
            b, fb = np.where(right, b, mid), np.where(right, fb, fc)
            true_fa, true_fb = np.where(right, fc, true_fa), np.where(right, true_fb, fc)
            side = np.where(right, 1, -1)
        # the end of the bracket closer to the root: b (feasible) unless a is closer (then its
        # excess is below 1e-15, a negligible overshoot of the budget)
        lam = np.where(true_fa < -true_fb, a, b)
        return self._project(np.where(over, lam, 0.0), p, g_lo, g_hi)

    # -------------------------------------------------------------- numeric fallback
    def best_response_numeric(self, k: int, p_row: list[float], starts: list[np.ndarray] | None = None) -> np.ndarray:
        """argmax of U over the box and budget by SLSQP from several starts (also used by the certificate)."""
        f = self.forms[k]
        utility, params = self.compiled.utilities[k], self._params

        def negative(x):
            return -float(utility(*x, *p_row, *params))

        constraints = []
        if f.budget is not None:
            mask = f.in_budget.astype(float)
            constraints.append({"type": "ineq", "fun": lambda x: f.budget - mask @ x, "jac": lambda x: -mask})
        starts = list(starts or [])
        starts += [f.lower + (f.upper - f.lower) * t for t in (0.0, 0.1)]
        if f.budget is not None:
            starts.append(np.where(f.in_budget, f.budget / max(1, f.in_budget.sum()), f.lower))
        best_x, best_value = None, np.inf
        for start in starts:
            result = minimize(negative, np.clip(start, f.lower, f.upper), method="SLSQP",
                              bounds=list(zip(f.lower, f.upper)), constraints=constraints,
                              options={"ftol": 1e-15, "maxiter": 500})
            x = np.clip(result.x, f.lower, f.upper)
            if f.budget is not None and (f.in_budget * x).sum() > f.budget + 1e-12:
                continue
            if negative(x) < best_value:
                best_x, best_value = x, negative(x)
        return best_x if best_x is not None else np.clip(starts[0], f.lower, f.upper)

    # -------------------------------------------------------------- public
    def respond(self, leader_values: np.ndarray) -> np.ndarray:
        leader_values = np.atleast_2d(np.asarray(leader_values, dtype=float))
        B = leader_values.shape[0]
        if self.symbolic:
            return self._respond_symbolic(list(leader_values.T), B).T
        parts = [np.stack([self.best_response_numeric(k, list(row)) for row in leader_values])
                 for k in range(len(self.forms))]
        return np.concatenate(parts, axis=1)

    def utility(self, k: int, x: np.ndarray, leader_values: np.ndarray) -> np.ndarray:
        """U of follower k at own strategies x (B, n_k) and leader values (B, L)."""
        x, leader_values = np.atleast_2d(x), np.atleast_2d(leader_values)
        value = self.compiled.utilities[k](*x.T, *leader_values.T, *self._params)
        return np.broadcast_to(np.asarray(value, dtype=float), (max(x.shape[0], leader_values.shape[0]),))

    def second_order_ok(self, x: np.ndarray, leader_values: np.ndarray) -> bool:
        """d2U/dx_k2 < 0 at every follower's returned point (the root is a maximum)."""
        if not self.symbolic:
            return True
        for k in range(len(self.forms)):
            xs = x[self._offsets[k]:self._offsets[k + 1]]
            curv = np.asarray(self.compiled.curvatures[k](*xs, *leader_values, *self._params), dtype=float)
            if np.any(curv >= 0):
                return False
        return True
