"""Tier 2: the auction run at the tier-1 equilibrium, through `mechdsl.auction`.

Buyers (e.g. overloaded fixed agents) take part when their demand at the equilibrium is
positive, sellers when their supply is positive; private values and costs are drawn from
the spec's distributions with the state's generator. The auction library trades single
units, so each participant bids for / offers one block (see docs/games.md).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch

from mechdsl.auction import AUCTIONS, ClockGrid
from mechdsl.games.model import AuctionSpec
from mechdsl.solve.state import draw


def run_auction(auction: AuctionSpec, values: dict[sp.Symbol, float], rng: np.random.Generator) -> dict[str, object]:
    def quantities(side):
        return [float(q.xreplace({s: sp.Float(v) for s, v in values.items()})) for q in side.quantities]

    demand, supply = quantities(auction.buyers), quantities(auction.sellers)
    bids = [float(draw(d, 1, rng)[0]) for d in auction.buyers.distributions]
    asks = [float(draw(d, 1, rng)[0]) for d in auction.sellers.distributions]
    buyers = [i for i, q in enumerate(demand) if q > 1e-12]
    sellers = [j for j, q in enumerate(supply) if q > 1e-12]
    out: dict[str, object] = {
        "mechanism": auction.mechanism, "demand": demand, "supply": supply,
        "buyer_values": bids, "seller_costs": asks, "participating_buyers": buyers,
        "participating_sellers": sellers, "buyer_trades": [], "seller_trades": [],
        "buyer_price": None, "seller_price": None, "trades": 0, "welfare": 0.0, "clock_rounds": None,
    }
    if not buyers or not sellers:
        return out
    v = torch.tensor([[bids[i] for i in buyers]], dtype=torch.float64)
    c = torch.tensor([[asks[j] for j in sellers]], dtype=torch.float64)
    kwargs = {}
    if auction.mechanism == "double_dutch":
        kwargs["generator"] = torch.Generator().manual_seed(int(rng.integers(2**31)))
        if auction.step is not None:
            ranges = [d.args for d in (*auction.buyers.distributions, *auction.sellers.distributions)]
            low = math.floor(min(min(a) for a in ranges) / auction.step) * auction.step
            steps = math.ceil((max(max(a) for a in ranges) - low) / auction.step)
            kwargs["clock"] = ClockGrid(low=low, high=low + steps * auction.step, step=auction.step)
    result = AUCTIONS[auction.mechanism](v, c, **kwargs)
    price = lambda t: None if torch.isnan(t[0]) else float(t[0])  # noqa: E731
    out.update(
        buyer_trades=[buyers[i] for i, t in enumerate(result.buyer_trades[0].tolist()) if t],
        seller_trades=[sellers[j] for j, t in enumerate(result.seller_trades[0].tolist()) if t],
        buyer_price=price(result.buyer_price), seller_price=price(result.seller_price),
        trades=int(result.num_trades[0]), welfare=float(result.welfare[0]),
        clock_rounds=int(result.clock_rounds[0]) if result.clock_rounds is not None else None,
    )
    return out
