"""The auction-design kind (`design auction NAME`): bidders with value distributions, items,
a valuation form, an objective and IR/IC. `derive` gives Myerson's optimal auction in closed
form for a single item; `solve` runs it on sampled profiles with an incentive certificate.
The learned multi-item mechanisms (`compile`, `train`, ...) are not wired yet."""

from mechdsl.auction_design.model import AuctionDesignModel
from mechdsl.kinds.kind import Kind
from mechdsl.lang.auction_design_checker import AuctionDesignChecker

AUCTION_DESIGN = Kind(
    checker=AuctionDesignChecker, model=AuctionDesignModel, back_end="mechdsl.auction_design.pipeline",
    verbs=("check", "fmt", "derive", "solve"),
    summary="optimal auctions: Myerson derived symbolically (single item), certified on sampled profiles",
    unavailable="the learned mechanisms for auction_design specs (compile, train, eval, run, sweep) are not "
                "available yet",
)
