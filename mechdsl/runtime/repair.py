"""The feasibility repair of a generated contract env: what it deploys for a proposal.

A feasible proposal is deployed as it is. An infeasible one (a residual constraint the
action map could not build in fails) first keeps its allocations and gets the best feasible
payments for them (`optimal_payments`: a linear program in the payments, when the utility
and the objective are affine in them); where that fails it is shrunk toward the pooled menu
x_ref (one item per period, feasible with least payments): x_ref + lambda* (x - x_ref), slack
lambda* d, lambda* the largest feasible lambda in [0, 1] found by REPAIR_STEPS bisection
steps. Values are the repaired contract's. Gradients: where the LP fixed the payments, those of
the repaired value itself, V(x) = max_y r(x, y) s.t. g(x, y) >= 0 for the proposed
allocations x: by the envelope theorem dV/dx = dr/dx + z^T dg/dx at the LP's solution y* with
its multipliers z (the allocations keep the proposal's gradient, the payments are the LP's
constants, and `multiplier_term` adds z^T g(x, y*) with value 0; an LP at the edge of
feasibility has no usable z, `bounded_multipliers`); elsewhere the proposal's
(straight-through, lambda* held constant).

In the payment mode OPTIMAL_PAYMENTS (`mechdsl.runtime.contract_env`) every state, feasible or
not, gets the LP's payments for its allocations: the LP is then the action map's, not a repair.

The spec-dependent parts come in as `ContractFunctions`, the generated module's own
functions, looked up when the generated `_repair` runs.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch

from mechdsl.runtime.action_map import toward
from mechdsl.runtime.batching import columns_of, straight_through
from mechdsl.runtime.certificate import ROUNDING_ULPS
from mechdsl.runtime.dual_simplex import solve_payment_lps

REPAIR_STEPS = 16  # bisection steps of the feasibility repair: lambda* within 2^-16 of the boundary
REPAIR_MARGIN = 1e-10  # the payment LP tightens each constraint by this fraction of its scale
REPAIR_CHUNK = 1024  # states per batch of payment LPs
MULTIPLIER_BOUND = 1e6  # multipliers above this x (1 + |reward coefficients|) mark an LP at the edge of feasibility
PAYMENTS_FROM_ACTION = "action"  # payment mode: the action's slack entries place the payments in their ranges
OPTIMAL_PAYMENTS = "optimal"  # payment mode: the action holds the allocations, an LP per state pays for them
PAYMENT_MODES = (PAYMENTS_FROM_ACTION, OPTIMAL_PAYMENTS)
# A spec's payment mode when its train block does not fix one: the learner's choice
# (`mechdsl.rl.payment_mode`); an env built without a learner pays from the action.
AUTO_PAYMENTS = "auto"
ENVELOPE = "envelope"  # key of the repair record's zero-valued multiplier term, which `evaluate` adds to the objective


class ContractFunctions(NamedTuple):
    """The spec-dependent functions of a generated contract env that the repair calls.

    score(quantities, decisions, items) -> (objective, violation, utilities);
    violation(quantities, allocations, slack) -> violation of the contract they map to;
    contract_of(quantities, allocations, slack) -> every contract item (B,);
    optimal_payments(quantities, decisions, columns) -> `PaymentProgram` (or, from packages
    compiled before the multipliers, (payments, solved)), or None where the payments do not
    enter affinely (no LP);
    pooling: the (action_dim, action_dim) matrix of per-allocation means; maximize: the sense;
    objective_and_slacks(quantities, decisions, items, truthful_later_play) -> (objective,
    slacks, utilities): the certificate the LP was read off (None in older packages: the
    repaired value then passes the proposal's gradient, without the multiplier term)."""

    score: Callable
    violation: Callable
    contract_of: Callable
    optimal_payments: Callable | None
    pooling: torch.Tensor
    payment_columns: tuple[int, ...]
    maximize: bool
    objective_and_slacks: Callable | None = None


class PaymentProgram(NamedTuple):
    """The payment LPs of F states: payments (n, F), solved (F,), and multipliers (m, F) >= 0
    of every certificate slack row (with truthful later play), 0 on rows no payment enters."""

    payments: torch.Tensor
    solved: torch.Tensor
    multipliers: torch.Tensor


def payment_program(quantities, decisions: torch.Tensor, columns: torch.Tensor, payment_columns: tuple[int, ...],
                    objective_and_slacks: Callable, state_quantities: Callable, maximize: bool,
                    solve: Callable = solve_payment_lps) -> PaymentProgram:
    """The payments (len(payment_columns), F) that maximise the reward for the allocations of
    `decisions` (len(CONTRACT_LAYOUT), B) at `columns` (F states), subject to every original
    constraint. The utility and the objective are affine in the payments, so every slack of the
    certificate with truthful later play (`objective_and_slacks(..., True)`) is s = A y + c: A
    and c are read off it at y = 0 and the unit vectors (float64), and
    `solve` (`mechdsl.runtime.dual_simplex.solve_payment_lps`: a dual simplex from the least
    solution of the difference constraints, the interior-point method and HiGHS where it does not
    certify an optimum; or any solver with `solve_linear_reliably`'s arguments and result)
    solves the LP, with each constraint
    tightened by REPAIR_MARGIN of its scale so the result passes the certificate. Also returns,
    per state, whether the LP was solved (False: no payments make the allocations feasible), and
    the LP's multipliers on the certificate's slack rows."""
    n, width = len(payment_columns), columns.shape[0]
    state = quantities[0][:, columns].t().to(torch.float64).repeat(n + 1, 1)  # block k: probe k
    probe = decisions[:, columns].to(torch.float64).repeat(1, n + 1)
    unit = torch.cat([torch.zeros(n, 1, dtype=torch.float64), torch.eye(n, dtype=torch.float64)], 1)
    probe[list(payment_columns)] = unit.to(probe.device).repeat_interleave(width, 1)
    objective, slacks, _ = objective_and_slacks(state_quantities(state), probe, probe.unbind(0), True)
    reward = (objective if maximize else -objective).reshape(n + 1, width)
    slacks = slacks.reshape(-1, n + 1, width)
    c = slacks[:, 0]                                          # (m, F)
    # (m, F): the constraint involves a payment (A = slacks[:, 1:] - c has a nonzero entry and no
    # NaN): some probe's slack differs from c, none is NaN (amax and amin propagate NaN)
    highest, lowest = slacks[:, 1:].amax(1), slacks[:, 1:].amin(1)
    depends = torch.isfinite(c) & ~torch.isnan(highest) & ((highest != c) | (lowest != c))
    start = decisions[list(payment_columns)][:, columns].to(torch.float64)
    hopeless = _violated_without_payments(c, depends, decisions[:, columns], quantities[0][:, columns])
    rows = depends.any(1).nonzero().squeeze(1)
    keep = depends.index_select(0, rows)
    picked = slacks.index_select(0, rows)                     # (m', n + 1, F)
    c = picked[:, 0]
    A = picked[:, 1:] - picked[:, :1]                         # (m', n, F), zero on the rows a state does not keep
    if not bool(keep.all()):
        A.masked_fill_(~keep.unsqueeze(1), 0.0)
    margin = REPAIR_MARGIN * (1.0 + c.abs() + (A * start.abs().unsqueeze(0)).abs_().sum(1))
    untightened = torch.where(keep, c, torch.ones_like(c))
    c = torch.where(keep, c - margin, torch.ones_like(c))
    w = (reward[1:] - reward[0]).t()
    payments, solved = start.clone(), torch.zeros(width, dtype=torch.bool, device=start.device)
    found = torch.zeros(c.shape[0], width, dtype=torch.float64, device=slacks.device)
    hopeful = (~hopeless).nonzero().squeeze(1)
    if hopeful.numel():
        # the LPs as (F, m', n) views of batch-last storage: the solvers read either layout, a
        # transposed copy would cost more than the rest of this function
        A = A if hopeful.numel() == width else A.index_select(2, hopeful)
        solution = solve(w[hopeful], A.permute(2, 0, 1), c.t()[hopeful], start.t()[hopeful], untightened.t()[hopeful])
        payments[:, hopeful], solved[hopeful], found[:, hopeful] = solution.y.t(), solution.solved, solution.multipliers.t()
    multipliers = torch.zeros(slacks.shape[0], width, dtype=torch.float64, device=slacks.device)
    multipliers[rows] = torch.where(keep, found, torch.zeros_like(c))
    return PaymentProgram(payments.to(decisions.dtype), solved,
                          bounded_multipliers(multipliers, w.abs().amax(-1)).to(decisions.dtype))


def _violated_without_payments(c: torch.Tensor, depends: torch.Tensor, decisions: torch.Tensor,
                               rows: torch.Tensor) -> torch.Tensor:
    """(F,) True where a certificate row that no payment enters (a declared constraint on the
    allocations, `s[k] <= 300`) is violated by more than twice the certificate's rounding
    allowance at the proposal (`violation_beyond_rounding`): no payments make such a state
    feasible, so its LP is not solved (it ran for every such proposal and was thrown away)."""
    allowance = 2 * ROUNDING_ULPS * torch.finfo(decisions.dtype).eps * (
        decisions.abs().amax(0) * rows.abs().amax(0) + 1).to(c)
    return (torch.isfinite(c) & ~depends & (c < -allowance)).any(0)


def bounded_multipliers(multipliers: torch.Tensor, reward_scale: torch.Tensor) -> torch.Tensor:
    """The multipliers (m, F) with every state's set to 0 where one is not finite or exceeds
    MULTIPLIER_BOUND x (1 + reward_scale) (F,). Such an LP sits at the edge of the allocations
    that some payments make feasible (its feasible set is a sliver): V(x) falls off a cliff
    there, dV/dx is unbounded, and z^T dg/dx, a difference of huge terms, is rounding noise or
    inf * 0 = NaN (measured: z ~ 1e29 and inf in float32 on saturated K = 5 proposals, against
    at most 338 on uniform ones). Those states keep dr/dx at the LP's payments."""
    usable = torch.isfinite(multipliers).all(0) & (multipliers.abs().amax(0) <= MULTIPLIER_BOUND * (1.0 + reward_scale))
    return torch.where(usable, multipliers, torch.zeros_like(multipliers))


def optimal_payments(quantities, decisions: torch.Tensor, columns: torch.Tensor, payment_columns: tuple[int, ...],
                     objective_and_slacks: Callable, state_quantities: Callable,
                     maximize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(payments, solved) of `payment_program` (the entry point of packages compiled before it)."""
    program = payment_program(quantities, decisions, columns, payment_columns, objective_and_slacks,
                              state_quantities, maximize)
    return program.payments, program.solved


def _repaired_payments(spec: ContractFunctions, quantities, deployed: torch.Tensor,
                       remaining: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(the decisions with LP payments where they make the proposal feasible, where they do,
    the LPs' multipliers (slack rows, B) there and 0 elsewhere, or None when the package's LP
    reports none)."""
    fixed = torch.zeros_like(remaining)
    if spec.optimal_payments is None:
        return deployed.detach().clone(), fixed, None
    columns = remaining.nonzero().squeeze(1)
    candidate = deployed.detach()[:, columns].clone()
    solved = torch.zeros_like(columns, dtype=torch.bool)
    parts = []
    for start in range(0, len(columns), REPAIR_CHUNK):  # bounded memory: (chunk, constraints, payments)
        part = slice(start, start + REPAIR_CHUNK)
        program = spec.optimal_payments(quantities, deployed.detach(), columns[part])
        candidate[list(spec.payment_columns), part], solved[part] = program[0], program[1]
        parts.append(getattr(program, "multipliers", None))
    # finite payments only: an infinite one would also blow up the certificate's rounding allowance
    feasible = solved & torch.isfinite(candidate).all(0) & (
        spec.score(columns_of(quantities, columns), candidate, candidate.unbind(0))[1] <= 0)
    fixed[columns[feasible]] = True
    repaired = deployed.detach().clone()
    repaired[:, columns[feasible]] = candidate[:, feasible]
    multipliers = None
    if parts and all(part is not None for part in parts):
        found = torch.cat(parts, 1)
        multipliers = found.new_zeros(found.shape[0], deployed.shape[1])
        multipliers[:, columns[feasible]] = found[:, feasible]
    return repaired, fixed, multipliers


def multiplier_term(spec: ContractFunctions, quantities, deployed: torch.Tensor, fixed: torch.Tensor,
                    multipliers: torch.Tensor) -> torch.Tensor:
    """z^T g(x, y*) - stop_grad(z^T g(x, y*)) per state (0 where the LP did not fix the payments),
    in objective units: its value is 0, its gradient the multiplier part of the envelope theorem's
    dV/dx = dr/dx + z^T dg/dx (module docstring). `deployed` holds the proposal's allocations
    (with their gradients) and the LP's payments (constants); g are the slacks with truthful
    later play, the rows the LP was read off."""
    columns = fixed.nonzero().squeeze(1)
    term = torch.zeros(deployed.shape[1], dtype=deployed.dtype, device=deployed.device)
    if columns.numel() == 0:
        return term
    decisions = deployed[:, columns]
    _, slacks, _ = spec.objective_and_slacks(columns_of(quantities, columns), decisions, decisions.unbind(0), True)
    weights = multipliers[:, columns]
    weighted = torch.where(weights > 0, weights * slacks, torch.zeros_like(slacks)).sum(0)  # 0 * inf rows stay 0
    value = weighted - weighted.detach()
    return term.index_put((columns,), value if spec.maximize else -value)


def _no_worse_than_the_pooled_menu(spec: ContractFunctions, quantities, allocations: torch.Tensor,
                                   deployed: torch.Tensor, kind: torch.Tensor, scale: torch.Tensor):
    """(deployed, kind, scale, where) with the pooled menu x_ref at its least payments deployed
    where it is feasible and worth more than `deployed` (kind 2, lambda* = 0). In the OPTIMAL_PAYMENTS
    mode the deployed value is then max(V(x), r(x_ref)): V(x) falls off a cliff where the
    allocations are barely implementable (measured on two_period.mech, K = 2: -143,061 at one
    uniform random action whose pooled menu earns -3,594), and a critic fitted across such
    cliffs sees rewards 100x the optimum's. The optimum's own allocations keep V(x*) >= r(x_ref)."""
    pooled = spec.pooling @ allocations
    menu = torch.stack(spec.contract_of(quantities, pooled))
    with torch.no_grad():
        value, violation, _ = spec.score(quantities, menu.detach(), menu.detach().unbind(0))
        current, _, _ = spec.score(quantities, deployed.detach(), deployed.detach().unbind(0))
        better = (violation <= 0) & ((value > current) if spec.maximize else (value < current))
    return (torch.where(better, menu, deployed), torch.where(better, torch.full_like(kind, 2.0), kind),
            torch.where(better, torch.zeros_like(scale), scale), better)


def deploy(spec: ContractFunctions, quantities, allocations: torch.Tensor, slack: torch.Tensor,
           items: tuple[torch.Tensor, ...], payments: str = PAYMENTS_FROM_ACTION,
           pool: bool = True) -> tuple[tuple[torch.Tensor, ...], dict]:
    """The deployed contract for a proposal (allocations, slack, its items) and the repair's
    record (module docstring): "repaired" = 0 (feasible as proposed), 1 (best payments for the
    proposed allocations), 2 (shrunk toward the pooled menu); "repair" = 1 - lambda*;
    "proposal_violation" and "proposal_reward" of the proposal. The bisection runs on the whole
    batch: the certificate's reductions then see the same shapes as the final contract's, so a
    step judged feasible stays feasible to the last bit.

    payments = OPTIMAL_PAYMENTS: `items` hold the least payments of `allocations` and every state
    gets the best feasible payments for its allocations, V(x) = max_y r(x, y) s.t. g(x, y) >= 0
    (feasible or not as proposed; where the LP fails, feasible least payments stay). The payments
    are then the map's, not a repair: "repaired" = 0 there, and "proposal_violation" is 0 where
    the LP found payments. Where the pooled menu at least payments is feasible and worth more, it
    is deployed instead (`_no_worse_than_the_pooled_menu`). `pool=False` leaves the states no
    payments make feasible as they are."""
    deployed = torch.stack(items)
    with torch.no_grad():
        proposal_objective, proposal_violation, _ = spec.score(quantities, deployed, items)
    kind = torch.zeros_like(proposal_violation)
    scale = torch.ones_like(proposal_violation)
    optimise = payments == OPTIMAL_PAYMENTS
    remaining = torch.ones_like(proposal_violation, dtype=torch.bool) if optimise else proposal_violation > 0
    envelope = None
    if bool(remaining.any()):
        with torch.no_grad():
            repaired, fixed, multipliers = _repaired_payments(spec, quantities, deployed, remaining)
            remaining = remaining & ~fixed & (proposal_violation > 0)
            if optimise:
                proposal_violation = torch.where(fixed, torch.zeros_like(proposal_violation), proposal_violation)
            else:
                kind = torch.where(fixed, torch.ones_like(kind), kind)
        if multipliers is not None and spec.objective_and_slacks is not None:
            # LP-fixed states: the payments are the LP's constants, the allocations keep their gradient
            payment_rows = torch.zeros(deployed.shape[0], 1, dtype=torch.bool, device=deployed.device)
            payment_rows[list(spec.payment_columns)] = True
            passes = ~(payment_rows & fixed.unsqueeze(0))
            deployed = repaired + torch.where(passes, deployed - deployed.detach(), torch.zeros_like(deployed))
            envelope = multiplier_term(spec, quantities, deployed, fixed, multipliers)
        else:
            deployed = straight_through(repaired, deployed)
        pooled = spec.pooling @ allocations
        with torch.no_grad():  # the states the bisection can repair: their pooled menu is feasible
            pooling = remaining & (spec.violation(quantities, pooled.detach(), slack.detach() * 0.0) <= 0) \
                if pool and bool(remaining.any()) else torch.zeros_like(remaining)
        if bool(pooling.any()):  # else its REPAIR_STEPS evaluations would change nothing
            with torch.no_grad():
                x, x_ref, d = allocations.detach(), pooled.detach(), slack.detach()
                low, high = torch.zeros_like(scale), torch.ones_like(scale)
                for _ in range(REPAIR_STEPS):
                    mid = 0.5 * (low + high)
                    ok = spec.violation(quantities, toward(x, x_ref, mid), d * mid) <= 0
                    low, high = torch.where(ok, mid, low), torch.where(ok, high, mid)
                scale = torch.where(pooling, low, scale)
                kind = torch.where(pooling, torch.full_like(kind, 2.0), kind)
            shrunk = torch.stack(spec.contract_of(quantities, toward(allocations, pooled, scale), slack * scale))
            deployed = torch.where(pooling, shrunk, deployed)
    if optimise and pool:
        deployed, kind, scale, better = _no_worse_than_the_pooled_menu(spec, quantities, allocations, deployed, kind, scale)
        if envelope is not None:
            envelope = torch.where(better, torch.zeros_like(envelope), envelope)
    info = {"repair": 1.0 - scale, "repaired": kind, "proposal_violation": proposal_violation,
            "proposal_reward": proposal_objective if spec.maximize else -proposal_objective}
    if envelope is not None:
        info[ENVELOPE] = envelope
    return deployed.unbind(0), info


__all__ = ["AUTO_PAYMENTS", "ENVELOPE", "OPTIMAL_PAYMENTS", "PAYMENTS_FROM_ACTION", "PAYMENT_MODES", "ContractFunctions", "PaymentProgram", "REPAIR_CHUNK", "REPAIR_MARGIN", "REPAIR_STEPS", "deploy",
           "multiplier_term", "optimal_payments", "payment_program"]
