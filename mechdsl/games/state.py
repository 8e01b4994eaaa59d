"""States of a game: one draw of every random parameter, plus constants and derived values.

A state maps each state symbol (constant, random, indexed random entry, derived `let`)
to a float. Draws reuse `mechdsl.solve.state.draw`, so distributions mean exactly what
they mean in contract specs.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from mechdsl.games.model import GameModel
from mechdsl.model import all_indices
from mechdsl.solve.state import draw


def state_symbols(model: GameModel) -> list[sp.Symbol]:
    """Every non-strategy symbol a utility or auction quantity may mention, in a fixed order."""
    symbols = [c.symbol() for c in model.constants.values()] + [r.symbol() for r in model.randoms.values()]
    symbols += [s for r in model.indexed_randoms.values() for s in r.symbols()]
    symbols += [d.symbol() for d in model.derived.values()]
    return symbols


def sample_state(model: GameModel, rng: np.random.Generator) -> dict[sp.Symbol, float]:
    state: dict[sp.Symbol, float] = {c.symbol(): float(c.value) for c in model.constants.values()}
    for r in model.randoms.values():
        state[r.symbol()] = float(draw(r.distribution, 1, rng)[0])
    for r in model.indexed_randoms.values():
        for flat, index in enumerate(all_indices(r.shape)):
            state[r.symbol(*index)] = float(draw(r.distributions[flat], 1, rng)[0])
    pending = dict(model.derived)
    while pending:  # derived lets may use one another; resolve in dependency order
        progressed = False
        for name, derived in list(pending.items()):
            value = derived.expr.xreplace(state)
            if value.is_number:
                state[derived.symbol()] = float(value)
                del pending[name]
                progressed = True
        if not progressed:
            raise ValueError(f"cannot evaluate derived quantities {sorted(pending)}")
    return state


def state_json(model: GameModel, state: dict[sp.Symbol, float]) -> dict[str, object]:
    out: dict[str, object] = {}
    for c in [*model.constants.values(), *model.randoms.values(), *model.derived.values()]:
        out[c.name] = state[c.symbol()]
    for r in model.indexed_randoms.values():
        out[r.name] = np.asarray([state[s] for s in r.symbols()]).reshape(r.shape).tolist()
    return out
