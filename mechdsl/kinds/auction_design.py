"""The auction-design kind (`design auction NAME`): bidders with value distributions, items,
a valuation form, an objective and IR/IC. `derive` gives Myerson's optimal auction in closed
form for a single item; `solve` runs it on sampled profiles with an incentive certificate;
`train` / `run` learn a multi-item mechanism (RochetNet menu, affine maximizer, RegretNet) and
certify it, `eval` re-certifies it. There is no generated package, so no `compile` or `sweep`."""

from mechdsl.auction_design.model import AuctionDesignModel
from mechdsl.kinds.kind import Kind
from mechdsl.lang.auction_design_checker import AuctionDesignChecker

AUCTION_DESIGN = Kind(
    checker=AuctionDesignChecker, model=AuctionDesignModel, back_end="mechdsl.auction_design.pipeline",
    verbs=("check", "fmt", "derive", "solve", "train", "eval", "run"),
    summary="optimal auctions: Myerson derived symbolically (single item), learned multi-item mechanisms, "
            "certified on sampled profiles",
    unavailable="a compiled package (compile) and sweeps of the learned mechanisms for auction_design specs are "
                "not available yet; train, eval and run learn and certify them",
)
