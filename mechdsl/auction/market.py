"""A batch of single-unit double-auction markets, validated and put in order.

Every market in the batch has ``n`` buyers and ``m`` sellers. Buyer ``i`` wants at
most one unit and values it at ``values[:, i]``; seller ``j`` owns exactly one unit and
parts with it at cost ``costs[:, j]`` (single-unit demand and supply, the setting of
McAfee 1992 and Segal-Halevi, Hassidim & Aumann 2016).

Order statistics (1-based, as in the papers)::

    b_1 >= b_2 >= ... >= b_n        buyers' values, descending
    s_1 <= s_2 <= ... <= s_m        sellers' costs, ascending

Ties are broken by agent index (lower index ranks first) through a stable sort, so every
mechanism in this package is a deterministic function of the reports (plus its lottery).
The sentinels ``b_0 = +inf``, ``b_{n+1} = -inf``, ``s_0 = -inf``, ``s_{m+1} = +inf``
make ``b_k``, ``b_{k+1}``, ``s_k``, ``s_{k+1}`` defined for every ``k`` in ``0..min(n, m)``.

The efficient number of trades is ``k = max{t : b_t >= s_t}`` (0 if none). Because ``b``
falls and ``s`` rises, ``{t : b_t >= s_t}`` is a prefix of ``1..min(n, m)`` and ``k`` is
simply its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SortedMarket:
    """A validated batch of markets with its order statistics.

    Attributes:
        values: (B, n) buyers' reported values.
        costs: (B, m) sellers' reported costs.
        bids: (B, n + 2) with ``bids[:, t] = b_t`` for ``t = 0..n+1`` (sentinels included).
        asks: (B, m + 2) with ``asks[:, t] = s_t`` for ``t = 0..m+1``.
        buyer_rank: (B, n) int64, the 1-based rank ``t`` of each buyer (``b_t`` is its value).
        seller_rank: (B, m) int64, the 1-based rank of each seller.
        buyer_order: (B, n) int64, ``buyer_order[:, t - 1]`` is the index of the rank-t buyer.
        seller_order: (B, m) int64, likewise for sellers.
        efficient_trades: (B,) int64, ``k = max{t : b_t >= s_t}``.
    """

    values: Tensor
    costs: Tensor
    bids: Tensor
    asks: Tensor
    buyer_rank: Tensor
    seller_rank: Tensor
    buyer_order: Tensor
    seller_order: Tensor
    efficient_trades: Tensor

    @property
    def num_buyers(self) -> int:
        return self.values.shape[1]

    @property
    def num_sellers(self) -> int:
        return self.costs.shape[1]

    def bid(self, t: Tensor) -> Tensor:
        """``b_t`` per market for a (B,) int64 tensor of ranks in ``0..n+1``."""
        return self.bids.gather(1, t.unsqueeze(1)).squeeze(1)

    def ask(self, t: Tensor) -> Tensor:
        """``s_t`` per market for a (B,) int64 tensor of ranks in ``0..m+1``."""
        return self.asks.gather(1, t.unsqueeze(1)).squeeze(1)


def validate_market(values: Tensor, costs: Tensor) -> None:
    """Raise ``ValueError`` unless (values, costs) is a batch of real, finite markets.

    Requires: 2-D tensors of shapes (B, n) and (B, m) with the same B, n >= 1, m >= 1,
    the same floating dtype, the same device, and only finite entries.
    """
    if not isinstance(values, Tensor) or not isinstance(costs, Tensor):
        raise ValueError("values and costs must be torch tensors")
    if values.dim() != 2 or costs.dim() != 2:
        raise ValueError(
            f"values and costs must be 2-D (batch, agents); got shapes "
            f"{tuple(values.shape)} and {tuple(costs.shape)}"
        )
    if values.shape[0] != costs.shape[0]:
        raise ValueError(
            f"batch sizes differ: values has {values.shape[0]} markets, costs has {costs.shape[0]}"
        )
    if values.shape[1] < 1 or costs.shape[1] < 1:
        raise ValueError("every market needs at least one buyer and one seller")
    if not values.dtype.is_floating_point or values.dtype != costs.dtype:
        raise ValueError(
            f"values and costs must share one floating dtype; got {values.dtype} and {costs.dtype}"
        )
    if values.device != costs.device:
        raise ValueError(f"values on {values.device} but costs on {costs.device}")
    if not bool(torch.isfinite(values).all()) or not bool(torch.isfinite(costs).all()):
        raise ValueError("values and costs must be finite (no NaN or infinity)")


def _inverse_permutation(order: Tensor) -> Tensor:
    """1-based rank of each agent from the sorted order (``rank[order[t]] = t + 1``)."""
    ranks = torch.arange(1, order.shape[1] + 1, device=order.device).expand_as(order)
    return torch.empty_like(order).scatter_(1, order, ranks)


def sort_market(values: Tensor, costs: Tensor, *, validate: bool = True) -> SortedMarket:
    """Sort buyers descending and sellers ascending (ties by index) and find ``k``.

    ``validate=False`` skips the checks for callers that already ran them on the same
    tensors, or that pass quantised reports which may hold the clock's +-inf sentinels.
    """
    if validate:
        validate_market(values, costs)
    batch = values.shape[0]
    bid_sorted, buyer_order = torch.sort(values, dim=1, descending=True, stable=True)
    ask_sorted, seller_order = torch.sort(costs, dim=1, stable=True)
    inf = torch.full((batch, 1), float("inf"), dtype=values.dtype, device=values.device)
    bids = torch.cat([inf, bid_sorted, -inf], dim=1)
    asks = torch.cat([-inf, ask_sorted, inf], dim=1)
    depth = min(values.shape[1], costs.shape[1])
    efficient_trades = (bid_sorted[:, :depth] >= ask_sorted[:, :depth]).sum(dim=1)
    return SortedMarket(
        values=values,
        costs=costs,
        bids=bids,
        asks=asks,
        buyer_rank=_inverse_permutation(buyer_order),
        seller_rank=_inverse_permutation(seller_order),
        buyer_order=buyer_order,
        seller_order=seller_order,
        efficient_trades=efficient_trades,
    )
