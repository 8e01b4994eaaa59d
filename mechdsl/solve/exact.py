"""Exact optimum of a contract for one state: the oracle policies are scored against.

* `solve_unreduced`: allocations AND payments as free variables with every original
  constraint (all IR, IC at every history, IIC against every report with truthful later
  play — exact because later IC holds at every history), built in CVXPY from the SymPy
  model and solved with Clarabel when the problem is DCP.
* `solve_reduced`: the reduced problem of a `Derivation` (least-payment rules as an
  epigraph, monotone allocations, residual constraints); CVXPY when DCP, otherwise SciPy
  SLSQP over the allocations with the closed-form payments.
* `solve`: the unreduced problem when DCP, else the reduced one; certified either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import sympy as sp

from mechdsl.model import Model
from mechdsl.seeds import SLSQP_START_SEED
from mechdsl.reduce.derivation import Derivation
from mechdsl.solve.certificate import Certificate, certify
from mechdsl.solve.compile_cache import NUMPY_MODULES, IdentityCache
from mechdsl.solve.cvxpy_model import cvxpy_variables, original_constraints
from mechdsl.solve.to_cvxpy import NotConvexible, to_cvxpy
from mechdsl.tolerances import LOCAL_FEASIBILITY_TOLERANCE, SCS_ACCURACY, SLSQP_ACCURACY


@dataclass(frozen=True)
class Solution:
    contract: dict[str, float]   # decision symbol name -> value
    objective: float
    solver: str
    certificate: Certificate

    def arrays(self, model: Model) -> dict[str, list]:
        """Contract variables by spec name as nested lists (row = first-period report)."""
        out = {}
        for name, v in model.variables.items():
            flat = [self.contract[s.name] for s in v.symbols()]
            out[name] = np.asarray(flat).reshape(v.shape).tolist()
        return out


def numeric_substitution(model: Model, state: dict[str, float]) -> dict[sp.Symbol, sp.Float]:
    names = [*model.constants, *model.derived] + [s.name for s in model.state_symbols()]
    return {sp.Symbol(n, real=True): sp.Float(state[n]) for n in names}


def _objective(model: Model, numbers, variables):
    expr = to_cvxpy(model.objective.expr.xreplace(numbers), variables)
    return cp.Maximize(expr) if model.objective.sense == "maximize" else cp.Minimize(expr)


def _solve_cvxpy(problem: cp.Problem) -> None:
    try:
        problem.solve(solver=cp.CLARABEL)
    except cp.error.SolverError:
        problem.solve(solver=cp.SCS, eps=SCS_ACCURACY, max_iters=200000)


def _finish(model: Model, state: dict[str, float], contract: dict[str, float], solver: str) -> Solution:
    values = {k: np.array([v]) for k, v in state.items()}
    arrays = {k: np.array([v]) for k, v in contract.items()}
    certificate = certify(model, values, arrays)
    objective = float(model.objective.expr.xreplace(numeric_substitution(model, state))
                      .xreplace({sp.Symbol(k, real=True): sp.Float(v) for k, v in contract.items()}))
    return Solution(contract, objective, solver, certificate)


def _solve_convex(model: Model, state: dict[str, float], inequalities: list[sp.Expr], label: str) -> Solution | None:
    """Maximise/minimise the objective subject to bounds and `g >= 0` for each g, in CVXPY
    with the state's numbers substituted; None when the problem is not DCP."""
    numbers = numeric_substitution(model, state)
    variables, constraints = cvxpy_variables(model)
    try:
        objective = _objective(model, numbers, variables)
        for g in inequalities:
            constraints.append(to_cvxpy(g.xreplace(numbers), variables) >= 0)
    except NotConvexible:
        return None
    problem = cp.Problem(objective, constraints)
    if not problem.is_dcp():
        return None
    _solve_cvxpy(problem)
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise RuntimeError(f"the {label} problem ended with status {problem.status}")
    contract = {s.name: float(v.value) for s, v in variables.items()}
    return _finish(model, state, contract, f"cvxpy-{problem.solver_stats.solver_name.lower()} ({label})")


def solve_unreduced(model: Model, state: dict[str, float]) -> Solution | None:
    """The unreduced problem in CVXPY, or None when it is not DCP."""
    return _solve_convex(model, state, [g for _, g in original_constraints(model)], "unreduced")


def _reduced_cvxpy(derivation: Derivation, state: dict[str, float]) -> Solution | None:
    return _solve_convex(derivation.model, state, reduced_inequalities(derivation), "reduced")


def _complete(derivation: Derivation, state: dict[str, float], allocations: dict[str, float]) -> dict[str, float]:
    """Allocations -> full contract with least payments (the reduction's way back)."""
    from mechdsl.solve.state import evaluate

    values = {k: np.array([v]) for k, v in {**state, **allocations}.items()}
    contract = dict(allocations)
    for symbol, rule in derivation.rules.items():
        contract[symbol.name] = float(evaluate(rule, values)[0])
        values[symbol.name] = np.array([contract[symbol.name]])
    return contract


@dataclass(frozen=True)
class _SlsqpProgram:
    """The reduced problem as NumPy functions f(z, p) of the decisions z and the state's
    numbers p (constants, derived quantities, state entries, in `parameters` order), with the
    objective's gradient and the constraints' Jacobian differentiated symbolically: built once
    per derivation, so a state costs only SLSQP's own iterations (lambdify of the substituted
    expressions took ~2.4 s per state on examples/three_period.mech)."""

    decisions: tuple[sp.Symbol, ...]
    parameters: tuple[sp.Symbol, ...]
    objective: object
    gradient: object
    constraints: object
    jacobian: object


