"""The reduction chain: small steps, each with a precondition, a rewrite and a way back.

Modelled on CVXPY's `Reduction`/`Chain`: `accepts(problem)` states the precondition,
`apply(problem)` returns the rewritten problem and the data needed to map back, and
`invert(solution, data)` maps a solution of the rewritten problem to the user's variables.
The chain records what every step assumed, proved and left as residual, with timings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class StepRecord:
    name: str
    seconds: float
    assumed: list[str] = field(default_factory=list)
    proved: list[str] = field(default_factory=list)
    residual: list[str] = field(default_factory=list)


class Reduction(Protocol):
    name: str

    def accepts(self, problem: Any) -> tuple[bool, str]: ...
    def apply(self, problem: Any) -> tuple[Any, Any, StepRecord]: ...
    def invert(self, solution: dict, data: Any) -> dict: ...


class ReductionRefused(Exception):
    """A step's precondition does not hold; the message says why in the user's terms."""


@dataclass
class Chain:
    steps: list
    log: list[StepRecord] = field(default_factory=list)

    def apply(self, problem: Any) -> tuple[Any, list]:
        inverse_data = []
        for step in self.steps:
            ok, why = step.accepts(problem)
            if not ok:
                raise ReductionRefused(f"{step.name}: {why}")
            start = time.perf_counter()
            problem, data, record = step.apply(problem)
            record.seconds = time.perf_counter() - start
            self.log.append(record)
            inverse_data.append(data)
        return problem, inverse_data

    def invert(self, solution: dict, inverse_data: list) -> dict:
        for step, data in reversed(list(zip(self.steps, inverse_data))):
            solution = step.invert(solution, data)
        return solution
