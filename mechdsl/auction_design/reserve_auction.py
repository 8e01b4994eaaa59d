"""The second-price auction of one item with a reserve price per bidder, and its exact
expected objective: the fixed helpers of the compiled auction env (`codegen.compile_auction`),
which the generated package imports; the package keeps only the spec's laws and numbers.

The mechanism (eager reserves): bidder i is eligible when its bid b_i >= r_i; the highest
eligible bid wins and pays max(r_i, the highest other eligible bid); nobody eligible, no sale.
Its allocation is monotone in b_i and the payment is the threshold bid, so it is DSIC and ex
post IR for any reserves (Myerson 1981, lemma 2). With i.i.d. regular bidders and
r_i = r* (phi(r*) = 0) it is Myerson's optimal auction; with asymmetric bidders Myerson ranks
by virtual value, which no choice of reserves imitates, so its optimum is then out of reach.

Expected objective, exact up to quadrature (no sampling). With independent values, bidder i
with value v >= r_i wins with probability

    W_i(v) = prod_{j != i} P(v_j < max(r_j, v)) = prod_{j != i} F_j(max(r_j, v)),

and by Myerson's lemma (revenue = expected virtual surplus; it needs U_i(low_i) = 0, which
holds because reserves stay in [low_i, high_i]) the objective w * revenue + (1 - w) * welfare is

    J(r) = sum_i int_{r_i}^{high_i} (v f_i(v) - w (1 - F_i(v))) W_i(v) dv,

(w = 1 revenue, w = 0 welfare). The integrand has kinks where v crosses another bidder's r_j,
low_j or high_j, so [r_i, high_i] is split there and at SUPPORT_PIECES equally spaced points of
bidder i's support, and each piece is integrated by Gauss-Legendre (exact for uniform values,
where the integrand is a polynomial of degree <= n + 1 piece by piece). The nodes move with r, so J is differentiable in the reserves (Leibniz's rule through
the moving limits), which the amortized learner uses.

Several items, additive values independent across items (`itemwise_revenue_and_welfare`):
each item j is sold separately by the auction above with its own reserves r_{.j}. A bidder's
utility is the sum of its utilities in the m auctions, each of which depends only on its bid
for that item, so truth-telling stays dominant and ex post IR holds item by item; revenue and
welfare add over items, J(r) = sum_j J_j(r_{.j}), J_j being the single-item J with item j's
value laws F_{ij}. Its best reserves are each item's best (item-wise Myerson), which for
several items is below the optimal mechanism (bundling and lotteries earn more: Manelli and
Vincent 2006 for one bidder and two U[0, 1] items, 0.5492 > 2 x 1/4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

QUADRATURE_NODES = 8   # Gauss-Legendre nodes per piece
SUPPORT_PIECES = 32    # each bidder's support is also cut into this many equal pieces (a narrow normal
                       # over mean +- 8 sd needs them: one 16-node piece was off by 5e-3 on N(1, 0.2))

Law = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class BidderLaw:
    """One bidder's value law as torch functions of the value: cdf F, density f, and the
    (numeric) support [low, high] outside of which F is 0 or 1."""

    cdf: Law
    pdf: Law
    low: float
    high: float

    def cdf_at(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) for v in the support, as a tensor shaped like v (a constant law part is a float)."""
        return torch.as_tensor(self.cdf(v), dtype=v.dtype, device=v.device).expand_as(v)

    def pdf_at(self, v: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.pdf(v), dtype=v.dtype, device=v.device).expand_as(v)

    def clamped_cdf(self, v: torch.Tensor) -> torch.Tensor:
        return self.cdf_at(v.clamp(self.low, self.high))


def reserves_from_action(action: torch.Tensor, laws: Sequence[BidderLaw]) -> torch.Tensor:
    """r_i = low_i + (high_i - low_i) (a_i + 1) / 2 for a in [-1, 1]^n (clamped): every reserve
    in the support is reached, Myerson's r* included; one below it earns no more."""
    low, high = _support(laws, action)
    return low + (high - low) * (action.clamp(-1.0, 1.0) + 1.0) / 2.0


def action_from_reserves(reserves: torch.Tensor, laws: Sequence[BidderLaw]) -> torch.Tensor:
    """The inverse of `reserves_from_action` (reserves clamped to the supports)."""
    low, high = _support(laws, reserves)
    return 2.0 * (reserves.clamp(min=low, max=high) - low) / (high - low) - 1.0


