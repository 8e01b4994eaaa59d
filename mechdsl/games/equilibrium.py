"""Leaders' equilibrium in prices and its certificate.

Leaders move first: leader l's payoff is V_l(p) = U_l(p, x*(p)) where x*(p) is the
followers' best response (`follower.py`). A Stackelberg equilibrium is a Nash equilibrium
of the leaders' game in V: no leader gains by changing its own strategy given the other
leaders' strategies, with the followers re-optimising.

**Method (best-response iteration).** Gauss-Seidel sweeps over leader instances: each
leader's best response argmax_{p_l in [lo, hi]} V_l(p_l, p_-l) is found globally by a
dense grid (`GRID` points, evaluated as one batch) followed by repeated zooming around
the best grid point (each zoom shrinks the interval by GRID/4, down to 1e-10 of the
range). Sweeps stop when no price moves by more than 1e-10 (relative to its range).

**Certificate.** The largest relative gain any player gets from a unilateral deviation:
for a leader, max over a denser grid (plus zooming) of V_l(p'_l, p*_-l) - V_l(p*),
followers re-optimising; for a follower, max of U_n over its strategy set (box and
budget) given p* - found from a grid over the box (<= 5 dimensions) and SLSQP from the
best grid points and the equilibrium point - minus U_n(x*). Gains are divided by
max(|payoff at the equilibrium|, 1e-9).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from mechdsl.games.follower import FollowerResponse, derive_follower
from mechdsl.cli.output import UsageError
from mechdsl.games.model import GameModel


class UnsupportedGame(UsageError):
    """A game outside the solver's class (one price per leader, followers that respond to
    leaders only): reported to the user, exit status 2."""


GRID = 201
CERTIFICATE_GRID = 1001
MAX_SWEEPS = 300


@dataclass(frozen=True)
class Deviation:
    player: str  # "MA[0]"
    payoff: float
    best_deviation_payoff: float

    @property
    def gain(self) -> float:
        return max(0.0, self.best_deviation_payoff - self.payoff)

    @property
    def relative_gain(self) -> float:
        return self.gain / max(abs(self.payoff), 1e-9)


@dataclass(frozen=True)
class Certificate:
    deviations: tuple[Deviation, ...]

    @property
    def worst(self) -> Deviation:
        return max(self.deviations, key=lambda d: d.relative_gain)

    def as_dict(self) -> dict[str, object]:
        worst = self.worst
        return {"max_relative_gain": worst.relative_gain, "max_absolute_gain": max(d.gain for d in self.deviations),
                "where": worst.player, "target": 1e-6, "within_target": worst.relative_gain <= 1e-6,
                "per_player": {d.player: d.relative_gain for d in self.deviations}}


def derive_followers(model: GameModel) -> list:
    """Every follower instance's best-response form (symbolic where SymPy can)."""
    return [derive_follower(model, p, k) for p in model.followers for k in range(p.count)]


@dataclass
class LeaderGame:
    """Leaders' payoffs V_l(p) as batched numeric functions for one state."""

    model: GameModel
    state: dict[sp.Symbol, float]
    forms: list | None = None  # derived follower forms (state-independent; pass them to reuse)
    leader_symbols: list[sp.Symbol] = field(init=False)

    def __post_init__(self) -> None:
        model = self.model
        self.leader_symbols = [s for p in model.leaders for k in range(p.count) for s in model.strategy_symbols(p, k)]
        self.instances = [(p, k) for p in model.leaders for k in range(p.count)]
        for p, k in self.instances:
            if len(model.strategy_symbols(p, k)) != 1:
                raise UnsupportedGame(f"leader {p.name}[{k}] chooses {len(model.strategy_symbols(p, k))} strategies; "
                                      "the equilibrium solver needs exactly one (its price)",
                                      hint="declare one `strategy price[I] of LEADER in [lo, hi]` per leader population")
        forms = self.forms or derive_followers(model)
        follower_syms = {x for f in forms for x in f.variables}
        for f in forms:
            others = (f.utility.free_symbols & follower_syms) - set(f.variables)
            if others:
                raise UnsupportedGame(f"a follower's utility depends on other followers' strategies ({sorted(map(str, others))}); "
                                      "the solver handles followers that respond to leaders only",
                                      hint="write each follower utility in its own strategies, the leaders' and the state")
        self.forms = forms
        self.followers = FollowerResponse(model, self.state, forms, self.leader_symbols)
        subs = {s: sp.Float(v) for s, v in self.state.items()}
        args = [*self.leader_symbols, *self.followers.symbols]
        self._leader_utility = [sp.lambdify(args, p.utilities[k].xreplace(subs), "numpy", cse=True)
                                for p, k in self.instances]
        self.lower = np.array([model.bounds_of(s)[0] for s in self.leader_symbols])
        self.upper = np.array([model.bounds_of(s)[1] for s in self.leader_symbols])

    def payoff(self, l: int, prices: np.ndarray) -> np.ndarray:
        """V_l at a batch of leader price vectors (B, L), followers best-responding."""
        prices = np.atleast_2d(prices)
        x = self.followers.respond(prices)
        value = self._leader_utility[l](*prices.T, *x.T)
        return np.broadcast_to(np.asarray(value, dtype=float), (prices.shape[0],))

    def best_price(self, l: int, prices: np.ndarray, grid: int = GRID, tol: float = 1e-10) -> tuple[float, float]:
        """Global argmax over leader l's own price: grid, then zoom around the best point."""
        lo, hi = self.lower[l], self.upper[l]
        best_p, best_v = prices[l], float(self.payoff(l, prices)[0])
        width = hi - lo
        center_lo, center_hi = lo, hi
        points = grid
        while width > tol * (hi - lo):
            candidates = np.linspace(center_lo, center_hi, points)
            batch = np.repeat(prices[None, :], len(candidates), axis=0)
            batch[:, l] = candidates
            values = self.payoff(l, batch)
            k = int(np.argmax(values))
            if values[k] > best_v:
                best_p, best_v = float(candidates[k]), float(values[k])
            step = (center_hi - center_lo) / (points - 1)
            center_lo, center_hi = max(lo, best_p - 2 * step), min(hi, best_p + 2 * step)
            width = center_hi - center_lo
            points = 41
        return best_p, best_v


