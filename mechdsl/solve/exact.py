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

import dataclasses
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import sympy as sp

from mechdsl.errors import MechdslError, ReferenceUnavailable
from mechdsl.model import Model
from mechdsl.seeds import SLSQP_START_SEED
from mechdsl.reduce.chain import ReductionRefused
from mechdsl.reduce.screening import OrientationUndecided
from mechdsl.reduce.derivation import Derivation
from mechdsl.solve.certificate import Certificate, certify
from mechdsl.solve.compile_cache import NUMPY_MODULES, IdentityCache
from mechdsl.solve.convex_solve import solve_convex
from mechdsl.solve.float_range import out_of_float_range
from mechdsl.solve.state import evaluate
from mechdsl.solve.cvxpy_model import cvxpy_variables, original_constraints
from mechdsl.solve.to_cvxpy import NotConvexible, to_cvxpy
from mechdsl.tolerances import CERTIFICATE_TOLERANCE, LOCAL_FEASIBILITY_TOLERANCE, SINGULAR_DERIVATIVE_CAP, SLSQP_ACCURACY


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


def _finish(model: Model, state: dict[str, float], contract: dict[str, float], solver: str) -> Solution:
    # Solvers return entries a hair outside their declared bounds (s = -1e-12 for s >= 0), where
    # a fractional power s^(1 - beta) is complex: every entry is clipped into its bounds first.
    bounds = {s.name: (v.lower, v.upper) for v in model.variables.values() for s in v.symbols()}
    contract = {k: float(np.clip(x, *bounds[k])) if k in bounds else x for k, x in contract.items()}
    values = {k: np.array([v]) for k, v in state.items()}
    arrays = {k: np.array([v]) for k, v in contract.items()}
    certificate = certify(model, values, arrays)
    value = objective_value(model, state, contract)
    if not np.isfinite(value):
        # s^(-beta) at s = 0, or a division by a constant that is 0: no optimum to report
        raise ReferenceUnavailable(
            f"no exact optimum for {model.name} at this state: its objective is not a finite real number at the "
            f"contract {solver} found ({_state_text(contract)}; state: {_state_text(state)})", state,
            hint="the objective may be unbounded on the bounds, or undefined there (a negative power or a log "
                 "of a decision that may be 0, a division by zero); check the objective and the bounds")
    return Solution(contract, value, solver, certificate)


def objective_value(model: Model, state: dict[str, float], contract: dict[str, float]) -> float:
    """The objective at a state (constants, derived quantities and state entries by name) and a
    contract, in float64 by the objective's NumPy function (`mechdsl.solve.state.evaluate`, one
    lambdify per expression). SymPy substitution of the numbers took most of an exact solve: with
    it one state of specs/two_period.mech took 0.116 s at K = 5 and 0.021 s at K = 2, without
    it 0.030 s and 0.007 s (the same to 2e-15 relative). NaN or inf where the objective is no
    finite real number there: a fractional power or a log of a negative number, a division by 0
    (NumPy numbers, so 0.0^(-1/2) is inf, not Python's ZeroDivisionError)."""
    with np.errstate(all="ignore"):
        return float(evaluate(model.objective.expr, {k: np.float64(v) for k, v in {**state, **contract}.items()}))


def _state_text(state: dict[str, float]) -> str:
    return ", ".join(f"{name} = {value:.6g}" for name, value in state.items())


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
    try:
        solve_convex(problem)
    except (cp.error.SolverError, ValueError, ArithmeticError) as error:  # SCS too: NaN/Inf or huge data
        raise ReferenceUnavailable(
            f"no exact optimum for {model.name} at this state: the solver failed on the {label} problem's numbers "
            f"({error}; state: {_state_text(state)})", state,
            hint="numbers far apart in magnitude break float64 solvers; rescale the spec's units") from None
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise ReferenceUnavailable(
            f"no exact optimum for {model.name} at this state: the {label} problem is {problem.status} "
            f"(state: {_state_text(state)})", state,
            hint="an infeasible problem has no contract meeting every constraint at these numbers (check the "
                 "signs of the utilities and the bounds); an unbounded one lacks a bound on some contract item")
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


