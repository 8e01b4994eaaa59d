"""A batched dual simplex for the payment LPs of generated contract envs, started from the
least solution of their difference constraints.

Every payment LP (`mechdsl.runtime.repair.payment_program`) is, per state b,

    maximize  w^T y   subject to   A y + c >= 0,                               (P)

with y the payments, w <= 0 (each payment costs the principal its probability weight) and, for
every payment v, a floor row (a row whose only entry is A_rv > 0: R >= 0, per-period IR). Its
dual is  minimize c^T z  subject to  A^T z = -w, z >= 0.  A basis is a set of n rows B with A_B
nonsingular; it fixes y_B = A_B^{-1} (-c_B) and z_B = A_B^{-T} (-w) (z = 0 off B). It is optimal
when both are feasible: A y_B + c >= 0 and z_B >= 0 (KKT, Nocedal & Wright, Numerical
Optimization, 2nd ed., Theorem 13.1).

Start: the rows with exactly one positive entry (floors, and the IC rows of one period, which link
two payments of one state: a (t_i - t_j) + c >= 0) are monotone: t_v >= (-(c_r + sum_{u != v}
A_ru t_u)) / A_rv rises with every other payment. Their feasible set is closed under the
componentwise minimum, so its least point is the Kleene fixpoint

    t <- max(floor, max_{r monotone, v(r) = v} (-(c_r + sum_{u != v} A_ru t_u)) / A_rv)    (1)

from the floors (a batched Bellman-Ford: at most n rounds when it converges; a change in round
n + 1 is a cycle of rising payments, and the LP is left to the fallback below). The rows that
last raised each payment (its tight-edge tree) are a basis with A_B = D (I - N), D > 0 diagonal
and N >= 0 nilpotent under the tree's order, so z_B = A_B^{-T}(-w) >= 0 (back-substitution from
the leaves): the basis is dual feasible. Where every row is monotone, (1)'s point is already
optimal for every w <= 0 (it is below every feasible point). The rows that are not (checked per
batch from the numbers; in specs/two_period.mech the IC of period 1, whose slack also holds the
report's period-2 payments weighed by the true type's probabilities: K (K - 1) of the 6 K^2 + K
rows, 20 of 180 at K = 5, where the least point violates about 10 per state) are then brought in
by the dual simplex (Dantzig's rule on the most violated normalised row r; the ratio test
min_{u_i > 0} z_i / u_i with u = A_B^{-T} a_r keeps z >= 0, Harris's two passes pick the largest
u_i among near-ties; A_B^{-1} is updated by Sherman-Morrison). An LP whose dual ray has no
u_i > 0 is infeasible. Measured on that env's LPs at K = 5 (benchmarks/results/payment_lp.md):
28 pivots per LP on average and 63 at most on uniform actions, 34 and 59 on the action box's
corners (rows of period 1 entering, rows of period 2 re-entering after them). Neither the
pricing nor the start shortens that much: the exact steepest edge took the most from 63 to 48
and the mean not at all, and another LP's optimal basis is almost never dual feasible (1 of 768
pairings of the batch on uniform actions, 0 of 768 on corners), so there is no warm start from
a neighbour's or the previous call's bases. Nor along a training run, where the policy's
allocations settle: of 9,931 repair LPs of an EDMSAC run at K = 5 (every 40th batch of the
default preset, about 120 LPs each), 9,809 had distinct optimal bases, and the previous
recorded batch's most frequent basis was dual feasible for 209 of 9,890 LPs and optimal for 1.

Pivots and least point: on the CPU one LP at a time in compiled code (`compiled_pivots`, numba),
everywhere else batched in torch (`_Pivoting`, `least_monotone_point`), by the same rules.
Measured at 256 LPs of that env on one CPU thread (benchmarks/results/payment_lp.md): the solve
takes 0.016 s compiled and 0.041 s batched against 0.22 s for `solve_linear_reliably` on
uniform actions (14x), 0.017 s and 0.046 s against 1.5 s on corners (87x); the compiled pivots
are about 7 ms of it, the least point 1 ms, the pattern, row forms, tree inverse, refinement and
certificate (torch) the rest. Cost of the batched pivots (measured before the compiled ones, at
load 4.5: 0.063 s against 0.34 s on uniform actions): the pivots and
the compaction of the working set about two thirds, a pivot costing about 0.8 ms at 256 LPs
(memory-bound: every row's slack on the pattern, the entering row times A_B^{-1}, its rank-one
update) and 0.17 ms at one (some 50 kernels); the start (pattern, row forms, opposite rows, the
least point, the tree's inverse), the refinement and the certificate the rest. What keeps it
there: the pattern the batch shares gives tables of each row's entries (the entering row of a
pivot, no gather from the dense rows), of each payment's owned rows (a round of (1) is one
gather and one max) and of the pairs of opposite rows (kept per pattern); the tree's inverse is
one scatter per tree level where its rows are floors and difference constraints; each pivot
writes its slacks into buffers of the working set (fresh tensors of that size cost more than the
arithmetic on the CPU); and A may be stored batch last (the payment program's layout), so no
transposed copy of it is made.

The rows are read from the pattern the batch shares, their forms (monotone rows, floors,
difference constraints) and their pairs of opposite rows, which keep their untightened
constants, from `mechdsl.runtime.sparse_rows`.

Every LP's answer is certified like the interior-point method's (`linear_program`): primal
residual, w + A^T z = 0 and the value bound gap + |w + A^T z|_1 |y| against the objective's
scale; an LP that fails, is not of this form (some w_v > 0, a payment without a floor, (1) not
converging) or needs more than PIVOTS pivots is left unsolved for `solve_linear_reliably`
(interior point, then HiGHS), which `solve_payment_lps` runs on those only. Timings (one torch
thread, against that solver on the same LPs): benchmarks/bench_payment_lp.py.
"""