def _support(laws: Sequence[BidderLaw], like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    low = torch.tensor([law.low for law in laws], dtype=like.dtype, device=like.device)
    high = torch.tensor([law.high for law in laws], dtype=like.dtype, device=like.device)
    return low, high


def _gauss_legendre(nodes: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights on [0, 1]."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    return (torch.tensor((x + 1.0) / 2.0, dtype=like.dtype, device=like.device),
            torch.tensor(w / 2.0, dtype=like.dtype, device=like.device))


def _pieces(reserves: torch.Tensor, low: torch.Tensor, high: torch.Tensor, pieces: int) -> torch.Tensor:
    """Sorted edges (B, n, P) of the pieces of [r_i, high_i]: its ends, every other bidder's
    r_j, low_j and high_j, and `pieces` equal cuts of bidder i's support, all clamped into it."""
    batch, n = reserves.shape
    fractions = torch.arange(1, pieces, dtype=reserves.dtype, device=reserves.device) / pieces
    cuts = (low[:, None] + (high - low)[:, None] * fractions).expand(batch, n, -1)           # (B, n, pieces - 1)
    others = torch.cat([reserves, low.expand(batch, n), high.expand(batch, n)], dim=1)        # (B, 3n)
    points = torch.cat([others.unsqueeze(1).expand(batch, n, 3 * n), cuts], dim=2)
    start, end = reserves.unsqueeze(2), high.expand(batch, n).unsqueeze(2)
    points = torch.minimum(torch.maximum(points, start), end)
    return torch.sort(torch.cat([start, end, points], dim=2), dim=2).values


def expected_revenue_and_welfare(reserves: torch.Tensor, laws: Sequence[BidderLaw], nodes: int = QUADRATURE_NODES,
                                 pieces: int = SUPPORT_PIECES) -> tuple[torch.Tensor, torch.Tensor]:
    """(revenue, welfare) per row of `reserves` (B, n): J(r) of the module docstring at w = 1
    and at w = 0; the objective is w revenue + (1 - w) welfare. (Bidder i's own r_i, low_i and
    high_i among its edges only add empty or harmless pieces.)"""
    t, weight = _gauss_legendre(nodes, reserves)
    low, high = _support(laws, reserves)
    edges = _pieces(reserves, low, high, pieces)                                              # (B, n, P)
    width = edges[..., 1:] - edges[..., :-1]
    v = edges[..., :-1, None] + width[..., None] * t                                          # (B, n, P - 1, Q)
    dv = width[..., None] * weight
    n = len(laws)
    wins = torch.ones_like(v)
    for j, law in enumerate(laws):   # F_j(max(r_j, v)) for every bidder i's nodes; bidder j itself gets 1
        factor = law.clamped_cdf(torch.maximum(reserves[:, j, None, None, None], v))
        mine = torch.arange(n, device=v.device).view(1, n, 1, 1) == j
        wins = wins * torch.where(mine, torch.ones_like(factor), factor)
    revenue = reserves.new_zeros(reserves.shape[0])
    welfare = reserves.new_zeros(reserves.shape[0])
    for i, law in enumerate(laws):
        inside = v[:, i].clamp(law.low, law.high)
        mass = inside * law.pdf_at(inside)
        share = wins[:, i] * dv[:, i]
        revenue = revenue + ((mass - (1.0 - law.cdf_at(inside))) * share).sum((1, 2))
        welfare = welfare + (mass * share).sum((1, 2))
    return revenue, welfare


def itemwise_revenue_and_welfare(reserves: torch.Tensor, laws: Sequence[BidderLaw], items: int,
                                 nodes: int = QUADRATURE_NODES, pieces: int = SUPPORT_PIECES
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(revenue, welfare) per row of `reserves` (B, n * items) when each item is sold by its own
    second-price auction with reserves: J(r) = sum_j J_j(r_{.j}) (module docstring). Columns and
    laws are bidder-major: entry i * items + j is bidder i's reserve for (law of) item j. With
    items = 1 this is `expected_revenue_and_welfare`."""
    bidders, rest = divmod(len(laws), items)
    if rest or reserves.shape[1] != len(laws):
        raise ValueError(f"{reserves.shape[1]} reserves and {len(laws)} laws are not {items} per bidder")
    grid = reserves.reshape(reserves.shape[0], bidders, items)
    revenue = reserves.new_zeros(reserves.shape[0])
    welfare = reserves.new_zeros(reserves.shape[0])
    for j in range(items):
        item_revenue, item_welfare = expected_revenue_and_welfare(grid[:, :, j], laws[j::items], nodes, pieces)
        revenue, welfare = revenue + item_revenue, welfare + item_welfare
    return revenue, welfare
