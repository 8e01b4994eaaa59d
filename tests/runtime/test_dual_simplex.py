"""The payment LPs' dual simplex (`mechdsl.runtime.dual_simplex`) against SciPy's HiGHS on
random LPs with the structure of a K = 5 two-period contract (floors, per-period IR, the IC of
period 2 within each menu row, the IC of period 1 that also weighs the report's period-2
payments), its refusal of infeasible LPs, and the fallback to the interior-point method where
its preconditions fail."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from mechdsl.runtime import compiled_pivots
from mechdsl.runtime.dual_simplex import solve_dual_simplex, solve_payment_lps
from mechdsl.runtime.linear_program import _opposite_rows
from mechdsl.runtime.sparse_rows import SparseRows, row_forms
from payment_lps import two_period_lps


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as the envs train (`torch.set_num_threads(1)` per worker): on 2 busy
    cores the default threads of many small batched kernels spin against each other (measured:
    1,000 LPs 1.2 s on one thread, 19-29 s on two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _highs(w, A, c):
    """HiGHS's optimum value of max w^T y s.t. A y + c >= 0 (None: infeasible)."""
    result = linprog(-w, A_ub=-A, b_ub=c, bounds=(None, None), method="highs")
    if result.status == 2:
        return None
    assert result.status == 0, result.message
    return -result.fun


@functools.lru_cache(maxsize=1)
def _thousand_lps():
    """1,000 random K = 5 LPs and HiGHS's value of each (None: infeasible)."""
    w, A, c = two_period_lps(1000, seed=0, monotone=0.95)
    return w, A, c, [_highs(w[b].numpy(), A[b].numpy(), c[b].numpy()) for b in range(1000)]


@pytest.mark.slow  # ~10 s, 8 of them HiGHS's (once for both pivot paths)
@pytest.mark.parametrize("pivots", ["compiled", "torch"])
def test_equals_highs_on_1000_random_k5_lps(monkeypatch, pivots):
    """The fast path itself (no fallback), with its compiled pivots (the CPU's) and its batched
    torch pivots (other devices'): values equal HiGHS's to 1e-6 relative, infeasible LPs are
    refused, and the multipliers are a KKT certificate (z >= 0, w + A^T z = 0, z o (A y + c) = 0)."""
    if pivots == "compiled" and not compiled_pivots.AVAILABLE:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(compiled_pivots, "AVAILABLE", pivots == "compiled")
    w, A, c, expected = _thousand_lps()
    assert A.shape == (1000, 180, 30)
    fast = solve_dual_simplex(w, A, c)
    feasible = torch.tensor([e is not None for e in expected])
    assert 700 <= int(feasible.sum()) < 1000  # both kinds are exercised
    assert not bool(fast.solved[~feasible].any())
    assert bool(fast.solved[feasible].all())
    value = (w * fast.y).sum(-1)
    best = torch.tensor([float("nan") if e is None else e for e in expected], dtype=torch.float64)
    assert float(((value - best).abs() / best.abs().clamp(min=1.0))[feasible].max()) <= 1e-6
    z, y = fast.multipliers[fast.solved], fast.y[fast.solved]
    slack = (A[fast.solved] @ y.unsqueeze(-1)).squeeze(-1) + c[fast.solved]
    assert bool((z >= 0).all()) and float(slack.min()) >= -1e-9 * float(c.abs().max())
    assert float((w[fast.solved] + (z.unsqueeze(1) @ A[fast.solved]).squeeze(1)).abs().max()) <= 1e-9
    assert float((z * slack).abs().max()) <= 1e-6


def test_pooled_menus_keep_their_equalities():
    """Two types with the same allocations: their IC rows are an equality pair, which a margin on
    both would make infeasible; with the untightened constants as `loose` the pair keeps them (as
    `solve_linear_reliably`'s HiGHS step does) and the fast path solves the LP."""
    w, A, c = two_period_lps(64, seed=1, pooled=1.0, monotone=1.0)
    margin = 1e-10 * (1.0 + c.abs())
    fast = solve_dual_simplex(w, A, c - margin, loose=c)
    feasible = 0
    for b in range(64):
        expected_rows = _opposite_rows(A[b].numpy(), c[b].numpy())
        constants = np.where(expected_rows, c[b].numpy(), (c - margin)[b].numpy())
        best = _highs(w[b].numpy(), A[b].numpy(), constants)
        assert bool(fast.solved[b]) == (best is not None), b
        if best is not None:
            feasible += 1
            assert abs(float(w[b] @ fast.y[b]) - best) <= 1e-6 * max(1.0, abs(best)), b
    assert feasible >= 32