from __future__ import annotations

import torch

from mechdsl.runtime import compiled_pivots
from mechdsl.runtime.linear_program import OPTIMALITY, TOLERANCE, LinearSolution, solve_linear_reliably
from mechdsl.runtime.sparse_rows import RowForms, SparseRows, opposite_rows, row_forms

PIVOTS = 256          # dual simplex pivots before the rest of a batch goes to the interior-point method
FEASIBLE = 1e-12      # a row whose slack is above -FEASIBLE x its scale is met (the LP's margin is 1e-10)
PIVOT_SIZE = 1e-9     # entries u_i of the ratio test below this fraction of max |u| are not pivots
HARRIS = 1e-12        # near-ties of the ratio test, relative to max z: the largest pivot among them wins
COMPACT_EVERY = 2     # pivots between counts of the finished LPs of the working set (one host synchronisation)


def _owner_table(forms: RowForms) -> torch.Tensor | None:
    """(n, k): the rows owned by each payment, ascending, padded with m, if every row is owned by
    the same payment in every LP where it is monotone (one pattern; else None)."""
    m, n = forms.owner.shape[0], int(forms.owner.amax()) + 1
    owner = forms.owner[:, :1]
    if not bool(((owner == forms.owner) | ~forms.monotone).all()):
        return None
    table: list[list[int]] = [[] for _ in range(n)]
    for row, (v, used) in enumerate(zip(owner.squeeze(1).tolist(), forms.monotone.any(1).tolist())):
        if used:
            table[v].append(row)
    width = max(len(rows) for rows in table)
    return torch.tensor([rows + [m] * (width - len(rows)) for rows in table], device=forms.owner.device)