def _slsqp_program(model: Model, inequalities: list[sp.Expr]) -> _SlsqpProgram:
    """`max/min objective s.t. g >= 0 for g in inequalities` over every decision, compiled."""
    zs = tuple(model.decision_symbols())
    sign = -1.0 if model.objective.sense == "maximize" else 1.0
    objective_expr = sign * model.objective.expr
    g = sp.Matrix(inequalities)
    parameters = tuple(sorted((objective_expr.free_symbols | g.free_symbols) - set(zs), key=lambda s: s.name))
    arguments = [list(zs), list(parameters)]
    compiled = lambda expr: sp.lambdify(arguments, expr, NUMPY_MODULES)  # noqa: E731
    return _SlsqpProgram(zs, parameters, compiled(objective_expr), compiled([sp.diff(objective_expr, z) for z in zs]),
                         compiled(g), compiled(g.jacobian(zs)))


def _finite(values) -> np.ndarray:
    """`values` as floats with non-finite entries made finite for a local solver: NaN -> 0 and
    +-inf -> +-SINGULAR_DERIVATIVE_CAP. A derivative that is infinite at a bound (d sqrt(T)/dT
    at T = 0) then pushes the iterate off the bound instead of stopping SLSQP's QP."""
    return np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=SINGULAR_DERIVATIVE_CAP,
                         neginf=-SINGULAR_DERIVATIVE_CAP)


@dataclass(frozen=True)
class _LocalProblem:
    """The reduced problem at one state as SciPy callables: minimise `objective(z)` subject to
    `constraints(z) >= 0` and `bounds`, z = every decision (allocations AND payments)."""

    decisions: tuple[sp.Symbol, ...]
    objective: object
    gradient: object
    constraints: object
    jacobian: object
    bounds: list[tuple[float, float | None]]

    def is_feasible(self, z: np.ndarray) -> bool:
        with np.errstate(all="ignore"):
            g = np.asarray(self.constraints(z), dtype=float)
        inside = all((lo is None or zi >= lo - LOCAL_FEASIBILITY_TOLERANCE) and (hi is None or zi <= hi + LOCAL_FEASIBILITY_TOLERANCE)
                     for zi, (lo, hi) in zip(z, self.bounds))
        return inside and bool(np.all(np.isfinite(g))) and bool(np.all(g >= -LOCAL_FEASIBILITY_TOLERANCE))


def _local_problem(model: Model, program: _SlsqpProgram, state: dict[str, float]) -> _LocalProblem:
    p = [float(state[s.name]) for s in program.parameters]
    bounds = []
    for z in program.decisions:
        var = next(v for v in model.variables.values() if z in v.symbols())
        bounds.append((var.lower, var.upper))
    return _LocalProblem(
        program.decisions,
        objective=lambda z: float(program.objective(z, p)),
        gradient=lambda z: _finite(program.gradient(z, p)),
        constraints=lambda z: _finite(np.asarray(program.constraints(z, p), dtype=float).ravel()),
        jacobian=lambda z: _finite(program.jacobian(z, p)),
        bounds=bounds)


def _allocation_levels(model: Model, rng: np.random.Generator, how: str) -> dict[str, float]:
    """Monotone allocations to start a local solve from (each feasible with least payments):
    "spread" = evenly spaced levels inside the bounds, "pooled" = one level for every type (the
    pooled menu), "random" = sorted uniform draws."""
    allocations = {}
    for v in model.variables.values():
        if v.kind != "allocation":
            continue
        hi = v.upper if v.upper is not None else v.lower + 10.0
        if how == "random":
            levels = np.sort(rng.uniform(v.lower, hi, v.shape), axis=-1)
        elif how == "pooled":
            levels = np.full(v.shape, v.lower + 0.5 * (hi - v.lower))
        else:
            levels = np.broadcast_to(np.linspace(v.lower, hi, v.shape[-1] + 2)[1:-1], v.shape)
        for index, symbol in zip(np.ndindex(*v.shape), v.symbols()):
            allocations[symbol.name] = float(levels[index])
    return allocations


def _least_payment_contract(derivation: Derivation, state: dict[str, float],
                            allocations: dict[str, float]) -> dict[str, float] | None:
    """`allocations` with the derivation's least payments (a feasible start of the reduced
    problem when the allocations are monotone); None where the payment rules are not finite."""
    with np.errstate(all="ignore"):
        contract = _complete(derivation, state, allocations)
    return contract if all(np.isfinite(v) for v in contract.values()) else None


