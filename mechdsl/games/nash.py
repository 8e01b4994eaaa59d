"""Followers that interact: a Nash equilibrium among the followers, for given leader strategies.

When a follower's utility depends on other followers' strategies (Cournot competitors,
congestion), no follower can respond to the leaders alone. For leader strategies p the
followers play a Nash equilibrium x*(p) of the game among themselves:

    x*_n = argmax_{x_n in X_n} U_n(x_n, x*_{-n}; p)      for every follower n,

X_n being follower n's box and budget. Follower n's best response to (p, x_{-n}) is the
one `follower.py` derives symbolically (KKT on the box and budget), with the other
followers' strategies as further parameters beside the leaders'. A follower whose best
response has no derived form is refused (a numeric solve per follower, sweep and leader
candidate is far too slow).

**Method (Gauss-Seidel best responses).** Starting from every follower at its lower
bound, sweep over the followers, each replacing its strategies by its best response to
the current others, until no strategy moves by more than `TOLERANCE` of its range. For a
concave game with a strictly concave potential (Cournot with linear inverse demand and any
number of followers, Monderer and Shapley 1996) the sweeps are block coordinate ascent on
the potential and converge; for a concave game whose best responses are contractions
(Rosen 1965's diagonal strict concavity with a dominant diagonal) they converge
geometrically, but slowly for many followers (Cournot with N followers needs about 12 N
sweeps). So once the sweeps move less than `POLISH_BELOW`, followers without budgets take
a Newton step on their joint first-order conditions: with F the followers' strategies off
their bounds, H_FF dx_F = -g_F (g_n = dU_n/dx_n, H = dg/dx, exact for quadratic games such
as Cournot), projected on the box; the next sweep corrects a wrong guess of which bounds
bind, and a sweep that moves no strategy confirms the point. Nothing is assumed: every batch lane that has not converged after
`MAX_SWEEPS` is counted (`unconverged`), and the equilibrium certificate
(`equilibrium.certify`) checks each follower's unilateral deviation gain at the solution
the leaders' problem returns.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from mechdsl.errors import UsageError
from mechdsl.games.follower import FollowerForm, FollowerResponse
from mechdsl.games.model import GameModel
from mechdsl.games.refusal import refusal

TOLERANCE = 1e-14  # largest move in a sweep, relative to the strategy's range, at convergence
MAX_SWEEPS = 2000
POLISH_BELOW = 1e-4  # a Newton step is tried once the sweeps move less than this (relative)
MAX_POLISH = 8  # Newton steps per lane at most (each followed by a sweep that corrects its active set)
CONCEPT = "Nash equilibrium among followers (Gauss-Seidel best responses)"


def followers_interact(forms: list[FollowerForm]) -> bool:
    """Whether some follower's utility mentions another follower's strategies."""
    variables = {x for f in forms for x in f.variables}
    return any((f.utility.free_symbols & variables) - set(f.variables) for f in forms)


_JOINT: dict[tuple, tuple[object, tuple]] = {}


def _joint_conditions(forms: list[FollowerForm], leader_symbols: list[sp.Symbol]):
    """(state symbols, g, H): every follower's own gradient g_v = dU_owner(v)/dx_v and its
    Jacobian H_vw = dg_v/dx_w over all followers' strategies, lambdified once per forms
    (arguments: the followers' strategies, the leaders' values, the state's values)."""
    key = (tuple(id(f) for f in forms), tuple(leader_symbols))
    hit = _JOINT.get(key)
    if hit is not None:
        return hit[1]
    variables = [x for f in forms for x in f.variables]
    gradient = [g for f in forms for g in f.gradient]
    hessian = [sp.diff(g, x) for g in gradient for x in variables]
    taken = {*variables, *leader_symbols}
    params = tuple(sorted({s for f in forms for s in f.utility.free_symbols} - taken, key=str))
    arguments = [*variables, *leader_symbols, *params]
    compiled = (params, sp.lambdify(arguments, gradient, "numpy", cse=True),
                sp.lambdify(arguments, hessian, "numpy", cse=True))
    _JOINT[key] = (forms, compiled)
    return compiled


def follower_response(model: GameModel, state: dict[sp.Symbol, float], forms: list[FollowerForm],
                      leader_symbols: list[sp.Symbol]):
    """The followers' response to the leaders: independent best responses when no follower's
    utility mentions another's strategies, their Nash equilibrium otherwise."""
    if followers_interact(forms):
        return NashFollowers(model, state, forms, leader_symbols)
    return FollowerResponse(model, state, forms, leader_symbols)


class NashFollowers:
    """The followers' Nash equilibrium x*(p), batched over leader strategies.

    The same interface as `FollowerResponse`: `respond(leader_values)` maps (B, L) leader
    values to (B, V) follower strategies (order of `symbols`); `utility(k, x, p)` and
    `best_response_numeric(k, p_row, starts)` are follower k's, the other followers held at
    their equilibrium response to p (a unilateral deviation, what the certificate checks)."""

    concept = CONCEPT

    def __init__(self, model: GameModel, state: dict[sp.Symbol, float], forms: list[FollowerForm],
                 leader_symbols: list[sp.Symbol]):
        self.forms = forms
        self.leader_symbols = leader_symbols
        self.symbols = [x for f in forms for x in f.variables]
        offsets = np.cumsum([0] + [len(f.variables) for f in forms])
        self._own = [np.arange(offsets[k], offsets[k + 1]) for k in range(len(forms))]
        self._others = [np.setdiff1d(np.arange(len(self.symbols)), own) for own in self._own]
        self._responses = [
            FollowerResponse(model, state, [f], [*leader_symbols, *(self.symbols[i] for i in others)])
            for f, others in zip(forms, self._others)
        ]
        numeric = next((f for f in forms if f.roots is None), None)
        if numeric is not None:
            raise refusal(model, f"utility {numeric.player}",
                          f"the followers interact, but the best response of {numeric.player}[{numeric.instance}] "
                          "has no derived form (it would take a numeric solve per follower, sweep and leader "
                          "candidate)",
                          hint="followers that interact need utilities separable in their own strategies whose "
                               "first-order conditions have one root each (e.g. concave quadratic or log terms)",
                          unpositioned=UsageError)
        self.symbolic = True
        self.lower = np.concatenate([f.lower for f in forms])
        self.upper = np.concatenate([f.upper for f in forms])
        self.unconverged = 0  # lanes of the last `respond` that did not converge
        self.sweeps = 0  # sweeps of the last `respond`
        self._newton = _joint_conditions(forms, leader_symbols) if all(f.budget is None for f in forms) else None
        self._params = tuple(float(state[s]) for s in self._newton[0]) if self._newton else ()
        self._last: tuple[bytes, np.ndarray] | None = None  # the last equilibrium, by leader values

    def _context(self, k: int, leader_values: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Follower k's parameters: the leaders' values, then the other followers' strategies."""
        return np.concatenate([leader_values, x[:, self._others[k]]], axis=1)

    def respond(self, leader_values: np.ndarray) -> np.ndarray:
        """Gauss-Seidel best-response sweeps with a Newton polish (module docstring), all lanes at once."""
        leader_values = np.atleast_2d(np.asarray(leader_values, dtype=float))
        key = leader_values.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1].copy()
        B = leader_values.shape[0]
        x = np.tile(self.lower, (B, 1))
        scale = self.upper - self.lower
        active = np.ones(B, dtype=bool)
        polished = np.zeros(B, dtype=int)  # Newton steps taken per lane
        sweep = 0
        for sweep in range(1, MAX_SWEEPS + 1):
            lanes = np.flatnonzero(active)
            before = x[lanes].copy()
            current, p = x[lanes], leader_values[lanes]
            for k, response in enumerate(self._responses):
                current[:, self._own[k]] = response.respond(self._context(k, p, current))
            move = np.max(np.abs(current - before) / scale, axis=1)
            polish = (move < POLISH_BELOW) & (move > TOLERANCE) & (polished[lanes] < MAX_POLISH)
            if self._newton is not None and polish.any():
                current[polish] = self._newton_step(current[polish], p[polish])
                polished[lanes[polish]] += 1
            x[lanes] = current
            active[lanes] = move > TOLERANCE
            if not active.any():
                break
        self.sweeps, self.unconverged = sweep, int(active.sum())
        self._last = (key, x.copy())
        return x

    def _newton_step(self, x: np.ndarray, leader_values: np.ndarray) -> np.ndarray:
        """One Newton step on the first-order conditions of the strategies off their bounds,
        projected on the box (the next sweep corrects a wrong guess of which bounds bind)."""
        params, gradient, hessian = self._newton
        V, B = x.shape[1], x.shape[0]
        args = (*x.T, *leader_values.T, *self._params)
        with np.errstate(all="ignore"):
            g = np.stack([np.broadcast_to(np.asarray(v, dtype=float), (B,)) for v in gradient(*args)], axis=1)
            h = np.stack([np.broadcast_to(np.asarray(v, dtype=float), (B,)) for v in hessian(*args)], axis=1)
        h = h.reshape(B, V, V)
        margin = 1e-12 * (self.upper - self.lower)
        free = (x > self.lower + margin) & (x < self.upper - margin)
        pinned = ~free
        h = np.where(pinned[:, :, None] | pinned[:, None, :], 0.0, h)
        h[:, np.arange(V), np.arange(V)] = np.where(pinned, 1.0, h[:, np.arange(V), np.arange(V)])
        try:
            step = np.linalg.solve(h, np.where(free, -g, 0.0)[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            return x
        moved = np.clip(x + step, self.lower, self.upper)
        return np.where(np.all(np.isfinite(moved), axis=1)[:, None], moved, x)

    def utility(self, k: int, x: np.ndarray, leader_values: np.ndarray) -> np.ndarray:
        """U of follower k at own strategies x (B, n_k), the others at their equilibrium
        response to the leaders' values (1 or B rows)."""
        leader_values = np.atleast_2d(np.asarray(leader_values, dtype=float))
        equilibrium = self.respond(leader_values)
        return self._responses[k].utility(0, x, self._context(k, leader_values, equilibrium))

    def best_response_numeric(self, k: int, p_row: list[float], starts: list[np.ndarray] | None = None) -> np.ndarray:
        """Follower k's best response by SLSQP, the others at their equilibrium response to `p_row`."""
        leader_values = np.atleast_2d(np.asarray(p_row, dtype=float))
        context = self._context(k, leader_values, self.respond(leader_values))[0]
        return self._responses[k].best_response_numeric(0, list(context), starts)

    def second_order_ok(self, x: np.ndarray, leader_values: np.ndarray) -> bool:
        """d2U_n/dx_n2 < 0 at every follower's strategies in the profile x (each a maximum)."""
        x, leader_values = np.atleast_2d(x), np.atleast_2d(leader_values)
        return all(r.second_order_ok(x[0, self._own[k]], self._context(k, leader_values, x)[0])
                   for k, r in enumerate(self._responses))