def least_monotone_point(A: SparseRows, forms: RowForms, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(t, parent, converged): the fixpoint (1) of the module docstring for the rows A and
    constants c (m, B): t (n, B), the row that last raised each payment (n, B; the first row
    among ties), and whether (1) converged (B,). A payment without a floor starts at 0 (the
    caller leaves such LPs to others). Where the batch's rows have one owner each
    (`_owner_table`), each round's maxima are one gather and one max over the owned rows."""
    m, n, B = A.m, A.n, c.shape[1]
    table = _owner_table(forms)
    if table is not None and table.shape[0] < n:
        table = torch.cat([table, torch.full((n - table.shape[0], table.shape[1]), m, device=table.device)])
    row_index = torch.arange(m, device=c.device).unsqueeze(1).expand_as(c)
    nothing = torch.full((1, B), float("-inf"), dtype=c.dtype, device=c.device)

    def best_rows(candidate, allowed):
        candidate = torch.where(allowed, candidate, float("-inf"))
        if table is not None:
            best, which = torch.cat([candidate, nothing]).index_select(0, table.view(-1)).view(n, -1, B).max(1)
            return best, table.gather(1, which).clamp(max=m - 1)
        best = torch.full((n, B), float("-inf"), dtype=c.dtype, device=c.device).scatter_reduce_(
            0, forms.owner, candidate, "amax")
        hit = allowed & (candidate == best.gather(0, forms.owner))
        row = torch.full((n, B), m, dtype=torch.long, device=c.device).scatter_reduce_(
            0, forms.owner, torch.where(hit, row_index, m), "amin")
        return best, row.clamp(max=m - 1)

    own_c = c / forms.own
    own_values = A.values / forms.own.index_select(0, A.rows)
    t, parent = best_rows(-own_c, forms.floor)
    t = torch.where(torch.isfinite(t), t, 0.0)
    converged = torch.zeros(B, dtype=torch.bool, device=c.device)
    tolerance = FEASIBLE * (1.0 + c.abs().amax(0))
    for _ in range(n + 1):
        # (-(c_r + sum_{u != v} A_ru t_u)) / A_rv
        candidate = t.gather(0, forms.owner) - (A.times(t, own_values) + own_c)
        best, row = best_rows(candidate, forms.monotone)
        raised = best > t + tolerance
        converged = ~raised.any(0)
        if bool(converged.all()):
            break
        t, parent = torch.where(raised, best, t), torch.where(raised, row, parent)
    return t, parent, converged


def _tree_inverse(rows: SparseRows, forms: RowForms, basis: torch.Tensor,
                  eligible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(A_B^{-1} (B, n, n), ok (B,)) of the tight-edge trees `basis` (B, n) (row basis[b, v]
    raised payment v) of the `eligible` LPs: A_B = D (I - N) with D its (positive) diagonal and N
    nilpotent (the tree has no cycle), so A_B^{-1} = (I + N + ... + N^{n-1}) D^{-1}; ok is False
    where A_B is no such tree (the inverse of the LPs not eligible is the identity).

    Where every row of the trees is a floor or a difference constraint (`RowForms.coefficient`),
    N has at most one entry per row, N_{v p(v)} = g(v) (p(v) = v, g(v) = 0 at a floor), so row v
    of N^k is m_k(v) e_{a_k(v)} with a_k(v) = p(a_{k-1}(v)) and m_k(v) = m_{k-1}(v) g(a_{k-1}(v)):

        (A_B^{-1})_{v a_k(v)} += m_k(v) / D_{a_k(v)},   k = 0, 1, ... until every m_k is 0,

    one scatter per level of the trees (their depth, 5 on specs/two_period.mech at K = 5; m
    stays nonzero on a cycle). Otherwise (rows with more entries) `_squared_inverse`."""
    B, n = basis.shape
    columns = torch.arange(n, device=basis.device).expand(B, n)
    if not bool((eligible.unsqueeze(1) <= (forms.floor | (forms.coefficient != 0)).t().gather(1, basis)).all()):
        identity = torch.eye(n, dtype=forms.own.dtype, device=basis.device)
        return _squared_inverse(torch.where(eligible.view(-1, 1, 1), rows.gathered(basis), identity))
    diagonal = torch.where(eligible.unsqueeze(1), forms.own.t().gather(1, basis), 1.0)
    tree = eligible.unsqueeze(1) <= ((forms.owner.t().gather(1, basis) == columns) & (diagonal > 0))
    parent = torch.where(eligible.unsqueeze(1), forms.other.t().gather(1, basis), columns)
    factor = torch.where(eligible.unsqueeze(1) & tree, forms.coefficient.t().gather(1, basis), 0.0)
    diagonal = torch.where(tree, diagonal, 1.0)
    inverse = torch.zeros(B, n * n, dtype=diagonal.dtype, device=basis.device)
    ancestor, product = columns, torch.ones_like(diagonal)                    # a_0(v) = v, m_0(v) = 1
    for _ in range(n + 1):
        inverse.scatter_add_(1, columns * n + ancestor, product / diagonal.gather(1, ancestor))
        product, ancestor = product * factor.gather(1, ancestor), parent.gather(1, ancestor)
        if not bool(product.any()):
            break
    ok = tree.all(-1) & (product == 0).all(-1)
    return inverse.view(B, n, n), ok


def _squared_inverse(in_basis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`_tree_inverse` for trees of any rows (B, n, n): the sum by repeated squaring, (I + N)(I +
    N^2)(I + N^4)... until N^(2^k) = 0 (2 batched products per doubling), checked against A_B
    A_B^{-1} = I. Batched LU factorisations were slow and erratic on the CPU (measured 0.05-25 s
    for 1,000 30 x 30 matrices)."""
    n = in_basis.shape[-1]
    diagonal = in_basis.diagonal(dim1=-2, dim2=-1)
    safe = torch.where(diagonal > 0, diagonal, 1.0)
    power = -in_basis / safe.unsqueeze(-1)
    power.diagonal(dim1=-2, dim2=-1).zero_()                                  # N = I - D^{-1} A_B
    identity = torch.eye(n, dtype=in_basis.dtype, device=in_basis.device)
    total = identity + power
    for _ in range(max(n - 1, 1).bit_length() - 1):
        power = torch.bmm(power, power)
        if not bool(power.any()):                                              # N^(2^k) = 0: the sum is complete
            break
        total = total + torch.bmm(total, power)
    inverse = total / safe.unsqueeze(-2)
    ok = (diagonal > 0).all(-1) & ((torch.bmm(in_basis, inverse) - identity).abs().amax((-1, -2)) <= 1e-9)
    return inverse, ok


class _Pivoting:
    """The dual simplex's iterates (module docstring) for a batch, pivoting on the LPs not yet
    done: the finished ones leave the working set once they are an eighth of it (checked every
    COMPACT_EVERY pivots, one host synchronisation), so late pivots work on small tensors. y, z
    (B, n), inverse = A_B^{-1} (B, n, n), basis (B, n), done and infeasible (B,); the data batch
    last: the rows scaled by their norms (values (P, B) and c (m, B): slack / norm is
    A.times(y, values) + c), norm (m, B) and level (B,)."""

    def __init__(self, rows: SparseRows, values, c, norm, level, y, z, inverse, basis, done, infeasible):
        self.full = [y, z, inverse, basis, done, infeasible]
        padded = torch.cat([values, values.new_zeros(1, rows.batch)])           # a 0 entry last (`row_of`)
        self.A, self.data = rows, (padded, c, norm, level)
        self.rows = (~done).nonzero().squeeze(1)
        self.part = [whole.index_select(0, self.rows) for whole in self.full]
        self.working = self._working()

    def _working(self):
        values, c, norm, level = self.data
        self.products = torch.empty(values.shape[0] - 1, self.rows.numel(), dtype=values.dtype, device=values.device)
        self.slack = torch.empty(c.shape[0], self.rows.numel(), dtype=c.dtype, device=c.device)
        return (values.index_select(1, self.rows), c.index_select(1, self.rows), norm.index_select(1, self.rows),
                level.index_select(0, self.rows))

    def _scaled_slack(self, y: torch.Tensor, values: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """A y + c scaled by the rows' norms (m, B') into the working set's own buffers (fresh
        tensors of this size cost more than the products themselves on the CPU)."""
        torch.index_select(y.t().contiguous(), 0, self.A.columns, out=self.products).mul_(values[:-1])
        return self.slack.copy_(c).index_add_(0, self.A.rows, self.products)

    def compact(self) -> bool:
        """Moves the finished LPs of the working set back once they are an eighth of it; False
        when none is left."""
        done = self.part[4]
        finished = int(done.sum())
        if finished == 0 or (finished < done.numel() and 8 * finished < done.numel()):
            return True
        leaving, staying = done.nonzero().squeeze(1), (~done).nonzero().squeeze(1)
        where = self.rows.index_select(0, leaving)
        for whole, piece in zip(self.full, self.part):
            whole.index_copy_(0, where, piece.index_select(0, leaving))
        self.rows = self.rows.index_select(0, staying)
        if self.rows.numel() == 0:
            self.part = None
            return False
        self.part = [piece.index_select(0, staying) for piece in self.part]
        self.working = self._working()
        return True

    def pivot(self) -> None:
        """One pivot of every unfinished LP of the working set (its tensors are its own: updated in
        place). The entering row is taken scaled, a_r / s_r (s_r = max_v |A_rv|): u' = u / s_r gives
        the same ratio test, 1 / u'_i = s_r / u_i, and the updates below carry s_r where it stays."""
        values, c, norm, level = self.working
        y, z, inverse, basis, done, infeasible = self.part
        B, n = y.shape
        worst, entering = self._scaled_slack(y, values, c).min(0)              # the most violated row / its norm
        r = entering.unsqueeze(1)
        done |= worst >= level
        u = torch.bmm(self.A.row_of(entering, values).unsqueeze(1), inverse).squeeze(1)  # u' = A_B^{-T} a_r / s_r
        # the ratio test over the pivots u_i > PIVOT_SIZE max |u| (elsewhere u_i = 0: z_i / 0 is inf or
        # NaN, never below the bound); Harris: the largest pivot among the ratios within the bound
        candidate = torch.where(u > PIVOT_SIZE * u.abs().amax(-1, keepdim=True), u, 0.0)
        bound = ((z + HARRIS * (1.0 + z.amax(-1, keepdim=True))) / candidate).amin(-1, keepdim=True)
        i = torch.where(z / candidate <= bound, candidate, 0.0).argmax(-1, keepdim=True)
        stuck = torch.isinf(bound.squeeze(1)) & ~done                           # a dual ray: (P) is infeasible
        infeasible |= stuck
        done |= stuck
        gain = torch.where(done.unsqueeze(1), 0.0, 1.0 / u.gather(1, i))        # 1 / u'_i, 0 where nothing moves
        unscaled = gain / norm.gather(0, r.t()).t()                             # 1 / u_i
        column = inverse.gather(2, i.view(B, 1, 1).expand(B, n, 1))            # A_B^{-1} e_i (B, n, 1)
        y.addcmul_(column.squeeze(-1), worst.unsqueeze(1) * gain, value=-1.0)  # y - A_B^{-1} e_i slack_r / u_i
        # Sherman-Morrison: A_B^{-1} - A_B^{-1} e_i (u - e_i)^T / u_i once row i of A_B is a_r
        change = (u * gain).scatter_add_(1, i, -unscaled)
        inverse.baddbmm_(column, change.unsqueeze(1), alpha=-1.0)
        dual_step = z.gather(1, i) * unscaled                                   # z_i / u_i
        z.addcmul_(z.gather(1, i) * gain, u, value=-1.0).clamp_(min=0.0).scatter_(1, i, dual_step)
        basis.scatter_(1, i, torch.where(done.unsqueeze(1), basis.gather(1, i), r))

    def results(self):
        if self.part is not None:
            for whole, piece in zip(self.full, self.part):
                whole.index_copy_(0, self.rows, piece)
            self.part = None
        return self.full


def _compiled(tensor: torch.Tensor) -> bool:
    """Whether the LPs of `tensor`'s device and dtype run compiled (`compiled_pivots`): float64 on
    the CPU where numba is installed."""
    return compiled_pivots.AVAILABLE and tensor.device.type == "cpu" and tensor.dtype == torch.float64


def _least_point(rows: SparseRows, forms: RowForms, c: torch.Tensor):
    """`least_monotone_point`, compiled per LP where `_compiled`."""
    if _compiled(c):
        return compiled_pivots.least_point(rows.row_start, rows.columns, rows.values, c, forms, rows.n, FEASIBLE)
    return least_monotone_point(rows, forms, c)


def _pivoted(rows: SparseRows, values, c, norm, level, y, z, inverse, basis, done, infeasible, pivots: int):
    """(y, z, inverse, basis, done, infeasible) after at most `pivots` rounds of pivots (the
    module docstring's rule) of every LP not done: compiled, one LP at a time, on the CPU where
    numba is installed (`compiled_pivots`), else batched in torch (`_Pivoting`); the same rule,
    so the same pivots up to the order of floating-point sums."""
    if _compiled(y):
        compiled_pivots.pivot_lps(rows.row_start, rows.columns, values, c, norm, level, y, z, inverse, basis, done,
                                  infeasible, pivots, PIVOT_SIZE, HARRIS)
        return y, z, inverse, basis, done, infeasible
    state = _Pivoting(rows, values, c, norm, level, y, z, inverse, basis, done, infeasible)
    for pivot in range(pivots):
        if pivot % COMPACT_EVERY == 0 and not state.compact():
            break
        state.pivot()
    return state.results()


def solve_dual_simplex(w: torch.Tensor, A: torch.Tensor, c: torch.Tensor, loose: torch.Tensor | None = None,
                       pivots: int = PIVOTS) -> LinearSolution:
    """(y, solved, multipliers) of (P) for w (B, n), A (B, m, n), c (B, m) by the module
    docstring's method; solved is False where it does not apply or its certificate fails. A
    caller that tightened c by a margin passes the untightened constants as `loose`: the pairs of
    opposite rows (`opposite_rows`) keep those, as `solve_linear_reliably`'s HiGHS step does.
    Runs with subnormal floats flushed to zero on the CPU, as `solve_linear` does (an LP left to
    others carries arbitrary numbers, and subnormal ones slow every operation on its batch)."""
    flushed = A.device.type == "cpu" and torch.set_flush_denormal(True)
    try:
        return _solve_dual_simplex(w, A, c, loose, pivots)
    finally:
        if flushed:
            torch.set_flush_denormal(False)


def _solve_dual_simplex(w, A, c, loose, pivots) -> LinearSolution:
    B, m, n = A.shape
    if B == 0 or m == 0:  # no LP, or LPs without rows (left unsolved: no floors)
        return LinearSolution(w.new_zeros(B, n), torch.zeros(B, dtype=torch.bool, device=A.device), w.new_zeros(B, m))
    w = w.contiguous()  # a strided w (the caller's transpose) sends bmm to a per-matrix loop
    rows = SparseRows(A)
    norm = rows.per_row(rows.values.abs(), "amax").clamp(min=torch.finfo(A.dtype).tiny)
    c_rows = torch.where(torch.isfinite(c), c, 0.0).t().contiguous()           # (m, B)
    if loose is not None:
        loose_rows = torch.where(torch.isfinite(loose), loose, 0.0).t()
        c_rows = torch.where(opposite_rows(rows, loose_rows, norm), loose_rows, c_rows)
    forms = row_forms(rows)
    floored = torch.zeros(n + 1, B, dtype=torch.bool, device=A.device).scatter_(
        0, torch.where(forms.floor, forms.owner, n), True)[:n].all(0)
    eligible = floored & (w <= 0).all(-1) & torch.isfinite(rows.values).all(0) & torch.isfinite(c).all(-1)
    _, parent, converged = _least_point(rows, forms, c_rows)
    eligible = eligible & converged  # else a cycle of rising payments: infeasible, or slow to converge (left to others)
    basis = parent.t().contiguous()
    inverse, tree = _tree_inverse(rows, forms, basis, eligible)
    eligible = eligible & tree
    c_basis = c_rows.t().gather(1, basis)
    y = torch.bmm(inverse, -c_basis.unsqueeze(-1)).squeeze(-1)                 # y_B = A_B^{-1} (-c_B)
    z = -torch.bmm(w.unsqueeze(1), inverse).squeeze(1)                        # z_B = A_B^{-T} (-w)
    eligible = eligible & (z >= -HARRIS * (1.0 + z.abs().amax(-1, keepdim=True))).all(-1)
    scaled_c = c_rows / norm
    level = -FEASIBLE * (1.0 + scaled_c.abs().amax(0))                        # the least slack / norm of a met row
    scaled_values = rows.values / norm.index_select(0, rows.rows)
    y, z, inverse, basis, done, infeasible = _pivoted(rows, scaled_values, scaled_c, norm, level, y.contiguous(),
                                                      z.clamp(min=0.0), inverse.contiguous(), basis, ~eligible,
                                                      torch.zeros_like(eligible), pivots)
    # one step of iterative refinement against the drift of the Sherman-Morrison updates, the
    # residuals -c_B - A_B y and -w - A_B^T z by products on the pattern
    slack = (rows.times(y.t().contiguous()) + c_rows).t().gather(1, basis)      # (A y + c)_B
    y = y - torch.bmm(inverse, slack.unsqueeze(-1)).squeeze(-1)
    on_rows = torch.zeros(B, m, dtype=A.dtype, device=A.device).scatter_(1, basis, z)
    dual = w + rows.transposed_times(on_rows.t().contiguous()).t()             # w + A_B^T z
    z = z - torch.bmm(dual.unsqueeze(1), inverse).squeeze(1)
    multipliers = torch.zeros(B, m, dtype=A.dtype, device=A.device).scatter_add_(1, basis, z.clamp(min=0.0))
    solved = done & eligible & ~infeasible & _certified(w, rows, c_rows, norm, y, multipliers)
    return LinearSolution(y, solved, multipliers)


def _certified(w, rows: SparseRows, c, norm, y, z) -> torch.Tensor:
    """The interior-point method's certificate (`linear_program._maximize_linear`) for y (B, n),
    z (B, m) and the batch-last c, norm (m, B): primal residual within TOLERANCE of the data's
    scale, and gap + |w + A^T z|_1 |y|_inf, a bound on the value lost to the optimum, within
    OPTIMALITY of the objective's scale."""
    slack = rows.times(y.t().contiguous()) + c
    magnitude = 1.0 + c.abs().amax(0) + norm.amax(0) * rows.n * (1.0 + y.abs().amax(-1))
    dual = (w.t() + rows.transposed_times(z.t().contiguous())).abs().sum(0)
    gap = (z.t() * slack).sum(0).abs()
    value_scale = 1.0 + w.abs().amax(-1) * magnitude
    return (torch.isfinite(y).all(-1) & torch.isfinite(z).all(-1) & (z >= 0).all(-1)
            & (slack.amin(0) >= -TOLERANCE * magnitude) & (gap + dual * y.abs().amax(-1) <= OPTIMALITY * value_scale))


def solve_payment_lps(w: torch.Tensor, A: torch.Tensor, c: torch.Tensor, start: torch.Tensor | None = None,
                      fallback_c: torch.Tensor | None = None) -> LinearSolution:
    """`solve_dual_simplex` (with `fallback_c` as its `loose`), then `solve_linear_reliably`
    (interior point, then HiGHS; same arguments) on the LPs it left unsolved."""
    solution = solve_dual_simplex(w, A, c, fallback_c)
    missing = (~solution.solved).nonzero().squeeze(1)
    if missing.numel() == 0:
        return solution
    rest = solve_linear_reliably(w[missing], A[missing], c[missing], None if start is None else start[missing],
                                 None if fallback_c is None else fallback_c[missing])
    y, solved, z = solution.y.clone(), solution.solved.clone(), solution.multipliers.clone()
    y[missing], solved[missing], z[missing] = rest.y, rest.solved, rest.multipliers
    return LinearSolution(y, solved, z)


__all__ = ["least_monotone_point", "solve_dual_simplex", "solve_payment_lps"]