@pytest.mark.parametrize("broken", ["gain", "no_floor"])
def test_lps_outside_its_form_fall_back_to_the_interior_point_method(broken):
    """A payment the principal gains from (w_v > 0) or one without a floor row: the dual simplex
    does not apply (solved False), `solve_payment_lps` solves them by the interior-point method."""
    w, A, c = two_period_lps(8, seed=2, monotone=1.0)
    if broken == "gain":
        w[:, 0] = 0.01
    else:  # drop payment 0's floor and IR rows: it is bounded by its IC rows only
        keep = ~((A[0, :, 0] != 0) & ((A[0] != 0).sum(-1) == 1))
        A, c = A[:, keep], c[:, keep]
    assert not bool(solve_dual_simplex(w, A, c).solved.any())
    solution = solve_payment_lps(w, A, c)
    for b in range(8):
        best = _highs(w[b].numpy(), A[b].numpy(), c[b].numpy())
        if best is None:
            assert not bool(solution.solved[b])
        else:
            assert bool(solution.solved[b]) and abs(float(w[b] @ solution.y[b]) - best) <= 1e-6 * max(1.0, abs(best))


def _random_tree_basis(batch: int, n: int, seed: int, extra_entry: bool):
    """A_B (batch, n, n) of a tree basis: payment v's row is a floor (v a root) or a difference
    constraint a_v (t_v - g_v t_p(v)) with p(v) < v; with `extra_entry` one row also pulls a
    second, earlier payment (a monotone row with three entries)."""
    rng = np.random.default_rng(seed)
    A = np.zeros((batch, n, n))
    for b in range(batch):
        for v in range(n):
            A[b, v, v] = rng.uniform(0.5, 2.0)
            if v and rng.random() < 0.8:
                A[b, v, rng.integers(v)] = -A[b, v, v] * rng.uniform(0.2, 1.5)
        if extra_entry:
            A[b, n - 1, :n - 2] = -rng.uniform(0.1, 1.0, n - 2) * (rng.random(n - 2) < 0.5)
            A[b, n - 1, 0] = -0.3
    return torch.tensor(A)


@pytest.mark.parametrize("extra_entry", [False, True])
def test_tree_inverse_equals_lu(extra_entry):
    """The starting basis's inverse, by one scatter per tree level (floors and difference rows) or
    by repeated squaring (a row with more entries), equals LU's; a basis with a cycle is refused."""
    from mechdsl.runtime.dual_simplex import _tree_inverse

    n = 12
    in_basis = _random_tree_basis(64, n, seed=3, extra_entry=extra_entry)
    rows = SparseRows(in_basis)
    basis = torch.arange(n).expand(64, n).contiguous()
    inverse, ok = _tree_inverse(rows, row_forms(rows), basis, torch.ones(64, dtype=torch.bool))
    assert bool(ok.all())
    assert float((inverse - torch.linalg.inv(in_basis)).abs().max()) <= 1e-9 * float(inverse.abs().max())
    cycle = in_basis.clone()
    cycle[:, :2] = 0.0
    cycle[:, 0, 0] = cycle[:, 1, 1] = 1.0
    cycle[:, 0, 1] = cycle[:, 1, 0] = -0.9  # payments 0 and 1 raise each other: nonsingular, no tree
    rows = SparseRows(cycle)
    _, ok = _tree_inverse(rows, row_forms(rows), basis, torch.ones(64, dtype=torch.bool))
    assert not bool(ok.any())


def test_least_point_by_owner_table_equals_scatter(monkeypatch):
    """The least point's rounds by one gather over each payment's rows (`_owner_table`) give the
    same point, tree and convergence as the scatter over all rows."""
    from mechdsl.runtime import dual_simplex
    from mechdsl.runtime.dual_simplex import least_monotone_point

    w, A, c = two_period_lps(128, seed=4, pooled=0.3, monotone=0.8)
    rows = SparseRows(A)
    forms = row_forms(rows)
    assert dual_simplex._owner_table(forms) is not None
    fast = least_monotone_point(rows, forms, c.t().contiguous())
    monkeypatch.setattr(dual_simplex, "_owner_table", lambda forms: None)
    slow = least_monotone_point(rows, forms, c.t().contiguous())
    assert torch.equal(fast[0], slow[0]) and torch.equal(fast[1], slow[1]) and torch.equal(fast[2], slow[2])
    assert int(fast[2].sum()) >= 64


def test_batch_last_storage_gives_the_same_solution():
    """A stored batch last (the (B, m, n) view of an (m, n, B) tensor, as the payment program
    passes it) is read without a transposed copy and solves exactly as the batch-first copy."""
    w, A, c = two_period_lps(96, seed=5, pooled=0.3)
    batch_last = A.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    assert SparseRows(batch_last).batch_last and not SparseRows(A).batch_last
    first, last = solve_dual_simplex(w, A, c), solve_dual_simplex(w, batch_last, c)
    assert int(first.solved.sum()) >= 48
    assert torch.equal(first.solved, last.solved)
    assert torch.equal(first.y[first.solved], last.y[last.solved])
    assert torch.equal(first.multipliers[first.solved], last.multipliers[last.solved])


def test_an_empty_batch_is_solved_empty():
    """No LPs (no state needs a payment LP): empty payments, flags and multipliers of the LPs' sizes."""
    solution = solve_payment_lps(torch.zeros(0, 30, dtype=torch.float64), torch.zeros(0, 180, 30, dtype=torch.float64),
                                 torch.zeros(0, 180, dtype=torch.float64))
    assert solution.y.shape == (0, 30) and solution.solved.shape == (0,) and solution.multipliers.shape == (0, 180)
