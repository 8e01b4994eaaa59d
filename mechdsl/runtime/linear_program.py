"""A batched linear-program solver in torch, for the payment repair of generated contract envs.

Solves, independently for every batch element b,

    maximize  w_b^T y   subject to   A_b y + c_b >= 0,          y in R^n,

by Mehrotra's predictor-corrector interior-point method (Nocedal & Wright, *Numerical
Optimization*, 2nd ed., Algorithm 14.3) on the inequality form min q^T y s.t. G y + s = h,
s >= 0, with q = -w, G = -A, h = c. Every iteration solves the n x n normal equations
(G^T diag(z / s) G) dy = r with one batched Cholesky factorisation; n is the number of
payments of a menu (tens) and m the number of constraints (hundreds), so a batch of a few
hundred LPs takes milliseconds. The loop stops when every LP has converged (checked every
CHECK_EVERY iterations, the only host synchronisation) or after `iterations`; the caller
checks the result against its own certificate.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

ITERATIONS = 40      # Mehrotra converges in 15-30 iterations on these LPs
STEP_FRACTION = 0.99  # fraction of the step to the boundary of s, z > 0
FLOOR = 1e-100       # lower bound of the slacks s and multipliers z (far below any convergence test)
CHECK_EVERY = 4       # iterations between checks whether every LP of the batch has converged
DRIFT = 1e3          # a solution beyond DRIFT x (1 + |start|)(1 + |c|) is an ill-posed LP's drift, not an optimum
TOLERANCE = 1e-11    # primal and dual residuals, relative to their scales, of a solved LP
OPTIMALITY = 1e-9    # bound on w^T y* - w^T y of a solved LP, relative to the objective's scale from the data
CONVERGED = 1e-13     # mean complementarity s o z, relative to 1 + |objective| / m, at which an LP stops


def _step_to_boundary(v: torch.Tensor, dv: torch.Tensor) -> torch.Tensor:
    """Largest alpha in [0, 1] with v + alpha dv >= 0, per batch element (v > 0)."""
    ratio = torch.where(dv < 0, -v / dv, torch.full_like(v, float("inf")))
    return ratio.amin(-1).clamp(max=1.0)


def _row_times(v: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """v^T M for v (B, k), M (B, k, l): a batched row-vector product (the fastest form of
    batched matrix-vector products on CPU for these shapes; M v is computed as v^T M^T)."""
    return torch.bmm(v.unsqueeze(1), M).squeeze(1)


def _mehrotra_step(G, Gt, h, q, y, s, z, regularisation):
    """One predictor-corrector step on a batch (Gt = G^T, contiguous); returns (y, s, z,
    converged before the step)."""
    m = G.shape[1]
    r_dual = q + _row_times(z, G)
    r_primal = _row_times(y, Gt) + s - h
    mu = (s * z).mean(-1, keepdim=True)
    normal = torch.bmm(Gt * (z / s).unsqueeze(1), G) + regularisation
    factor, _ = torch.linalg.cholesky_ex(normal)

    def direction(r_complementarity):
        rhs = -r_dual - _row_times((-r_complementarity + z * r_primal) / s, G)
        dy = torch.cholesky_solve(rhs.unsqueeze(-1), factor).squeeze(-1)
        ds = -r_primal - _row_times(dy, Gt)
        return dy, ds, (-r_complementarity - z * ds) / s

    dy, ds, dz = direction(s * z)  # affine-scaling (predictor) step
    alpha_p, alpha_d = _step_to_boundary(s, ds).unsqueeze(-1), _step_to_boundary(z, dz).unsqueeze(-1)
    mu_affine = ((s + alpha_p * ds) * (z + alpha_d * dz)).mean(-1, keepdim=True)
    sigma = (mu_affine / mu).clamp(0.0, 1.0) ** 3
    dy, ds, dz = direction(s * z + ds * dz - sigma * mu)  # corrector with centring
    alpha_p = (STEP_FRACTION * _step_to_boundary(s, ds)).unsqueeze(-1)
    alpha_d = (STEP_FRACTION * _step_to_boundary(z, dz)).unsqueeze(-1)
    converged = (mu <= CONVERGED * (1.0 + (q * y).sum(-1, keepdim=True).abs() / m)) | ~torch.isfinite(dy).all(-1, True)
    # s and z stay above FLOOR: products of smaller ones are subnormal floats, which make every
    # CPU operation on the batch many times slower (measured: 0.03 s -> 0.5 s per step)
    return (torch.where(converged, y, y + alpha_p * dy), torch.where(converged, s, s + alpha_p * ds).clamp(min=FLOOR),
            torch.where(converged, z, z + alpha_d * dz).clamp(min=FLOOR), converged.squeeze(-1))


class LinearSolution(NamedTuple):
    """A batch of solved LPs: y (B, n), solved (B,), and the multipliers z (B, m) >= 0 of the
    constraints A y + c >= 0, so that w + A^T z = 0 and z o (A y + c) = 0 at a solved LP (the
    KKT conditions): by the envelope theorem z_i is the rate at which the optimal value
    w^T y* grows with c_i."""

    y: torch.Tensor
    solved: torch.Tensor
    multipliers: torch.Tensor


def solve_linear(w: torch.Tensor, A: torch.Tensor, c: torch.Tensor, start: torch.Tensor | None = None,
                 iterations: int = ITERATIONS) -> LinearSolution:
    """See `_maximize_linear`; runs with subnormal floats flushed to zero on the CPU (restored
    afterwards): LPs that converge slowly otherwise spend most of their time on subnormal
    arithmetic (measured: one training step of a K = 5 contract env 1 s -> minutes)."""
    flushed = A.device.type == "cpu" and torch.set_flush_denormal(True)
    try:
        return LinearSolution(*_maximize_linear(w, A, c, start, iterations))
    finally:
        if flushed:
            torch.set_flush_denormal(False)


ACTIVE = 1e-7  # a row of A y + c >= 0 within this fraction of its scale is active at a HiGHS vertex


def _polished(A, c, y):
    """A simplex vertex y (NumPy) moved onto its active rows exactly: HiGHS meets each row to its
    primal tolerance (~1e-9 here), above the certificate's float64 rounding allowance, so the
    smallest correction dy with A_act (y + dy) + c_act = 0 (least squares) is added."""
    import numpy as np

    slack = A @ y + c
    active = np.abs(slack) <= ACTIVE * (1.0 + np.abs(c) + np.abs(A) @ np.abs(y))
    if not active.any():
        return y
    correction, *_ = np.linalg.lstsq(A[active], -slack[active], rcond=None)
    return y + correction


def _opposite_rows(A, c):
    """Rows i of A y + c >= 0 (NumPy) with a row j pointing the other way (A_j / |A_j| = -A_i / |A_i|
    and c_j / |A_j| = -c_i / |A_i|, to rounding): the pair is the equality A_i y + c_i = 0, which a
    margin on both rows would make infeasible."""
    import numpy as np

    norm = np.abs(A).max(1)
    involved = norm > 0
    unit = np.where(involved[:, None], A / np.where(involved, norm, 1.0)[:, None], 0.0)
    level = np.where(involved, c / np.where(involved, norm, 1.0), 0.0)
    A_close = np.abs(unit[:, None, :] + unit[None, :, :]).max(-1) <= 1e-12
    c_close = np.abs(level[:, None] + level[None, :]) <= 1e-9 * (1.0 + np.abs(level)[:, None])
    return (A_close & c_close & involved[None, :]).any(1) & involved


def solve_linear_reliably(w: torch.Tensor, A: torch.Tensor, c: torch.Tensor, start: torch.Tensor | None = None,
                          fallback_c: torch.Tensor | None = None) -> LinearSolution:
    """`solve_linear`, then HiGHS (`scipy.optimize.linprog`, dual simplex, on the CPU in float64)
    on the LPs it did not solve: the interior-point method stalls on degenerate LPs (measured: 88
    of 115 feasible K = 2 payment LPs at allocations on their bounds, where the menu pools types
    and many constraints coincide). HiGHS's multipliers of A y + c >= 0 are minus the marginals
    of its -A y <= c rows; an LP HiGHS finds infeasible stays unsolved. A caller that tightens
    its constraints by a margin passes the untightened ones as `fallback_c`: HiGHS keeps the
    margin except on pairs of opposite rows (`_opposite_rows`), since a margin on both of
    y_i - y_j >= 0, y_j - y_i >= 0 (types pooled into one item must be paid alike) leaves no
    feasible point at all."""
    solution = solve_linear(w, A, c, start)
    missing = (~solution.solved).nonzero().squeeze(1)
    if missing.numel() == 0:
        return solution
    import numpy as np
    from scipy.optimize import linprog

    y, solved, z = solution.y.clone(), solution.solved.clone(), solution.multipliers.clone()
    fallback_c = c if fallback_c is None else fallback_c
    w_np, A_np, c_np, loose_np = (t[missing].detach().to("cpu", torch.float64).numpy() for t in (w, A, c, fallback_c))
    for k, b in enumerate(missing.tolist()):
        constants = np.where(_opposite_rows(A_np[k], loose_np[k]), loose_np[k], c_np[k])
        result = linprog(-w_np[k], A_ub=-A_np[k], b_ub=constants, bounds=(None, None), method="highs")
        if result.status == 0:
            y[b] = torch.as_tensor(_polished(A_np[k], constants, result.x), dtype=y.dtype, device=y.device)
            z[b] = torch.as_tensor(-result.ineqlin.marginals, dtype=z.dtype, device=z.device).clamp(min=0.0)
            solved[b] = True
    return LinearSolution(y, solved, z)


def maximize_linear(w: torch.Tensor, A: torch.Tensor, c: torch.Tensor, start: torch.Tensor | None = None,
                    iterations: int = ITERATIONS) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, solved) of `solve_linear`, without the multipliers."""
    solution = solve_linear(w, A, c, start, iterations)
    return solution.y, solution.solved