def _slsqp_program(derivation: Derivation) -> _SlsqpProgram:
    model = derivation.model
    zs = tuple(model.decision_symbols())
    sign = -1.0 if model.objective.sense == "maximize" else 1.0
    objective_expr = sign * model.objective.expr
    g = sp.Matrix(reduced_inequalities(derivation))
    parameters = tuple(sorted((objective_expr.free_symbols | g.free_symbols) - set(zs), key=lambda s: s.name))
    arguments = [list(zs), list(parameters)]
    compiled = lambda expr: sp.lambdify(arguments, expr, NUMPY_MODULES)  # noqa: E731
    return _SlsqpProgram(zs, parameters, compiled(objective_expr), compiled([sp.diff(objective_expr, z) for z in zs]),
                         compiled(g), compiled(g.jacobian(zs)))


def _reduced_scipy(derivation: Derivation, state: dict[str, float], starts: int = 3, seed: int = SLSQP_START_SEED) -> Solution:
    """SLSQP on the reduced constraint set over allocations AND payments (payments may exceed
    the least-payment rule, which matters in dynamic contracts), started from least-payment
    contracts; local, so it is reported as such when the problem is not convex."""
    from scipy.optimize import minimize

    model = derivation.model
    program = _SLSQP_PROGRAMS.get(id(derivation), derivation, lambda: _slsqp_program(derivation))
    zs = program.decisions
    p = [float(state[s.name]) for s in program.parameters]
    objective = lambda z: program.objective(z, p)  # noqa: E731
    gradient = lambda z: program.gradient(z, p)  # noqa: E731
    constraint = {"type": "ineq", "fun": lambda z: np.asarray(program.constraints(z, p), dtype=float).ravel(),
                  "jac": lambda z: np.asarray(program.jacobian(z, p), dtype=float)}
    bounds = []
    for z in zs:
        var = next(v for v in model.variables.values() if z in v.symbols())
        bounds.append((var.lower, var.upper))
    rng = np.random.default_rng(seed)
    best = None
    for attempt in range(starts):
        allocations = {}
        for v in model.variables.values():
            if v.kind != "allocation":
                continue
            hi = v.upper if v.upper is not None else v.lower + 10.0
            levels = np.sort(rng.uniform(v.lower, hi, v.shape), axis=-1) if attempt else \
                np.broadcast_to(np.linspace(v.lower, hi, v.shape[-1] + 2)[1:-1], v.shape)
            for index, symbol in zip(np.ndindex(*v.shape), v.symbols()):
                allocations[symbol.name] = float(levels[index])
        start = _complete(derivation, state, allocations)
        z0 = np.array([start[z.name] for z in zs])
        with np.errstate(divide="ignore", invalid="ignore"):
            result = minimize(lambda z: float(objective(z)), z0, method="SLSQP", bounds=bounds,
                              jac=lambda z: np.asarray(gradient(z), dtype=float), constraints=[constraint],
                              options={"maxiter": 1000, "ftol": SLSQP_ACCURACY})
        feasible = bool(np.all(constraint["fun"](result.x) >= -LOCAL_FEASIBILITY_TOLERANCE))
        if feasible and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise RuntimeError("SciPy found no feasible point of the reduced problem")
    contract = {z.name: float(v) for z, v in zip(zs, best.x)}
    return _finish(model, state, contract, "scipy-slsqp (reduced; local optimum, problem not DCP)")


def reduced_inequalities(derivation: Derivation) -> list[sp.Expr]:
    return [c.g for c in [*derivation.monotone, *derivation.reduced, *derivation.declared()]]


def solve_reduced(derivation: Derivation, state: dict[str, float], compiled: bool = True) -> Solution:
    """The reduced problem: compiled once per derivation (DPP) when possible, else CVXPY per
    state, else SciPy."""
    if compiled:
        from mechdsl.solve.parametric import oracle

        program = _REDUCED_ORACLES.get(id(derivation), derivation,
                                 lambda: oracle(derivation.model, reduced_inequalities(derivation)))
        if program is not None:
            _, contract = program.solve_state(state)
            return _finish(derivation.model, state, contract, "cvxpy-clarabel (reduced, compiled)")
    return _reduced_cvxpy(derivation, state) or _reduced_scipy(derivation, state)


# One cache per kind of program, so a model that needs all four (not DCP: its derivation, the
# reduced oracle and the SLSQP program) does not evict the other models' entries.
_ORACLES, _DERIVATIONS, _REDUCED_ORACLES, _SLSQP_PROGRAMS = (IdentityCache(8) for _ in range(4))


def compiled_oracle(model: Model):
    """The model's parametric (DPP) oracle, built once per model object; None if unavailable."""
    from mechdsl.solve.parametric import oracle

    return _ORACLES.get(id(model), model, lambda: oracle(model))


def solve(model: Model, state: dict[str, float], derivation: Derivation | None = None) -> Solution:
    """The exact optimum: the unreduced problem when DCP (compiled once per model with CVXPY
    parameters when it is DPP), else the reduced problem. Always certified."""
    compiled = compiled_oracle(model)
    if compiled is not None:
        try:
            _, contract = compiled.solve_state(state)
            return _finish(model, state, contract, "cvxpy-clarabel (unreduced, compiled)")
        except (cp.error.SolverError, RuntimeError):
            pass  # Clarabel can stall on badly scaled states (seen for K = 5): SCS below
    solution = solve_unreduced(model, state)
    if solution is not None:
        return solution
    if derivation is None:  # derived once per model, so the reduced problem's compiled programs are reused
        from mechdsl.reduce import derive

        derivation = _DERIVATIONS.get(id(model), model, lambda: derive(model))
    return solve_reduced(derivation, state)
