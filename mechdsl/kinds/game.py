"""The game kind (`game NAME`): a Stackelberg game with a tier-2 auction; `solve` certifies
the equilibrium, `train` learns the auctioneer's clock settings. No symbolic `derive`."""

from mechdsl.games.model import GameModel
from mechdsl.kinds.kind import Kind
from mechdsl.lang.game_checker import GameChecker

GAME = Kind(
    checker=GameChecker, model=GameModel, back_end="mechdsl.games.pipeline",
    verbs=("check", "fmt", "solve", "compile", "train", "eval", "run", "sweep"),
    summary="Stackelberg leaders and followers with a tier-2 auction; certified equilibrium, learned auctioneer",
)
