"""Solve a game spec for one sampled state: Stackelberg equilibrium, certificate, tier-2 auction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from mechdsl.games.equilibrium import Certificate, Equilibrium, LeaderGame, certify, derive_followers, solve_leaders
from mechdsl.games.model import GameModel
from mechdsl.games.refusal import refusal
from mechdsl.games.state import sample_state, state_json
from mechdsl.games.tier2 import run_auction
from mechdsl.tolerances import EQUILIBRIUM_GAIN_TOLERANCE


@dataclass(frozen=True)
class GameSolution:
    model: GameModel
    state: dict[sp.Symbol, float]
    equilibrium: Equilibrium
    certificate: Certificate
    auction: dict[str, object] | None
    utilities: dict[str, float]
    follower_method: str
    followers_converged: bool | None = None  # whether the followers' Nash sweeps converged (None: no Nash)

    def strategies(self) -> dict[str, list]:
        values = dict(zip(self._symbols(), [*self.equilibrium.prices, *self.equilibrium.responses]))
        return {name: np.asarray([values[s] for s in st.symbols()]).reshape(st.shape).tolist()
                for name, st in self.model.strategies.items()}

    def _symbols(self) -> list[sp.Symbol]:
        m = self.model
        leaders = [s for p in m.leaders for k in range(p.count) for s in m.strategy_symbols(p, k)]
        followers = [s for p in m.followers for k in range(p.count) for s in m.strategy_symbols(p, k)]
        return leaders + followers

    def require_certified(self) -> None:
        """Raise a refusal positioned at the utility of the player whose unilateral deviation
        gains more than the target: what `solve` found is then no equilibrium."""
        worst = self.certificate.worst
        if worst.relative_gain <= EQUILIBRIUM_GAIN_TOLERANCE:
            return
        player = worst.player.split("[", 1)[0]
        role = next(p.role for p in self.model.players if p.name == player)
        why = ("its best response comes from its first-order conditions, so its utility must be concave in its own "
               "strategies" + (" (and the best-response sweeps among the followers must converge)"
                               if self.followers_converged is not None else "")
               if role == "follower" else
               "the leaders' best-response iteration did not reach an equilibrium (a leader's payoff with the "
               "followers responding may have several peaks or no pure equilibrium)")
        raise refusal(self.model, f"utility {player}",
                      f"no certified equilibrium: {worst.player} gains {worst.relative_gain:.3g} (relative) by a "
                      f"unilateral deviation, above the target {EQUILIBRIUM_GAIN_TOLERANCE:g}",
                      hint=f"{worst.player} is a {role}: {why}")

    def roles(self) -> dict[str, str]:
        """The role ("leader" or "follower") of every strategy, by its declared name."""
        return {name: p.role for p in self.model.players for name in p.strategies}

    def as_json(self) -> dict[str, object]:
        return {
            "state": state_json(self.model, self.state),
            "equilibrium": self.strategies(),
            "roles": self.roles(),
            "auction": self.auction,
            "utilities": self.utilities,
            "certificate": self.certificate.as_dict(),
            "solver": {"followers": self.follower_method, "leaders": self.equilibrium.method,
                       "sweeps": self.equilibrium.sweeps, "converged": self.equilibrium.converged,
                       "seconds": self.equilibrium.seconds,
                       **({} if self.followers_converged is None else
                          {"followers_converged": self.followers_converged})},
        }


def solve_game(model: GameModel, seed: int = 0, forms: list | None = None) -> GameSolution:
    rng = np.random.default_rng(seed)
    state = sample_state(model, rng)
    game = LeaderGame(model, state, forms or derive_followers(model))
    eq = solve_leaders(game)
    certificate = certify(game, eq)
    values = dict(state)
    values.update(zip(game.leader_symbols, eq.prices))
    values.update(zip(game.followers.symbols, eq.responses))
    utilities = {f"{p.name}[{k}]": float(v) for (p, k), v in zip(game.instances, game.payoffs(eq.prices)[0])}
    offsets = np.cumsum([0] + [len(f.variables) for f in game.forms])
    for k, form in enumerate(game.forms):
        x = eq.responses[offsets[k]:offsets[k + 1]]
        utilities[f"{form.player}[{form.instance}]"] = float(game.followers.utility(k, x, eq.prices)[0])
    auction = run_auction(model.auction, values, rng) if model.auction is not None else None
    method = ", ".join(sorted({f.method for f in game.forms}))
    concept = getattr(game.followers, "concept", None)  # set where followers play a Nash equilibrium
    converged = None
    if concept:
        game.followers.respond(eq.prices)
        converged = game.followers.unconverged == 0
    return GameSolution(model, state, eq, certificate, auction, utilities,
                        f"{method}; {concept}" if concept else method, converged)