def _run_local(problem: _LocalProblem, z0: np.ndarray, method: str):
    """One local solve from z0 (SLSQP, or trust-constr as the second method); None when the
    method itself breaks down (a singular or non-finite step)."""
    from scipy.optimize import NonlinearConstraint, minimize

    if method == "SLSQP":
        constraints = [{"type": "ineq", "fun": problem.constraints, "jac": problem.jacobian}]
        options = {"maxiter": 1000, "ftol": SLSQP_ACCURACY}
    else:
        constraints = [NonlinearConstraint(problem.constraints, 0.0, np.inf, jac=problem.jacobian)]
        options = {"maxiter": 3000, "gtol": SLSQP_ACCURACY, "xtol": SLSQP_ACCURACY}
    bounds = [(lo, np.inf if hi is None else hi) for lo, hi in problem.bounds] if method != "SLSQP" else problem.bounds
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return minimize(problem.objective, z0, method=method, jac=problem.gradient, bounds=bounds,
                            constraints=constraints, options=options)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None


def _reduced_scipy(derivation: Derivation, state: dict[str, float], starts: int = 3, seed: int = SLSQP_START_SEED) -> Solution:
    """The reduced problem over allocations AND payments (payments may exceed the least-payment
    rule, which matters in dynamic contracts) by local solves; reported as local since the
    problem is not convex. The best feasible result over SLSQP runs from the least-payment
    contracts of a spread, a pooled and `starts - 1` random monotone allocations (each start is
    feasible); only if none ends feasible: SLSQP from the previous state's solution, then
    trust-constr from every start. Deterministic whenever the first round succeeds. Raises
    `ReferenceUnavailable` (a user error naming the state) when every start and method fails."""
    model = derivation.model
    program = _SLSQP_PROGRAMS.get(id(derivation), derivation,
                                  lambda: _slsqp_program(model, reduced_inequalities(derivation)))
    problem = _local_problem(model, program, state)
    rng = np.random.default_rng(seed)
    kinds = ["spread", "pooled", *["random"] * max(starts - 1, 0)]
    contracts = [c for how in kinds
                 if (c := _least_payment_contract(derivation, state, _allocation_levels(model, rng, how))) is not None]
    z0s = [np.array([c[z.name] for z in problem.decisions], dtype=float) for c in contracts]
    previous = _PREVIOUS_SOLUTIONS.get(id(derivation), derivation, dict)
    rounds = [("SLSQP", z0s), ("SLSQP", [previous["z"]] if "z" in previous else []), ("trust-constr", z0s)]
    best, method = None, None
    for method, starts_of_round in rounds:
        best = _best_feasible(problem, starts_of_round, method)
        if best is not None:
            break
    if best is None:
        raise ReferenceUnavailable(
            f"no exact reference for {model.name} at this state: the reduced problem is not convex and "
            f"{len(z0s)} local starts of SLSQP and trust-constr found no feasible point "
            f"(state: {_state_text(state)})", state,
            hint="the state may be infeasible, or badly scaled for a local solver; `mechdsl solve` with this "
                 "state's --set values shows the derivation, and a narrower parameter range avoids it")
    previous["z"] = best.x
    contract = {z.name: float(v) for z, v in zip(problem.decisions, best.x)}
    return _finish(model, state, contract, f"scipy-{method.lower()} (reduced; local optimum, problem not DCP)")


def _best_feasible(problem: _LocalProblem, z0s: list[np.ndarray], method: str):
    """The lowest-objective result of `method` from each start that ends feasible; None if none does."""
    best = None
    for z0 in z0s:
        result = _run_local(problem, z0, method)
        if result is None or not np.all(np.isfinite(result.x)) or not problem.is_feasible(result.x):
            continue
        if best is None or result.fun < best.fun:
            best = result
    return best


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
_ORACLES, _DERIVATIONS, _REDUCED_ORACLES, _SLSQP_PROGRAMS, _UNREDUCED_PROGRAMS, _PREVIOUS_SOLUTIONS = (
    IdentityCache(8) for _ in range(6))


def compiled_oracle(model: Model):
    """The model's parametric (DPP) oracle, built once per model object; None if unavailable."""
    from mechdsl.solve.parametric import oracle

    return _ORACLES.get(id(model), model, lambda: oracle(model))


def certified(solution: Solution) -> bool:
    """Whether every original constraint holds at the solution: worst slack >= -CERTIFICATE_TOLERANCE
    * max(1, largest |contract entry|) (slacks are in the units of the utilities, which scale with
    the contract's entries)."""
    scale = max([1.0, *(abs(v) for v in solution.contract.values() if np.isfinite(v))])
    return bool(np.isfinite(solution.certificate.worst)) and solution.certificate.worst >= -CERTIFICATE_TOLERANCE * scale


