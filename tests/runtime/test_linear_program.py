"""The batched LP solver against SciPy's HiGHS on random feasible, bounded LPs, and its
refusal (solved = False) of infeasible ones."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linprog

from mechdsl.runtime.linear_program import maximize_linear, solve_linear


def _random_lps(batch, m, n, seed):
    """A y + c >= 0 feasible at a known y0 (slack in [0, 1)), w = -A^T lambda (lambda >= 0) so
    the maximum of w^T y is bounded."""
    generator = torch.Generator().manual_seed(seed)
    A = torch.randn(batch, m, n, generator=generator, dtype=torch.float64)
    y0 = torch.randn(batch, n, generator=generator, dtype=torch.float64)
    c = -(A @ y0.unsqueeze(-1)).squeeze(-1) + torch.rand(batch, m, generator=generator, dtype=torch.float64)
    w = -(A.transpose(1, 2) @ torch.rand(batch, m, 1, generator=generator, dtype=torch.float64)).squeeze(-1)
    return w, A, c


def test_matches_highs_on_random_lps():
    w, A, c = _random_lps(64, 60, 12, seed=0)
    y, solved = maximize_linear(w, A, c)
    assert bool(solved.all())
    assert float(torch.clamp(-(A @ y.unsqueeze(-1)).squeeze(-1) - c, min=0).max()) < 1e-8
    for b in range(64):
        result = linprog(-w[b].numpy(), A_ub=-A[b].numpy(), b_ub=c[b].numpy(), bounds=[(None, None)] * 12,
                         method="highs")
        assert result.status == 0
        assert abs(-result.fun - float(w[b] @ y[b])) <= 1e-8 * (1 + abs(result.fun)), b


def test_infeasible_lps_are_not_solved():
    w, A, c = _random_lps(8, 20, 4, seed=1)
    # y_0 >= 1 and y_0 <= -1 at once: infeasible
    row = torch.zeros(8, 2, 4, dtype=torch.float64)
    row[:, 0, 0], row[:, 1, 0] = 1.0, -1.0
    A = torch.cat([A, row], 1)
    c = torch.cat([c, torch.full((8, 2), -1.0, dtype=torch.float64)], 1)
    _, solved = maximize_linear(w, A, c)
    assert not bool(solved.any())


def test_a_batch_mixes_solved_and_unsolved():
    w, A, c = _random_lps(6, 20, 4, seed=2)
    c[0, 0], A[0, 0] = -1.0, 0.0  # 0 y - 1 >= 0: LP 0 is infeasible whatever y is
    y, solved = maximize_linear(w, A, c)
    assert not bool(solved[0]) and bool(solved[1:].all())
    assert np.isfinite(y[1:].numpy()).all()


def test_multipliers_are_the_duals_of_the_constraints():
    """z >= 0 with w + A^T z = 0 and z o (A y + c) = 0 (KKT), and z = dV/dc: HiGHS's marginals of
    the same LPs (min -w^T y s.t. -A y <= c reports d(-V)/dc = -z)."""
    w, A, c = _random_lps(16, 30, 6, seed=3)
    y, solved, z = solve_linear(w, A, c)
    assert bool(solved.all()) and bool((z >= 0).all())
    stationarity = w + (A.transpose(1, 2) @ z.unsqueeze(-1)).squeeze(-1)
    assert float(stationarity.abs().max()) < 1e-8 * float(1 + w.abs().max())
    slack = (A @ y.unsqueeze(-1)).squeeze(-1) + c
    assert float((z * slack).abs().max()) < 1e-9
    for b in range(16):
        result = linprog(-w[b].numpy(), A_ub=-A[b].numpy(), b_ub=c[b].numpy(), bounds=[(None, None)] * 6,
                         method="highs")
        np.testing.assert_allclose(z[b].numpy(), -result.ineqlin.marginals, rtol=1e-6, atol=1e-7)
