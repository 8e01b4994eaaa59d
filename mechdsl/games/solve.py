"""Solve a game spec for one sampled state: Stackelberg equilibrium, certificate, tier-2 auction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from mechdsl.games.equilibrium import Certificate, Equilibrium, LeaderGame, certify, derive_followers, solve_leaders
from mechdsl.games.model import GameModel
from mechdsl.games.state import sample_state, state_json
from mechdsl.games.tier2 import run_auction


@dataclass(frozen=True)
class GameSolution:
    model: GameModel
    state: dict[sp.Symbol, float]
    equilibrium: Equilibrium
    certificate: Certificate
    auction: dict[str, object] | None
    utilities: dict[str, float]
    follower_method: str

    def strategies(self) -> dict[str, list]:
        values = dict(zip(self._symbols(), [*self.equilibrium.prices, *self.equilibrium.responses]))
        return {name: np.asarray([values[s] for s in st.symbols()]).reshape(st.shape).tolist()
                for name, st in self.model.strategies.items()}

    def _symbols(self) -> list[sp.Symbol]:
        m = self.model
        leaders = [s for p in m.leaders for k in range(p.count) for s in m.strategy_symbols(p, k)]
        followers = [s for p in m.followers for k in range(p.count) for s in m.strategy_symbols(p, k)]
        return leaders + followers

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
                       "seconds": self.equilibrium.seconds},
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
    return GameSolution(model, state, eq, certificate, auction, utilities,
                        f"{method}; {concept}" if concept else method)