def _unreduced_local(model: Model, state: dict[str, float], starts: list[dict[str, float]]) -> Solution | None:
    """Every original constraint (IR, IC and IIC against every report, bounds, declared ones) by
    local solves from `starts` (full contracts), each start also with every payment raised by
    one unit, so an IR the reduction left slack can bind; the best result whose certificate
    holds, or None."""
    program = _UNREDUCED_PROGRAMS.get(id(model), model,
                                      lambda: _slsqp_program(model, [g for _, g in original_constraints(model)]))
    problem = _local_problem(model, program, state)
    payments = {s.name for v in model.variables.values() if v.kind != "allocation" for s in v.symbols()}
    z0s = []
    for start in starts:
        z0 = np.array([start.get(z.name, 0.0) for z in problem.decisions], dtype=float)
        raised = z0 + np.array([1.0 if z.name in payments else 0.0 for z in problem.decisions])
        z0s += [np.clip(z, [lo for lo, _ in problem.bounds], [np.inf if hi is None else hi for _, hi in problem.bounds])
                for z in (z0, raised) if np.all(np.isfinite(z))]
    results = []
    for method in ("SLSQP", "trust-constr"):
        for z0 in z0s:
            result = _run_local(problem, z0, method)
            if result is not None and np.all(np.isfinite(result.x)) and problem.is_feasible(result.x):
                results.append((result.fun, method, result.x))
        if results:
            break
    for _, method, x in sorted(results, key=lambda r: r[0]):
        contract = {z.name: float(v) for z, v in zip(problem.decisions, x)}
        solution = _finish(model, state, contract, f"scipy-{method.lower()} (unreduced; local optimum, problem not DCP)")
        if certified(solution):
            return solution
    return None


def _solve_unchecked(model: Model, state: dict[str, float], derivation: Derivation | None) -> Solution:
    """The unreduced problem when DCP (compiled once per model with CVXPY parameters when it
    is DPP), else the reduced problem; its certificate is not yet judged."""
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
    return solve_reduced(_derivation_of(model, derivation), state)


def _derivation_of(model: Model, derivation: Derivation | None) -> Derivation:
    if derivation is not None:
        return derivation
    from mechdsl.reduce import derive  # derived once per model, so its compiled programs are reused

    return _DERIVATIONS.get(id(model), model, lambda: derive(model))


MAX_ITEM_CONSTRAINTS = 20_000
"""Most IR/IC/IIC constraints `solve` builds: the unreduced problem, and the certificate of any
answer, hold one constraint per (type, report) pair at every history, sum_t K^(t-1) K^2 of them,
each a SymPy expression translated to CVXPY. static_contract at K = 100 (10,000 of them) takes
about a minute and 0.7 GB, so K = 1000 (10^6) would take hours and tens of GB."""


def item_constraint_count(model: Model) -> int:
    """sum over periods t of K^(t-1) histories x K types x K reports (IR and IC/IIC)."""
    return sum(model.K ** (t - 1) * model.K ** 2 for t in range(1, len(model.periods) + 1))


def solve(model: Model, state: dict[str, float], derivation: Derivation | None = None) -> Solution:
    """The exact optimum, certified (`_certified_solve`); numbers beyond float64 at this state
    (an `ArithmeticError` in the numeric solve) are a `FloatRangeExceeded` naming the statement."""
    try:
        return _certified_solve(model, state, derivation)
    except (OverflowError, ZeroDivisionError) as error:
        raise out_of_float_range(model, state, numeric_substitution(model, state), error) from error


