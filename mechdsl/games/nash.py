"""Followers that interact: a Nash equilibrium among the followers, for given leader strategies.

When a follower's utility depends on other followers' strategies (Cournot competitors,
congestion), no follower can respond to the leaders alone. For leader strategies p the
followers play a Nash equilibrium x*(p) of the game among themselves:

    x*_n = argmax_{x_n in X_n} U_n(x_n, x*_{-n}; p)      for every follower n,

X_n being follower n's box and budget. Follower n's best response to (p, x_{-n}) is the
one `follower.py` derives (symbolic KKT where SymPy can, SLSQP otherwise), with the other
followers' strategies as further parameters beside the leaders'.

**Method (Gauss-Seidel best responses).** Starting from every follower at its lower
bound, sweep over the followers, each replacing its strategies by its best response to
the current others, until no strategy moves by more than `TOLERANCE` of its range. For a
concave game with a strictly concave potential (Cournot with linear inverse demand and any
number of followers, Monderer and Shapley 1996) the sweeps are block coordinate ascent on
the potential and converge; for a concave game whose best responses are contractions
(Rosen 1965's diagonal strict concavity with a dominant diagonal) they converge
geometrically. Nothing is assumed: every batch lane that has not converged after
`MAX_SWEEPS` is counted (`unconverged`), and the equilibrium certificate
(`equilibrium.certify`) checks each follower's unilateral deviation gain at the solution
the leaders' problem returns.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from mechdsl.games.follower import FollowerForm, FollowerResponse
from mechdsl.games.model import GameModel

TOLERANCE = 1e-14  # largest move in a sweep, relative to the strategy's range, at convergence
MAX_SWEEPS = 2000
CONCEPT = "Nash equilibrium among followers (Gauss-Seidel best responses)"


def followers_interact(forms: list[FollowerForm]) -> bool:
    """Whether some follower's utility mentions another follower's strategies."""
    variables = {x for f in forms for x in f.variables}
    return any((f.utility.free_symbols & variables) - set(f.variables) for f in forms)


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
        self.symbolic = all(r.symbolic for r in self._responses)
        self.lower = np.concatenate([f.lower for f in forms])
        self.upper = np.concatenate([f.upper for f in forms])
        self.unconverged = 0  # lanes of the last `respond` that did not converge
        self.sweeps = 0  # sweeps of the last `respond`

    def _context(self, k: int, leader_values: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Follower k's parameters: the leaders' values, then the other followers' strategies."""
        return np.concatenate([leader_values, x[:, self._others[k]]], axis=1)

    def respond(self, leader_values: np.ndarray) -> np.ndarray:
        """Gauss-Seidel best-response sweeps (module docstring), all lanes at once."""
        leader_values = np.atleast_2d(np.asarray(leader_values, dtype=float))
        B = leader_values.shape[0]
        x = np.tile(self.lower, (B, 1))
        tolerance = TOLERANCE * (self.upper - self.lower)
        active = np.ones(B, dtype=bool)
        sweep = 0
        for sweep in range(1, MAX_SWEEPS + 1):
            lanes = np.flatnonzero(active)
            before = x[lanes].copy()
            current, p = x[lanes], leader_values[lanes]
            for k, response in enumerate(self._responses):
                current[:, self._own[k]] = response.respond(self._context(k, p, current))
            x[lanes] = current
            moved = np.any(np.abs(current - before) > tolerance, axis=1)
            active[lanes] = moved
            if not active.any():
                break
        self.sweeps, self.unconverged = sweep, int(active.sum())
        return x

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
