"""The auction-design kind (`design auction NAME`): bidders with value distributions, items,
a valuation form, an objective and IR/IC. `derive` gives Myerson's optimal auction in closed
form for a single item; `solve` runs it on sampled profiles with an incentive certificate;
`train` / `run` learn a multi-item mechanism (RochetNet menu, affine maximizer, RegretNet) and
certify it, `eval` re-certifies it. `compile` generates a reserve-price env: a single item, or
additive items sold separately (one reserve per bidder and item, optimum = Myerson's per
item), which `train --algo amortized|edmsac|...` trains with the RL learners
(mechdsl.auction_design.codegen); unit-demand specs are for the learned mechanisms only."""

from mechdsl.auction_design.model import AuctionDesignModel
from mechdsl.kinds.kind import Kind
from mechdsl.lang.auction_design_checker import AuctionDesignChecker

AUCTION_DESIGN = Kind(
    checker=AuctionDesignChecker, model=AuctionDesignModel, back_end="mechdsl.auction_design.pipeline",
    verbs=("check", "fmt", "derive", "solve", "compile", "train", "eval", "run"),
    summary="optimal auctions: Myerson derived symbolically (single item), learned multi-item mechanisms, "
            "certified on sampled profiles",
    unavailable="sweep is not available for auction_design specs: its grid expands contract and game train "
                "blocks (sizes, swept constants, RL hyperparameters), not the learned mechanism families; run "
                "`mechdsl train --set n=K --seed S` per point",
)
