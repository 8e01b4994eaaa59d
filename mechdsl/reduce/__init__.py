"""Symbolic reduction of contract constraints (stage 3 of the pipeline).

`derive(model)` runs the reduction chain and returns a `Derivation`: least-payment
rules in closed form, the constraints that bind, the residual constraints that stay in
the reduced problem, the single-crossing verdict and a timed log of the steps.
"""

from __future__ import annotations

from mechdsl.model import Model
from mechdsl.reduce.chain import Chain, ReductionRefused
from mechdsl.reduce.derivation import Derivation, Inequality
from mechdsl.reduce.screening import OrientationUndecided, screening_steps


def derive(model: Model, orientation: bool | None = None) -> Derivation:
    """`orientation` (True: lowest type's IR, False: highest's) is used only where the sign of
    du/dtheta is undecided, and then yields a relaxation to be certified (`screening.OrientationUndecided`)."""
    chain = Chain(screening_steps(model, orientation))
    derivation = chain.apply(Derivation(model))
    derivation.steps = chain.log
    return derivation


__all__ = ["Derivation", "Inequality", "OrientationUndecided", "ReductionRefused", "derive"]
