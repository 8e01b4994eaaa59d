"""The dual simplex's pivots and its start's least point (`mechdsl.runtime.dual_simplex`),
compiled for the CPU: one LP at a time, in a loop over the batch, instead of every LP at once in
torch kernels.

The batched pivot of `dual_simplex._Pivoting` is some 50 torch kernels; at 256 payment LPs of
specs/two_period.mech at K = 5 (n = 30 payments, 180 rows, 500 entries on the shared pattern)
each costs a few microseconds of dispatch for a few microseconds of arithmetic, so the pivots
(28 per LP on average, 63 at most, each pivot call running until the slowest LP of the batch is
done) were two thirds of the solve. Here one LP's pivots run back to back in compiled code
(numba), its A_B^{-1} (n x n) in the cache, the same rule as the batched pivot:

    r = argmin_r s_r / |A_r|,   s = A y + c  (the most violated normalised row; done when
                                              s_r / |A_r| >= level, the LP's feasibility level)
    u = A_B^{-T} a_r / |A_r|,   ratio test over u_i > PIVOT_SIZE max |u|:
    bound = min_i (z_i + HARRIS (1 + max z)) / u_i   (Harris's first pass),
    i = argmax { u_i : z_i / u_i <= bound }          (the largest pivot among the near-ties; no
                                                      u_i > 0: a dual ray, the LP is infeasible)
    y <- y - A_B^{-1} e_i s_r / u_i,
    A_B^{-1} <- A_B^{-1} - A_B^{-1} e_i (u - e_i)^T / u_i   (Sherman-Morrison, row i of A_B := a_r)
    z <- max(z - z_i u / u_i, 0),  z_i <- z_i / u_i,  B_i <- r

(u unscaled in the updates). The caller's refinement and certificate are the batched ones, so
an LP's answer is judged exactly as before. Where numba is not installed, or the tensors live on
another device, `dual_simplex` pivots in torch.
"""

from __future__ import annotations

import numpy as np
import torch

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; torch pivots where it is missing
    numba = None

AVAILABLE = numba is not None


def _pivot_loop(row_start, columns, values, c, norm, level, y, z, inverse, basis, done, infeasible,
                pivots, pivot_size, harris):
    """Pivots every LP b with done[b] False until its most violated normalised row is met
    (done), a dual ray shows it infeasible (done and infeasible), or `pivots` rounds are spent
    (left not done; as the batched loop, a round finds the LP done or pivots once, so an LP that
    needs k pivots is done in round k + 1). The rows are the shared pattern's (row r: entries row_start[r] ..
    row_start[r + 1] - 1, columns `columns`), values (B, P) and c (B, m) scaled by the rows'
    norms norm (B, m); y, z (B, n), inverse (B, n, n) and basis (B, n) are updated in place."""
    B, n = y.shape
    m = c.shape[1]
    u = np.empty(n)
    candidate = np.empty(n)
    column = np.empty(n)
    change = np.empty(n)
    for b in range(B):
        if done[b]:
            continue
        for _ in range(pivots):
            # the most violated normalised row (the first among ties, as torch's min)
            worst = np.inf
            entering = 0
            for r in range(m):
                slack = c[b, r]
                for p in range(row_start[r], row_start[r + 1]):
                    slack += values[b, p] * y[b, columns[p]]
                if slack < worst:
                    worst = slack
                    entering = r
            if worst >= level[b]:
                done[b] = True
                break
            # u' = a_r^T A_B^{-1} / s_r
            for j in range(n):
                u[j] = 0.0
            for p in range(row_start[entering], row_start[entering + 1]):
                v = columns[p]
                a = values[b, p]
                for j in range(n):
                    u[j] += a * inverse[b, v, j]
            largest = 0.0
            z_max = -np.inf
            for j in range(n):
                largest = max(largest, abs(u[j]))
                z_max = max(z_max, z[b, j])
            threshold = pivot_size * largest
            bound = np.inf
            for j in range(n):
                candidate[j] = u[j] if u[j] > threshold else 0.0
                if candidate[j] > 0.0:
                    bound = min(bound, (z[b, j] + harris * (1.0 + z_max)) / candidate[j])
            if bound == np.inf:  # a dual ray: no u_i > 0, (P) is infeasible
                infeasible[b] = True
                done[b] = True
                break
            i = 0
            best = 0.0
            for j in range(n):
                if candidate[j] > 0.0 and z[b, j] / candidate[j] <= bound and candidate[j] > best:
                    best = candidate[j]
                    i = j
            gain = 1.0 / u[i]                      # 1 / u'_i
            unscaled = gain / norm[b, entering]    # 1 / u_i
            for v in range(n):
                column[v] = inverse[b, v, i]
            step = worst * gain
            for v in range(n):
                y[b, v] -= column[v] * step
            for j in range(n):
                change[j] = u[j] * gain
            change[i] -= unscaled
            for v in range(n):
                if column[v] != 0.0:
                    for j in range(n):
                        inverse[b, v, j] -= column[v] * change[j]
            z_i = z[b, i]
            for j in range(n):
                z[b, j] = max(z[b, j] - z_i * gain * u[j], 0.0)
            z[b, i] = z_i * unscaled
            basis[b, i] = entering


