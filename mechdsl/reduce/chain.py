"""The reduction chain: small steps, each with a precondition and a rewrite, logged in order.

Modelled on CVXPY's `Reduction`/`Chain`: `accepts(problem)` states the precondition and
`apply(problem)` returns the rewritten problem with a record of what the step assumed,
proved and left as residual. The chain logs every record with its timing. (A derivation
is mapped back by its payment rules, `Derivation.closed_form`, so no step needs CVXPY's
`invert`.)
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from mechdsl.errors import MechdslError


@dataclass
class StepRecord:
    name: str
    seconds: float
    assumed: list[str] = field(default_factory=list)
    proved: list[str] = field(default_factory=list)
    residual: list[str] = field(default_factory=list)


class Reduction(ABC):
    """A step of the chain. `accepts` defaults to no precondition; `apply` is the rewrite."""

    name: str

    def accepts(self, problem: Any) -> tuple[bool, str]:
        return True, ""

    @abstractmethod
    def apply(self, problem: Any) -> tuple[Any, StepRecord]: ...


class ReductionRefused(MechdslError):
    """A step's precondition does not hold; the message says why in the user's terms. A user
    error (exit 2): the CLI points it at the spec's `utility` statement (`statement` names the
    statement kind the refusal is about), and `mechdsl.solve.exact.solve` falls back to the
    unreduced problem."""

    statement = "UtilityDecl"

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint or "check the utility (single crossing, invertible in the payment) and the "
                                          "constraints; `mechdsl solve` solves the unreduced problem instead")


@dataclass
class Chain:
    steps: list[Reduction]
    log: list[StepRecord] = field(default_factory=list)

    def apply(self, problem: Any) -> Any:
        for step in self.steps:
            ok, why = step.accepts(problem)
            if not ok:
                raise ReductionRefused(f"{step.name}: {why}")
            start = time.perf_counter()
            problem, record = step.apply(problem)
            record.seconds = time.perf_counter() - start
            self.log.append(record)
        return problem
