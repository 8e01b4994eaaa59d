"""Which types an optimal contract pools: neighbours along an allocation's type axis with equal levels.

The reduction does not assume that the relaxed optimum is implementable: monotone allocations
(x_0 <= ... <= x_{K-1}, or the reverse for cost types) are constraints of the reduced problem.
Where the virtual values are not monotone (Myerson 1981, Mussa-Rosen 1978) they bind, and the
optimum gives neighbouring types one allocation: ironing, as the discrete ironing of the
virtual surplus would. `solve` reports every such group so the user sees the pooling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechdsl.model import Model

POOLING_TOLERANCE = 1e-6  # relative to max(1, |level|): solver accuracy, not a modelling choice


@dataclass(frozen=True)
class PooledTypes:
    allocation: str
    history: tuple[int, ...]    # the leading indices (earlier reports) of the entries
    types: tuple[int, ...]      # consecutive types along the last axis with one level
    level: float
    at_bound: bool              # the common level is the allocation's bound (exclusion or cap)

    def describe(self) -> str:
        where = f"{self.allocation}[{', '.join(map(str, self.history))}, k]" if self.history else self.allocation
        why = "at its bound" if self.at_bound else "monotone allocations bind: the relaxed optimum is ironed"
        return f"{where}: types {self.types[0]}-{self.types[-1]} pooled at {self.level:.6g} ({why})"

    def as_dict(self) -> dict:
        return {"allocation": self.allocation, "history": list(self.history), "types": list(self.types),
                "level": self.level, "at_bound": self.at_bound}


def pooled_types(model: Model, contract: dict[str, float]) -> list[PooledTypes]:
    """Runs of at least two consecutive types whose allocations agree within POOLING_TOLERANCE."""
    groups = []
    for name, variable in model.variables.items():
        if variable.kind != "allocation":
            continue
        values = np.asarray([contract[s.name] for s in variable.symbols()], dtype=float).reshape(variable.shape)
        bounds = [b for b in (variable.lower, variable.upper) if b is not None]
        for history in np.ndindex(*variable.shape[:-1]):
            row = values[history]
            start = 0
            for k in range(1, len(row) + 1):
                if k < len(row) and abs(row[k] - row[start]) <= POOLING_TOLERANCE * max(1.0, abs(row[start])):
                    continue
                if k - start >= 2:
                    level = float(np.mean(row[start:k]))
                    at_bound = any(abs(level - b) <= POOLING_TOLERANCE * max(1.0, abs(b)) for b in bounds)
                    groups.append(PooledTypes(name, tuple(int(i) for i in history), tuple(range(start, k)),
                                              level, at_bound))
                start = k
    return groups