def _certified_solve(model: Model, state: dict[str, float], derivation: Derivation | None) -> Solution:
    """The exact optimum, certified: `_solve_unchecked`, and where its certificate fails (a
    reduction whose assumptions do not hold for this model: a binding IR or IC it did not
    expect) or it found nothing, local solves of the UNREDUCED problem started from it and
    from the least-payment contracts. Raises `ReferenceUnavailable` (exit 2), naming the
    violated constraint, when no certified contract is found, and before building anything
    when the problem has more than MAX_ITEM_CONSTRAINTS constraints."""
    count = item_constraint_count(model)
    if count > MAX_ITEM_CONSTRAINTS:
        raise ReferenceUnavailable(
            f"no exact optimum for {model.name} at K = {model.K}: its {len(model.periods)}-period contract has "
            f"{count} IR/IC constraints, beyond solve's limit of {MAX_ITEM_CONSTRAINTS} (each is built symbolically "
            f"and certified; K = 100 of a static contract, 10,000 constraints, already takes about a minute)", state,
            hint=f"solve a smaller K (at most {MAX_ITEM_CONSTRAINTS} constraints); `mechdsl derive` gives the least-payment rules at this K")
    first, failure = None, None
    try:
        first = _solve_unchecked(model, state, derivation)
    except (ReferenceUnavailable, ReductionRefused) as error:  # refused: e.g. single crossing fails
        failure = error
    if first is not None and certified(first):
        return first
    if isinstance(failure, OrientationUndecided):
        relaxed = _relaxation_solve(model, state)
        if relaxed is not None:
            return relaxed
    starts = [] if first is None else [first.contract]
    if model.objective is not None and not _is_convex_model(model):
        starts += _least_payment_starts(model, state, derivation) if not isinstance(failure, ReductionRefused) \
            else _bound_starts(model)
    fallback = _unreduced_local(model, state, starts) if starts else None
    if fallback is not None:
        if isinstance(failure, ReductionRefused):
            return dataclasses.replace(fallback, solver=f"{fallback.solver}; the reduction was refused: {failure}")
        return fallback
    if isinstance(failure, ReductionRefused):
        raise ReferenceUnavailable(
            f"no certified optimum for {model.name} at this state: the reduction was refused ({failure}) and local "
            f"solves of the unreduced problem found no feasible contract (state: {_state_text(state)})", state,
            hint="check the utility and the constraints; `mechdsl derive` says why the reduction was refused")
    if first is None:
        raise failure
    c = first.certificate
    raise ReferenceUnavailable(
        f"no certified optimum for {model.name} at this state: the solution of {first.solver} violates "
        f"{c.where} (worst slack {c.worst:.3g}), and local solves of the unreduced problem found no feasible "
        f"contract (state: {_state_text(state)})", state,
        hint="the reduction's assumptions (single crossing, which IR binds) may not hold for this spec, or the "
             "constraints admit no contract at these numbers; `mechdsl derive` shows what the reduction assumed")


_RELAXATIONS = IdentityCache(8)


def _relaxation_solve(model: Model, state: dict[str, float]) -> Solution | None:
    """Where du/dtheta has both signs on the declared ranges, the reduced problem of either
    orientation (one end type's IR, every local IC both ways, monotone allocations) is a
    relaxation of the original: each of its constraints is an original one or implied by two
    (single crossing). A reduced optimum that passes the certificate on every original constraint
    is therefore optimal; the better certified one of the two orientations, or None."""
    best, end = None, None
    sign = 1.0 if model.objective.sense == "maximize" else -1.0
    for rises in (True, False):
        try:
            derivation = _RELAXATIONS.get((id(model), rises), model, lambda: derive_with(model, rises))
            solution = solve_reduced(derivation, state)
        except (ReductionRefused, ReferenceUnavailable):
            continue
        if certified(solution) and (best is None or sign * solution.objective > sign * best.objective):
            best, end = solution, "lowest" if rises else "highest"
    if best is None:
        return None
    return dataclasses.replace(best, solver=f"{best.solver}; orientation undecided on the declared ranges: the reduced "
                                            f"problem with the {end} type's IR is a relaxation, and its optimum is "
                                            "certified on every original constraint")


def derive_with(model: Model, rises: bool) -> Derivation:
    from mechdsl.reduce import derive

    return derive(model, orientation=rises)


def _is_convex_model(model: Model) -> bool:
    """Whether the unreduced problem is DCP (then no local start is needed)."""
    return compiled_oracle(model) is not None


def _bound_starts(model: Model) -> list[dict[str, float]]:
    """Contracts to start the unreduced local solve from when there is no derivation: a spread
    and a pooled allocation, each with every payment at its lower bound (infeasible starts
    are fine for SLSQP; `_unreduced_local` adds the same with payments raised by one unit)."""
    rng = np.random.default_rng(SLSQP_START_SEED)
    starts = []
    for how in ("spread", "pooled"):
        contract = _allocation_levels(model, rng, how)
        for v in model.variables.values():
            if v.kind != "allocation":
                contract.update({s.name: float(v.lower) for s in v.symbols()})
        starts.append(contract)
    return starts


def _least_payment_starts(model: Model, state: dict[str, float], derivation: Derivation | None) -> list[dict[str, float]]:
    """Full contracts to start the unreduced local solve from: the derivation's least payments of
    a spread and a pooled allocation (empty where the model cannot be derived)."""
    try:
        derivation = _derivation_of(model, derivation)
    except MechdslError:
        return []
    rng = np.random.default_rng(SLSQP_START_SEED)
    return [c for how in ("spread", "pooled")
            if (c := _least_payment_contract(derivation, state, _allocation_levels(model, rng, how))) is not None]
