"""The nonzero pattern that a batch of payment LPs shares, the forms of its rows, and its pairs
of opposite rows: the data that `mechdsl.runtime.dual_simplex` reads the LPs  A y + c >= 0  from.

Pattern (`SparseRows`): the B LPs' A (B, m, n) are stored on the union of their nonzero
patterns, the entries (r_p, v_p), p = 1..P, in row-major order, with the values A[b, r_p, v_p]
(P, B), batch last. Products are sums over the entries, (A y)_r = sum_{p: r_p = r} A_{r_p v_p}
y_{v_p} and (A^T z)_v = sum_{p: v_p = v} A_{r_p v_p} z_{r_p}, and a row's dense form comes from
tables of each row's entries.

Row forms (`row_forms`): a row is monotone when it has exactly one positive entry A_rv (v is its
owner): t_v >= (-(c_r + sum_{u != v} A_ru t_u)) / A_rv then rises with every other payment (the
dual simplex's start, (1) of its docstring). A monotone row is a floor when that entry is its
only one (R >= 0, per-period IR), and a difference constraint when it has exactly one other,
A_ru < 0: t_v >= g t_u - c_r / A_rv with g = -A_ru / A_rv > 0 (the IC rows of one period,
a (t_i - t_j) + c >= 0, have g = 1).

Pairs of opposite rows (`opposite_rows`; types pooled by equal allocations: t_i - t_j >= d and
t_j - t_i >= -d): rows i and j with A_j / |A_j| = -A_i / |A_i| and c_j / |A_j| = -c_i / |A_i|
are together the equality A_i y + c_i = 0, so a caller's margin on both would leave no feasible
point; they keep their untightened constants, as `solve_linear_reliably`'s HiGHS step does.
Only rows with the same payments are compared, and those pairs are found once per pattern and
kept (an env's LPs share one from call to call).
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class SparseRows:
    """A (B, m, n) as its values (P, B) on the nonzero pattern (rows, columns) (P,, row-major)
    that the batch shares (the union of its LPs' patterns), batch last: the payment LPs have 2-3
    payments per row on average, so products on the pattern take a tenth of the dense ones. A
    may be stored batch first or batch last (a permuted view of an (m, n, B) tensor, as the
    payment program builds it); whole rows are gathered from either, with no transposed copy."""

    def __init__(self, A: torch.Tensor):
        self.batch, self.m, self.n = A.shape
        batch_last = A.permute(1, 2, 0)
        self.batch_last = batch_last.is_contiguous() and not A.is_contiguous()
        if self.batch_last:
            self.storage = batch_last                                          # (m, n, B)
            used = (batch_last.amax(-1) != 0) | (batch_last.amin(-1) != 0)
        else:
            self.storage = A.contiguous().view(-1, self.n)                     # (B m, n)
            used = (A.amax(0) != 0) | (A.amin(0) != 0)  # two reductions: a third of (A != 0).any(0)'s time
        self.rows, self.columns = used.nonzero(as_tuple=True)
        if self.batch_last:
            self.values = batch_last.reshape(-1, self.batch).index_select(0, self.rows * self.n + self.columns)
        else:
            self.values = batch_last[self.rows, self.columns].contiguous()
        # row r's entries as (width, m) tables of pattern indices (P: a zero entry appended by the
        # caller) and columns, for `row_of`
        lengths = torch.bincount(self.rows, minlength=self.m)
        self.row_start = torch.cat([lengths.new_zeros(1), torch.cumsum(lengths, 0)])  # row r: entries row_start[r]..[r + 1]
        offset = torch.arange(int(lengths.max()) if self.rows.numel() else 0, device=A.device).unsqueeze(1)
        present = offset < lengths
        self.entry_table = torch.where(present, torch.cumsum(lengths, 0) - lengths + offset, self.rows.numel())
        padded_columns = torch.cat([self.columns, self.columns.new_zeros(1)])
        self.column_table = torch.where(present, padded_columns[self.entry_table], 0)

    def per_row(self, entries: torch.Tensor, reduce: str = "sum") -> torch.Tensor:
        """The entries (P, B) reduced over each row (m, B)."""
        out = torch.zeros(self.m, entries.shape[1], dtype=entries.dtype, device=entries.device)
        if reduce == "sum":
            return out.index_add_(0, self.rows, entries)
        return out.scatter_reduce_(0, self.rows.unsqueeze(1).expand_as(entries), entries, reduce, include_self=False)

    def times(self, y: torch.Tensor, values: torch.Tensor | None = None) -> torch.Tensor:
        """A y (m, B) for y (n, B) (the LPs of `values`, default all)."""
        return self.per_row((self.values if values is None else values) * y.index_select(0, self.columns))

    def transposed_times(self, z: torch.Tensor) -> torch.Tensor:
        """A^T z (n, B) for z (m, B)."""
        out = torch.zeros(self.n, z.shape[1], dtype=z.dtype, device=z.device)
        return out.index_add_(0, self.columns, self.values * z.index_select(0, self.rows))

    def row_of(self, r: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """The dense rows r (B',) (B', n) of the LPs of `values` (P + 1, B': the entries, scaled or
        not, and a 0 last), from the pattern: no gather from the dense storage."""
        entries = values.gather(0, self.entry_table.index_select(1, r))                  # (width, B')
        out = torch.zeros(r.shape[0], self.n, dtype=values.dtype, device=values.device)
        return out.scatter_add_(1, self.column_table.index_select(1, r).t(), entries.t())

    def gathered(self, rows: torch.Tensor, lps: torch.Tensor | None = None) -> torch.Tensor:
        """The rows A[b, rows[i, k]] (B', k, n) for rows (B', k) of the LPs b = lps[i] (B', 1)
        (default: every LP)."""
        if lps is None:
            lps = torch.arange(self.batch, device=rows.device).unsqueeze(1)
        if self.batch_last:
            entries = torch.arange(self.n, device=rows.device) * self.batch
            return self.storage.take((rows * (self.n * self.batch) + lps).unsqueeze(-1) + entries)
        return self.storage.index_select(0, (rows + lps * self.m).view(-1)).view(*rows.shape, self.n)


class RowForms(NamedTuple):
    """Per row of a batch of LPs (m, B): monotone (exactly one positive entry), floor (that entry
    alone), owner (the column of that entry; 0 elsewhere), own (its value on monotone rows, 1
    elsewhere), and for the monotone rows with exactly one other entry
    (difference constraints, a (t_v - t_u) + c >= 0 up to scale) other (the column u of that
    entry) and coefficient (-A_ru / A_rv > 0; 0 and u = v on every other row)."""

    monotone: torch.Tensor
    floor: torch.Tensor
    owner: torch.Tensor
    own: torch.Tensor
    other: torch.Tensor
    coefficient: torch.Tensor


def row_forms(A: SparseRows) -> RowForms:
    """The rows' forms from per-row sums of one scatter: entries, positive entries, and the
    columns and values of the positive and the negative ones (the owner and the other payment
    where there is one). Where the batch shares its sign pattern (one env's LPs do), the counts
    and columns come from the pattern alone and only own and coefficient from every LP."""
    values = A.values
    sign = values.sign()
    shared = A.rows.numel() > 0 and bool((sign == sign[:, :1]).all())
    pattern = sign[:, :1] if shared else values
    columns = A.columns.unsqueeze(1).to(values.dtype)
    positive, negative = (pattern > 0).to(values.dtype), (pattern < 0).to(values.dtype)
    features = [positive + negative, positive, positive * columns, negative * columns]
    if shared:  # the pattern index of each row's positive and negative entry (the only ones where it counts)
        index = torch.arange(values.shape[0], device=values.device).unsqueeze(1).to(values.dtype)
        features += [positive * index, negative * index]
    else:
        features += [positive * values, negative * values]
    sums = torch.zeros(6, A.m, pattern.shape[1], dtype=values.dtype, device=values.device).index_add_(
        1, A.rows, torch.stack(features))
    entries, positives, owner, other, own, pulling = sums.unbind(0)
    monotone = positives == 1
    difference = monotone & (entries == 2)
    if shared:
        own = values.index_select(0, torch.where(monotone, own, 0.0).round().long().squeeze(1))
        pulling = values.index_select(0, torch.where(difference, pulling, 0.0).round().long().squeeze(1))
        entries, monotone, difference, owner, other = (t.expand(A.m, A.batch) for t in
                                                       (entries, monotone, difference, owner, other))
    floor = monotone & (entries == 1)
    own = torch.where(monotone, own, 1.0)
    owner = torch.where(monotone, owner, 0.0).round().long()
    other = torch.where(difference, other, owner.to(values.dtype)).round().long()
    return RowForms(monotone, floor, owner, own, other, torch.where(difference, -pulling / own, 0.0))


def opposite_rows(rows: SparseRows, loose: torch.Tensor, norm: torch.Tensor | None = None) -> torch.Tensor:
    """(m, B): rows i of A y + loose >= 0 with a row j pointing the other way (A_j / |A_j| = -A_i /
    |A_i| and loose_j / |A_j| = -loose_i / |A_i|, to rounding; `linear_program._opposite_rows`,
    batched): the pair is an equality, which a margin on both rows would make infeasible. Only
    rows with the same payments are compared (pairs found once on the batch's pattern), entry by
    entry on the pattern (its entries of one row are in column order, so two rows with the same
    payments list them alike); `norm` (m, B) is max_v |A_rv| if the caller has it."""
    pairs = _pattern_pairs(rows)
    found = torch.zeros(rows.m, rows.batch, dtype=torch.bool, device=loose.device)
    if pairs is None:
        return found
    first, second, first_entries, second_entries, pair_of_entry = (t.to(loose.device) for t in pairs)
    if norm is None:
        norm = rows.per_row(rows.values.abs(), "amax").clamp(min=torch.finfo(rows.values.dtype).tiny)
    unit = rows.values / norm.index_select(0, rows.rows)                       # A_rv / |A_r| on the pattern
    apart = (unit.index_select(0, first_entries) + unit.index_select(0, second_entries)).abs()
    same = torch.zeros(first.numel(), rows.batch, dtype=unit.dtype, device=unit.device).scatter_reduce_(
        0, pair_of_entry.unsqueeze(1).expand_as(apart), apart, "amax") <= 1e-12
    level_i = loose.index_select(0, first) / norm.index_select(0, first)
    level_j = loose.index_select(0, second) / norm.index_select(0, second)
    close = (level_i + level_j).abs() <= 1e-9 * (1.0 + level_i.abs())
    return found.index_put_((first,), same & close, accumulate=True)


_PAIRS: dict = {}


def _pattern_pairs(rows: SparseRows):
    """(first, second, first_entries, second_entries, pair_of_entry) of the ordered pairs of
    distinct rows with the same payments on the batch's pattern (None if there is none): the rows
    of each pair, and for every entry of a pair's first row its index in the pattern, the
    index of the same payment's entry in the second row, and the pair's number. Kept per pattern
    (an env's LPs share one from call to call)."""
    key = (rows.m, rows.n, rows.rows.cpu().numpy().tobytes(), rows.columns.cpu().numpy().tobytes())
    if key in _PAIRS:
        return _PAIRS[key]
    entries: dict[int, list[int]] = {}
    for index, row in enumerate(rows.rows.tolist()):
        entries.setdefault(row, []).append(index)
    columns = rows.columns.tolist()
    groups: dict[tuple[int, ...], list[int]] = {}
    for row, indices in entries.items():
        groups.setdefault(tuple(columns[k] for k in indices), []).append(row)
    pairs = [(i, j) for group in groups.values() for i in group for j in group if i != j]
    found = None
    if pairs:
        first_entries = [k for i, _ in pairs for k in entries[i]]
        second_entries = [k for _, j in pairs for k in entries[j]]
        pair_of_entry = [p for p, (i, _) in enumerate(pairs) for _ in entries[i]]
        found = tuple(torch.tensor(x) for x in (*zip(*pairs), first_entries, second_entries, pair_of_entry))
    if len(_PAIRS) > 64:
        _PAIRS.clear()
    _PAIRS[key] = found
    return found


__all__ = ["RowForms", "SparseRows", "opposite_rows", "row_forms"]
