"""Named numerical tolerances shared by solve, codegen (rendered into generated code) and rl.

Bottom layer: no mechdsl imports, no torch. A literal tolerance elsewhere is a bug: name it here.
"""

from __future__ import annotations

VIOLATION_TOLERANCE = 1e-6
"""A contract violates its constraints when its worst violation max(0, -min slack) exceeds this:
the violation rate of an evaluation, the feasibility gate of the generated random baseline."""

CERTIFICATE_TOLERANCE = 1e-6
"""An exact solution is certified when its worst slack over every original constraint is at least
-this * max(1, largest |contract entry|) (`mechdsl.solve.exact.certified`); `solve` never returns
one that is not."""

LOCAL_FEASIBILITY_TOLERANCE = 1e-7
"""A local (SLSQP) solution of the reduced problem is feasible when every g >= -this."""

SINGULAR_DERIVATIVE_CAP = 1e8
"""A local solver's gradient or Jacobian entry that is infinite (d sqrt(T)/dT at T = 0) is
replaced by +-this, NaN by 0, so SLSQP steps off the singular bound instead of failing."""

SCS_ACCURACY = 1e-9
"""SCS's `eps` when Clarabel fails on an exact problem (SCS's default 1e-4 is far too loose)."""

SLSQP_ACCURACY = 1e-12
"""SLSQP's `ftol` on the reduced problem's objective."""

EQUILIBRIUM_GAIN_TOLERANCE = 1e-6
"""A Stackelberg equilibrium is certified when no player gains more than this fraction of its
utility by a unilateral deviation (`mechdsl.games.equilibrium`)."""

PROBABILITY_TOLERANCE = 1e-6
"""A row of a probability table sums to 1 within this, whether a spec writes it (`prob q[K] = [...]`,
the checker) or a state gives it (`mechdsl.api`)."""

RATIO_FLOOR = 1e-12
"""|optimum| below which an optimality ratio (value / optimum) is not reported."""

MAX_MAGNITUDE = 1e12
"""Largest |number| a spec or `--set` may give (constants, distribution arguments, types, bounds,
number literals): float64 solvers (Clarabel, SCS, SLSQP) square and multiply the problem's data,
and numbers near 1e300 overflow there. Smaller magnitudes, down to 0, are allowed."""
