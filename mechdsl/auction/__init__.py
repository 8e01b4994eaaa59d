"""Batched double auctions for compute markets (buyers: overloaded fixed agents;
sellers: aerial agents), in torch, with plain-Python references.

Every mechanism takes ``values`` (B, n) and ``costs`` (B, m) tensors of one floating dtype
on any device (single-unit demand and supply per agent) and returns an
``AuctionOutcome``. ``AUCTIONS`` maps a name to the mechanism:

* ``double_dutch``: the strongly budget-balanced, IR, dominant-strategy truthful double
  Dutch clock auction (SBBA price rule, seller lottery); ``double_dutch.py``.
* ``mcafee``: McAfee's (1992) trade-reduction double auction, truthful and weakly budget
  balanced; ``mcafee.py``.
* ``k_double``: the k-double auction, efficient but not truthful; ``k_double.py``.

See ``docs/auctions.md`` for the rules, proofs and measured welfare.
"""

from collections.abc import Callable

from torch import Tensor

from mechdsl.auction.clock import ClockGrid, ClockGrids
from mechdsl.auction.double_dutch import double_dutch
from mechdsl.auction.efficient import (
    EfficientTrade,
    aggregate_welfare_ratio,
    efficient_trade,
    welfare_ratio,
)
from mechdsl.auction.k_double import k_double
from mechdsl.auction.market import SortedMarket, sort_market, validate_market
from mechdsl.auction.mcafee import mcafee
from mechdsl.auction.outcome import AuctionOutcome
from mechdsl.auction.sampling import random_markets

Auction = Callable[..., AuctionOutcome]

AUCTIONS: dict[str, Auction] = {
    "double_dutch": double_dutch,
    "mcafee": mcafee,
    "k_double": k_double,
}

__all__ = [
    "AUCTIONS",
    "Auction",
    "AuctionOutcome",
    "ClockGrid",
    "ClockGrids",
    "EfficientTrade",
    "SortedMarket",
    "aggregate_welfare_ratio",
    "double_dutch",
    "efficient_trade",
    "k_double",
    "mcafee",
    "random_markets",
    "sort_market",
    "validate_market",
    "welfare_ratio",
]
