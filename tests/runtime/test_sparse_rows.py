"""The rows' pattern that a batch of payment LPs shares (`mechdsl.runtime.sparse_rows`): its
pairs of opposite rows against `linear_program._opposite_rows` LP by LP, and its row forms
against those of each LP alone, on random LPs of a K = 5 two-period contract."""

from __future__ import annotations

import numpy as np
import torch

from mechdsl.runtime.linear_program import _opposite_rows
from mechdsl.runtime.sparse_rows import SparseRows, opposite_rows, row_forms
from payment_lps import K, two_period_lps


def test_opposite_rows_are_the_equalities_of_pooled_types():
    """Two types with the same allocations: their IC rows are an equality pair; found on the
    batch's pattern, the pairs are those `linear_program._opposite_rows` finds in each LP."""
    w, A, c = two_period_lps(64, seed=1, pooled=1.0, monotone=1.0)
    found = opposite_rows(SparseRows(A), c.t()).t()
    assert int(found.sum()) == 64 * 10  # the period-2 IC rows of two pooled types, in each of the K menu rows
    for b in range(64):
        assert np.array_equal(found[b].numpy(), _opposite_rows(A[b].numpy(), c[b].numpy())), b


def test_row_forms_with_and_without_a_shared_sign_pattern():
    """Row forms of a batch whose LPs differ in their sign pattern (computed entry by entry)
    equal those of each LP alone (a batch of one shares its pattern: counts and columns from the
    pattern, own and coefficient gathered)."""
    w, A, c = two_period_lps(6, seed=6, pooled=0.5)
    A[0, 5 + 2 * K] = 0.0            # LP 0 loses a row's entry,
    A[1, 40] = -A[1, 40]             # LP 1 turns a row around
    together = row_forms(SparseRows(A))
    for b in range(6):
        alone = row_forms(SparseRows(A[b:b + 1]))
        for name, field in together._asdict().items():
            assert torch.equal(field[:, b], getattr(alone, name)[:, 0]), (b, name)