@dataclass(frozen=True)
class Equilibrium:
    prices: np.ndarray  # (L,)
    responses: np.ndarray  # (F,)
    sweeps: int
    converged: bool
    seconds: float
    method: str = "best-response iteration"


def _first_order(game: LeaderGame, prices: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """F_l = dV_l/dp_l and its Jacobian dF_l/dp_m by central differences, in one batch."""
    L = len(prices)
    shifts = [np.zeros(L)] + [h * np.eye(L)[m] for m in range(L)]
    points = []
    for shift in shifts:
        for l in range(L):
            for sign in (1.0, -1.0):
                points.append(prices + shift + sign * h * np.eye(L)[l])
    points = np.array(points)
    values = np.stack([game.payoff(l, points) for l in range(L)])  # (L, P)
    F = np.zeros((L + 1, L))
    for s in range(L + 1):
        for l in range(L):
            i = (s * L + l) * 2
            F[s, l] = (values[l, i] - values[l, i + 1]) / (2 * h)
    return F[0], ((F[1:] - F[0]) / h).T


def _newton(game: LeaderGame, prices: np.ndarray, steps: int = 20) -> np.ndarray | None:
    """Newton on the leaders' first-order conditions dV_l/dp_l = 0 (interior equilibria).
    Finite differences put a noise floor of ~1e-11 on the step; a last step below 1e-8
    (relative) is accepted, since the payoff error is quadratic in it."""
    scale = game.upper - game.lower
    last = np.inf
    for _ in range(steps):
        F, J = _first_order(game, prices, 1e-5 * float(scale.max()))
        try:
            step = np.linalg.solve(J, -F)
        except np.linalg.LinAlgError:
            return None
        prices = prices + step
        if np.any(prices <= game.lower) or np.any(prices >= game.upper) or not np.all(np.isfinite(prices)):
            return None
        last = np.max(np.abs(step) / scale)
        if last < 1e-11:
            return prices
    return prices if last < 1e-8 else None


def solve_leaders(game: LeaderGame, start: np.ndarray | None = None) -> Equilibrium:
    """Best-response sweeps to approach the equilibrium, then Newton on the first-order
    conditions; if Newton fails (a bound or a kink is active), sweeps until convergence."""
    t0 = time.perf_counter()
    prices = start.copy() if start is not None else 0.5 * (game.lower + game.upper)
    scale = game.upper - game.lower
    converged = False
    sweep = 0
    for sweep in range(1, 6):
        moved = 0.0
        for l in range(len(prices)):
            new, _ = game.best_price(l, prices, grid=101, tol=1e-4)
            moved = max(moved, abs(new - prices[l]) / scale[l])
            prices[l] = new
        if moved < 1e-3:
            break
    polished = _newton(game, prices.copy())
    if polished is not None:
        responses = game.followers.respond(polished)[0]
        return Equilibrium(polished, responses, sweep, True, time.perf_counter() - t0, "best response + Newton")
    for sweep in range(sweep + 1, MAX_SWEEPS + 1):
        moved = 0.0
        for l in range(len(prices)):
            new, _ = game.best_price(l, prices)
            moved = max(moved, abs(new - prices[l]) / scale[l])
            prices[l] = new
        if moved < 1e-10:
            converged = True
            break
    responses = game.followers.respond(prices)[0]
    return Equilibrium(prices, responses, sweep, converged, time.perf_counter() - t0, "best-response iteration")


def certify(game: LeaderGame, eq: Equilibrium) -> Certificate:
    deviations = []
    for l, (player, k) in enumerate(game.instances):
        payoff = float(game.payoff(l, eq.prices)[0])
        _, best = game.best_price(l, eq.prices.copy(), grid=CERTIFICATE_GRID)
        deviations.append(Deviation(f"{player.name}[{k}]", payoff, best))
    offset = 0
    for k, form in enumerate(game.forms):
        n = len(form.variables)
        x_star = eq.responses[offset:offset + n]
        offset += n
        payoff = float(game.followers.utility(k, x_star, eq.prices)[0])
        starts = [x_star] + _grid_starts(form, lambda x: game.followers.utility(k, x, eq.prices))
        x_best = game.followers.best_response_numeric(k, list(eq.prices), starts)
        best = float(game.followers.utility(k, x_best, eq.prices)[0])
        deviations.append(Deviation(f"{form.player}[{form.instance}]", payoff, max(best, payoff)))
    return Certificate(tuple(deviations))


def _grid_starts(form, utility, per_axis: int = 11, keep: int = 3) -> list[np.ndarray]:
    """The best feasible points of a grid over the box (dimensions <= 5), as SLSQP starts."""
    n = len(form.variables)
    if n > 5:
        return []
    axes = [np.linspace(lo, hi, per_axis) for lo, hi in zip(form.lower, form.upper)]
    points = np.array(list(itertools.product(*axes)))
    if form.budget is not None:
        points = points[(points[:, form.in_budget]).sum(axis=1) <= form.budget + 1e-12]
    values = utility(points)
    return [points[i] for i in np.argsort(values)[-keep:]]
