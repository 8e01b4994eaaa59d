"""Leaders' equilibrium in prices and its certificate.

Leaders move first: leader l's payoff is V_l(p) = U_l(p, x*(p)) where x*(p) is the
followers' best response (`follower.py`), or, when followers' utilities mention one
another's strategies, the followers' Nash equilibrium given p (`nash.py`). A Stackelberg equilibrium is a Nash equilibrium
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

from mechdsl.games.follower import derive_follower
from mechdsl.errors import UsageError
from mechdsl.games.model import GameModel
from mechdsl.games.nash import follower_response
from mechdsl.games.refusal import refusal
from mechdsl.tolerances import EQUILIBRIUM_GAIN_TOLERANCE


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
                "where": worst.player, "target": EQUILIBRIUM_GAIN_TOLERANCE,
                "within_target": worst.relative_gain <= EQUILIBRIUM_GAIN_TOLERANCE,
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
            chosen = model.strategy_symbols(p, k)
            if len(chosen) != 1:
                where = f"strategy {p.strategies[1]}" if len(p.strategies) > 1 else f"strategy {p.strategies[0]}"
                raise refusal(model, where, f"leader {p.name}[{k}] chooses {len(chosen)} strategies "
                              f"({', '.join(map(str, chosen))}); the equilibrium solver needs exactly one per leader",
                              hint=f"give {p.name} one strategy indexed by its own index only, e.g. "
                                   f"`strategy price[I] of {p.name} in [0, 10]` with `leader {p.name}[i in I]`",
                              unpositioned=UnsupportedGame)
        forms = self.forms or derive_followers(model)
        self.forms = forms
        self.followers = follower_response(model, self.state, forms, self.leader_symbols)
        params, self._leader_utilities = _compiled_leaders(model, forms, self.leader_symbols, self.followers.symbols)
        self._params = tuple(float(self.state[s]) for s in params)
        self.lower = np.array([model.bounds_of(s)[0] for s in self.leader_symbols])
        self.upper = np.array([model.bounds_of(s)[1] for s in self.leader_symbols])

    def payoffs(self, prices: np.ndarray) -> np.ndarray:
        """(B, L): every leader's V_l at a batch of leader price vectors, followers best-responding."""
        prices = np.atleast_2d(prices)
        x = self.followers.respond(prices)
        values = self._leader_utilities(*prices.T, *x.T, *self._params)
        return np.stack([np.broadcast_to(np.asarray(v, dtype=float), (prices.shape[0],)) for v in values], axis=1)

    def payoff(self, l: int, prices: np.ndarray) -> np.ndarray:
        """V_l at a batch of leader price vectors (B, L), followers best-responding."""
        return self.payoffs(prices)[:, l]

    def best_price(self, l: int, prices: np.ndarray, grid: int = GRID, tol: float = 1e-10) -> tuple[float, float]:
        """Global argmax over leader l's own price: grid, then zoom around the best point."""
        best_p, best_v = self.best_prices(prices, [l], grid, tol)
        return float(best_p[0]), float(best_v[0])

    def best_prices(self, prices: np.ndarray, leaders: list[int], grid: int = GRID,
                    tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
        """Each listed leader's global best response to `prices` (the others fixed), searched
        for all of them in one batch: a grid of `grid` points over the own price, then
        repeated zooming (41 points on +-2 grid steps around the best point so far) until
        the interval is below `tol` of the range."""
        leaders = list(leaders)
        lo, hi = self.lower[leaders], self.upper[leaders]
        best_p = prices[leaders].astype(float)
        best_v = self.payoffs(prices)[0, leaders]
        center_lo, center_hi = lo.copy(), hi.copy()
        points = grid
        while np.any(center_hi - center_lo > tol * (hi - lo)):
            candidates = np.linspace(center_lo, center_hi, points)  # (points, len(leaders))
            batch = np.repeat(prices[None, :], points * len(leaders), axis=0).reshape(len(leaders), points, -1)
            for i, l in enumerate(leaders):
                batch[i, :, l] = candidates[:, i]
            values = self.payoffs(batch.reshape(-1, len(prices))).reshape(len(leaders), points, -1)
            own = values[np.arange(len(leaders)), :, leaders]  # (len(leaders), points)
            k = np.argmax(own, axis=1)
            top = own[np.arange(len(leaders)), k]
            better = top > best_v
            best_p = np.where(better, candidates[k, np.arange(len(leaders))], best_p)
            best_v = np.where(better, top, best_v)
            step = (center_hi - center_lo) / (points - 1)
            center_lo, center_hi = np.maximum(lo, best_p - 2 * step), np.minimum(hi, best_p + 2 * step)
            points = 41
        return best_p, best_v


_LEADERS: dict[tuple, tuple[object, tuple, object]] = {}


def _compiled_leaders(model: GameModel, forms: list, leader_symbols: list, follower_symbols: list):
    """(state symbols, one NumPy function returning every leader's utility), lambdified once
    per (model, forms); the state's values are passed as trailing arguments."""
    key = (id(model), tuple(id(f) for f in forms))
    hit = _LEADERS.get(key)
    if hit is not None:
        return hit[1], hit[2]
    utilities = [p.utilities[k] for p in model.leaders for k in range(p.count)]
    taken = {*leader_symbols, *follower_symbols}
    params = tuple(sorted({s for u in utilities for s in u.free_symbols} - taken, key=str))
    function = sp.lambdify([*leader_symbols, *follower_symbols, *params], utilities, "numpy", cse=True)
    _LEADERS[key] = ((model, forms), params, function)
    return params, function


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
    values = game.payoffs(points).T  # (L, P)
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
    payoffs = game.payoffs(eq.prices)[0]
    _, best = game.best_prices(eq.prices.copy(), list(range(len(game.instances))), grid=CERTIFICATE_GRID)
    for l, (player, k) in enumerate(game.instances):
        deviations.append(Deviation(f"{player.name}[{k}]", float(payoffs[l]), float(best[l])))
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
