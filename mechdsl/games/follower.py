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


LAMBDA = sp.Symbol("lambda_budget", real=True)


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


class FollowerResponse:
    """Batched numeric evaluation of all followers' best responses.

    `respond(leader_values)` takes (B, L) leader strategy values (in the order of
    `leader_symbols`) and returns (B, F) follower strategy values (order of `symbols`)."""

    def __init__(self, model: GameModel, state: dict[sp.Symbol, float], forms: list[FollowerForm],
                 leader_symbols: list[sp.Symbol]):
        self.forms = forms
        self.leader_symbols = leader_symbols
        self.symbols = [x for f in forms for x in f.variables]
        self.state = state
        self.symbolic = all(f.roots is not None for f in forms)
        args = [LAMBDA, *leader_symbols]
        subs = {s: sp.Float(v) for s, v in state.items()}
        self._utility = [sp.lambdify([*f.variables, *leader_symbols], f.utility.xreplace(subs), "numpy")
                         for f in forms]
        if self.symbolic:
            # one compiled function per follower: all roots, gradients at lo and hi, curvatures
            self._roots, self._grad_lo, self._grad_hi, self._curv = [], [], [], []
            for f in forms:
                lo = {x: sp.Float(v) for x, v in zip(f.variables, f.lower)}
                hi = {x: sp.Float(v) for x, v in zip(f.variables, f.upper)}
                grads = [gk.xreplace(subs) for gk in f.gradient]
                self._roots.append(sp.lambdify(args, [r.xreplace(subs) for r in f.roots], "numpy", cse=True))
                self._grad_lo.append(sp.lambdify(leader_symbols, [gk.xreplace(lo) for gk in grads], "numpy", cse=True))
                self._grad_hi.append(sp.lambdify(leader_symbols, [gk.xreplace(hi) for gk in grads], "numpy", cse=True))
                self._curv.append(sp.lambdify([*f.variables, *leader_symbols], [c.xreplace(subs) for c in f.curvature],
                                              "numpy", cse=True))

    # -------------------------------------------------------------- symbolic KKT path
    def _project(self, k: int, lam: np.ndarray, p: list[np.ndarray], g_lo, g_hi) -> np.ndarray:
        f = self.forms[k]
        B = lam.shape[0]
        with np.errstate(all="ignore"):
            roots = self._roots[k](lam, *p)
        out = np.empty((B, len(f.variables)))
        for v in range(len(f.variables)):
            shift = lam if f.in_budget[v] else 0.0
            root = np.broadcast_to(np.asarray(roots[v], dtype=float), (B,))
            value = np.clip(np.nan_to_num(root, nan=f.lower[v]), f.lower[v], f.upper[v])
            value = np.where(np.broadcast_to(g_hi[v], (B,)) - shift >= 0, f.upper[v], value)
            value = np.where(np.broadcast_to(g_lo[v], (B,)) - shift <= 0, f.lower[v], value)
            out[:, v] = value
        return out

    def _respond_symbolic(self, k: int, p: list[np.ndarray], B: int) -> np.ndarray:
        f = self.forms[k]
        with np.errstate(all="ignore"):
            g_lo = [np.asarray(g, dtype=float) for g in self._grad_lo[k](*p)]
            g_hi = [np.asarray(g, dtype=float) for g in self._grad_hi[k](*p)]
        x = self._project(k, np.zeros(B), p, g_lo, g_hi)
        if f.budget is None:
            return x
        over = x[:, f.in_budget].sum(axis=1) > f.budget
        if not over.any():
            return x
        # the budget multiplier: excess(lambda) = sum_B x_k(lambda) - c is non-increasing;
        # bracketed regula falsi with the Illinois modification (superlinear, never leaves the bracket)
        def excess(lam):
            return self._project(k, lam, p, g_lo, g_hi)[:, f.in_budget].sum(axis=1) - f.budget

        a, b = np.zeros(B), np.full(B, max(1.0, max(float(np.max(np.abs(g))) for g in g_lo) * 2))
        fa, fb = excess(a), excess(b)
        side = np.zeros(B)
        for _ in range(BISECTION_STEPS):
            active = over & (fa > 1e-15) & (b - a > 1e-15 * np.maximum(1.0, b))
            if not active.any():
                break
            with np.errstate(all="ignore"):
                c = np.where(fa - fb > 0, b - fb * (b - a) / (fb - fa), 0.5 * (a + b))
            c = np.where((c > a) & (c < b), c, 0.5 * (a + b))
            fc = excess(c)
            right = fc > 0  # root lies right of c
            fb = np.where(right & (side == 1), 0.5 * fb, fb)
            fa = np.where(~right & (side == -1), 0.5 * fa, fa)
            a, fa = np.where(right, c, a), np.where(right, fc, fa)
            b, fb = np.where(right, b, c), np.where(right, fb, fc)
            side = np.where(right, 1, -1)
        budgeted = self._project(k, b, p, g_lo, g_hi)
        return np.where(over[:, None], budgeted, x)

    # -------------------------------------------------------------- numeric fallback
    def best_response_numeric(self, k: int, p_row: list[float], starts: list[np.ndarray] | None = None) -> np.ndarray:
        """argmax of U over the box and budget by SLSQP from several starts (also used by the certificate)."""
        f = self.forms[k]
        utility = self._utility[k]

        def negative(x):
            return -float(utility(*x, *p_row))

        constraints = []
        if f.budget is not None:
            mask = f.in_budget.astype(float)
            constraints.append({"type": "ineq", "fun": lambda x: f.budget - mask @ x, "jac": lambda x: -mask})
        starts = list(starts or [])
        n = len(f.variables)
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
        leader_values = np.atleast_2d(leader_values)
        B = leader_values.shape[0]
        p = [leader_values[:, j] for j in range(leader_values.shape[1])]
        parts = []
        for k in range(len(self.forms)):
            if self.symbolic:
                parts.append(self._respond_symbolic(k, p, B))
            else:
                parts.append(np.stack([self.best_response_numeric(k, list(row)) for row in leader_values]))
        return np.concatenate(parts, axis=1)

    def utility(self, k: int, x: np.ndarray, leader_values: np.ndarray) -> np.ndarray:
        """U of follower k at own strategies x (B, n_k) and leader values (B, L)."""
        x, leader_values = np.atleast_2d(x), np.atleast_2d(leader_values)
        value = self._utility[k](*x.T, *leader_values.T)
        return np.broadcast_to(np.asarray(value, dtype=float), (max(x.shape[0], leader_values.shape[0]),))

    def second_order_ok(self, x: np.ndarray, leader_values: np.ndarray) -> bool:
        """d2U/dx_k2 < 0 at every follower's returned point (the root is a maximum)."""
        if not self.symbolic:
            return True
        offset = 0
        for k, f in enumerate(self.forms):
            xs = x[offset:offset + len(f.variables)]
            offset += len(f.variables)
            curv = np.asarray(self._curv[k](*xs, *leader_values), dtype=float)
            if np.any(curv >= 0):
                return False
        return True