def _least_point_loop(row_start, columns, values, c, owner, monotone, floor, own, feasible, t, parent, converged):
    """`dual_simplex.least_monotone_point` per LP b: t[b] from the floors (t_v = max -c_r / A_rv
    over the floors r of v, 0 without one), then Jacobi rounds of its fixpoint (1), every payment
    raised at once to max_r -(c_r + sum_{u != v} A_ru t_u) / A_rv over its monotone rows r where
    that exceeds it by more than FEASIBLE (1 + max |c|) (`feasible`), until a round raises none
    (converged) or n + 1 rounds; parent[b, v] is the row that last raised v (the first among
    ties). t, parent and converged are written in place."""
    B, n = t.shape
    m = c.shape[1]
    best = np.empty(n)
    row = np.empty(n, np.int64)
    for b in range(B):
        tolerance = 0.0
        for r in range(m):
            tolerance = max(tolerance, abs(c[b, r]))
        tolerance = feasible * (1.0 + tolerance)
        for v in range(n):
            best[v] = -np.inf
            row[v] = 0
        for r in range(m):
            if floor[b, r]:
                v = owner[b, r]
                candidate = -(c[b, r] / own[b, r])
                if candidate > best[v]:
                    best[v] = candidate
                    row[v] = r
        for v in range(n):
            t[b, v] = best[v] if best[v] > -np.inf else 0.0
            parent[b, v] = row[v]
        converged[b] = False
        for _ in range(n + 1):
            for v in range(n):
                best[v] = -np.inf
            for r in range(m):
                if monotone[b, r]:
                    v = owner[b, r]
                    scale = own[b, r]
                    total = c[b, r] / scale
                    for p in range(row_start[r], row_start[r + 1]):
                        total += values[b, p] / scale * t[b, columns[p]]
                    candidate = t[b, v] - total
                    if candidate > best[v]:
                        best[v] = candidate
                        row[v] = r
            raised = False
            for v in range(n):
                if best[v] > t[b, v] + tolerance:
                    raised = True
            if not raised:
                converged[b] = True
                break
            for v in range(n):
                if best[v] > t[b, v] + tolerance:
                    t[b, v] = best[v]
                    parent[b, v] = row[v]


if AVAILABLE:
    _compiled_loop = numba.njit(cache=True, nogil=True, error_model="numpy")(_pivot_loop)
    _compiled_least_point = numba.njit(cache=True, nogil=True, error_model="numpy")(_least_point_loop)


def least_point(row_start: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, c: torch.Tensor,
                forms, n: int, feasible: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(t (n, B), parent (n, B), converged (B,)) of `_least_point_loop` (compiled) for n payments,
    the pattern's values (P, B), constants c (m, B) and the rows' forms (`sparse_rows.RowForms`, (m, B) each),
    batch last as `dual_simplex.least_monotone_point` takes and returns them."""
    B = c.shape[1]
    t = np.zeros((B, n))
    parent = np.zeros((B, n), np.int64)
    converged = np.zeros(B, np.bool_)
    batch_first = [x.t().contiguous().numpy() for x in (values, c, forms.owner, forms.monotone, forms.floor, forms.own)]
    _compiled_least_point(row_start.numpy(), columns.numpy(), *batch_first, feasible, t, parent, converged)
    return torch.from_numpy(t).t(), torch.from_numpy(parent).t(), torch.from_numpy(converged)


def pivot_lps(row_start: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, c: torch.Tensor,
              norm: torch.Tensor, level: torch.Tensor, y: torch.Tensor, z: torch.Tensor, inverse: torch.Tensor,
              basis: torch.Tensor, done: torch.Tensor, infeasible: torch.Tensor, pivots: int,
              pivot_size: float, harris: float) -> None:
    """`_pivot_loop` (compiled) on CPU tensors: values (P, B), c and norm (m, B) batch last as the
    dual simplex keeps them (transposed here, a copy of the pattern's size); y, z, inverse,
    basis, done and infeasible batch first, updated in place."""
    arrays = [t.numpy() for t in (y, z, inverse, basis, done, infeasible)]
    _compiled_loop(row_start.numpy(), columns.numpy(), values.t().contiguous().numpy(),
                   c.t().contiguous().numpy(), norm.t().contiguous().numpy(), level.numpy(),
                   *arrays, pivots, pivot_size, harris)


__all__ = ["AVAILABLE", "least_point", "pivot_lps"]