def _maximize_linear(w: torch.Tensor, A: torch.Tensor, c: torch.Tensor, start: torch.Tensor | None,
                     iterations: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(y, solved, z) for w (B, n), A (B, m, n), c (B, m), optionally a start y (B, n); z (B, m)
    are the multipliers of the constraints (the duals of G y + s = h).

    `solved` (B,) is True where the method converged to an optimum: complementarity below
    CONVERGED and the primal and dual residuals below TOLERANCE of their scales. An infeasible
    or unbounded LP does not converge (its iterates drift), so `solved` is False there.
    Every CHECK_EVERY iterations the converged LPs leave the batch: their iterates would
    otherwise shrink into subnormal floats, which make every product on the CPU many times slower."""
    A, c, w = A.contiguous(), c.contiguous(), w.contiguous()  # strided views make every product slow
    batch, m, n = A.shape
    G, h, q = -A, c, -w
    Gt = G.transpose(1, 2).contiguous()
    y = torch.zeros(batch, n, dtype=A.dtype, device=A.device) if start is None else start.clone()
    s = (h - _row_times(y, Gt)).clamp(min=1.0)
    z = torch.ones_like(s)
    regularisation = 1e-12 * (1.0 + A.abs().amax((-1, -2))).view(-1, 1, 1) * torch.eye(n, dtype=A.dtype,
                                                                                          device=A.device)
    done = torch.zeros(batch, dtype=torch.bool, device=A.device)
    rows = torch.arange(batch, device=A.device)
    part = (G, Gt, h, q, y, s, z, regularisation)
    for iteration in range(iterations):
        if iteration and iteration % CHECK_EVERY == 0:  # one host synchronisation per check
            y[rows], s[rows], z[rows] = part[4:7]
            rows = rows[~done[rows]]
            if rows.numel() == 0:
                break
            part = (G[rows], Gt[rows], h[rows], q[rows], y[rows], s[rows], z[rows], regularisation[rows])
        y_part, s_part, z_part, converged = _mehrotra_step(*part)
        part = (*part[:4], y_part, s_part, z_part, part[7])
        done[rows] |= converged
    else:
        y[rows], s[rows], z[rows] = part[4:7]
    primal = torch.clamp(_row_times(y, Gt) - h, min=0.0).amax(-1)  # violation of A y + c >= 0
    dual = (q + _row_times(z, G)).abs().amax(-1)
    # the scale of the residual test comes from the data and the start, not from y: an iterate that
    # drifts to huge payments (an ill-posed LP) must not pass by its own magnitude
    reference = 1.0 + (torch.zeros_like(y) if start is None else start).abs().amax(-1, keepdim=True)
    magnitude = 1.0 + c.abs().amax(-1) + (A.abs() * reference.unsqueeze(-1)).sum(-1).amax(-1)
    bounded = y.abs().amax(-1) <= DRIFT * reference.squeeze(-1) * (1.0 + c.abs().amax(-1))
    # the certificate of optimality: for primal-feasible y and z >= 0, w^T y >= w^T y* - gap - |w + A^T z|_1 |y - y*|_inf
    # with gap = z^T (A y + c); both terms must be small against the objective's own scale, which
    # comes from the data and the start, not from y or z (an LP that failed to converge can have
    # z ~ 1e78 and a dual residual of 4e8 beside it, or a drifted y: measured on degenerate menus)
    value_scale = 1.0 + w.abs().amax(-1) * magnitude
    gap = (z * (_row_times(y, Gt) - h).neg()).sum(-1).abs()  # z^T (A y + c), A y + c = -(G y - h)
    bound_error = dual * n * (reference.squeeze(-1) + y.abs().amax(-1))
    solved = (done & bounded & torch.isfinite(y).all(-1) & torch.isfinite(z).all(-1) & (primal <= TOLERANCE * magnitude)
              & (gap + bound_error <= OPTIMALITY * value_scale))
    return y, solved, z


__all__ = ["LinearSolution", "maximize_linear", "solve_linear", "solve_linear_reliably"]
