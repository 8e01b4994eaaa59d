"""The dual simplex's compiled pivots (`mechdsl.runtime.compiled_pivots`, one LP at a time on the
CPU) against its batched torch pivots (`dual_simplex._Pivoting`, the path of other devices):
the same rule, so the same LPs solved, the same optimum, and the same LPs done within any pivot
budget."""

from __future__ import annotations

import pytest
import torch

from mechdsl.runtime import compiled_pivots
from mechdsl.runtime.dual_simplex import solve_dual_simplex
from payment_lps import two_period_lps

pytestmark = pytest.mark.skipif(not compiled_pivots.AVAILABLE, reason="numba is not installed")


def _both(monkeypatch, *args, **kwargs):
    """The dual simplex's solution with compiled pivots, then with torch's."""
    compiled = solve_dual_simplex(*args, **kwargs)
    monkeypatch.setattr(compiled_pivots, "AVAILABLE", False)
    batched = solve_dual_simplex(*args, **kwargs)
    monkeypatch.setattr(compiled_pivots, "AVAILABLE", True)
    return compiled, batched


@pytest.mark.parametrize("monotone, pooled", [(0.95, 0.0), (0.5, 0.0), (1.0, 1.0)])
def test_compiled_and_batched_pivots_solve_the_same_lps(monkeypatch, monotone, pooled):
    """Mostly sorted, half unsorted (most of those infeasible) and pooled allocations (equality pairs kept by `loose`): the same LPs
    solved and refused, the same optimal values to 1e-9 relative, and KKT multipliers."""
    w, A, c = two_period_lps(200, seed=3, pooled=pooled, monotone=monotone)
    margin = 1e-10 * (1.0 + c.abs())
    compiled, batched = _both(monkeypatch, w, A, c - margin, loose=c)
    assert torch.equal(compiled.solved, batched.solved)
    assert 0 < int(compiled.solved.sum())
    solved = compiled.solved
    value, expected = (w * compiled.y).sum(-1)[solved], (w * batched.y).sum(-1)[solved]
    assert float(((value - expected).abs() / expected.abs().clamp(min=1.0)).max()) <= 1e-9
    z = compiled.multipliers[solved]
    assert bool((z >= 0).all())
    assert float((w[solved] + (z.unsqueeze(1) @ A[solved]).squeeze(1)).abs().max()) <= 1e-9


def test_a_pivot_budget_stops_both_after_the_same_rounds(monkeypatch):
    """An LP that needs k pivots is done in round k + 1 on both paths: with a budget of b rounds
    both solve exactly the LPs that need fewer than b pivots, so a budget of 0 solves only the LPs
    whose start is optimal."""
    w, A, c = two_period_lps(120, seed=4, monotone=0.5)
    for budget in (0, 3, 10, 25):
        compiled, batched = _both(monkeypatch, w, A, c, pivots=budget)
        assert torch.equal(compiled.solved, batched.solved), budget
    assert int(solve_dual_simplex(w, A, c, pivots=3).solved.sum()) < int(solve_dual_simplex(w, A, c).solved.sum())


def test_infeasible_lps_are_refused_by_a_dual_ray(monkeypatch):
    """An IR floor above what the IC chain allows: no payments are feasible; the compiled pivots
    find the dual ray (no u_i > 0) and mark the LP done and infeasible, as torch does."""
    w, A, c = two_period_lps(40, seed=5, monotone=0.95)
    compiled, batched = _both(monkeypatch, w, A, c)
    refused = ~compiled.solved
    assert torch.equal(refused, ~batched.solved)
    assert 0 < int(refused.sum()) < 40


def test_compiled_least_point_equals_the_batched_fixpoint():
    """The start: the least point of the monotone rows (1) per LP equals the batched fixpoint to
    its tolerance and picks tight rows as parents (the row that
    raised each payment holds it: A_r t + c_r = 0 on every LP that converged); both give up on
    the same LPs (a cycle of rising payments)."""
    from mechdsl.runtime.dual_simplex import FEASIBLE, least_monotone_point
    from mechdsl.runtime.sparse_rows import SparseRows, row_forms

    w, A, c = two_period_lps(150, seed=6, monotone=0.6)
    rows = SparseRows(A)
    forms = row_forms(rows)
    c_rows = c.t().contiguous()
    t, parent, converged = compiled_pivots.least_point(rows.row_start, rows.columns, rows.values, c_rows, forms,
                                                        rows.n, FEASIBLE)
    expected_t, _, expected_converged = least_monotone_point(rows, forms, c_rows)
    assert torch.equal(converged, expected_converged)
    assert 0 < int(converged.sum()) < 150  # unsorted allocations: some IC cycles keep raising payments
    scale = 1e-8 * (1.0 + float(c.abs().max()))
    assert float((t - expected_t)[:, converged].abs().max()) <= scale
    slack = (A @ t.t().unsqueeze(-1)).squeeze(-1) + c                         # (B, m)
    assert float(slack.gather(1, parent.t())[converged].abs().max()) <= scale
