"""The game kind (`game NAME`): Stackelberg leaders over followers (who may play a Nash
equilibrium among themselves), optionally with a tier-2 auction; `solve` certifies the
equilibrium, `train` learns the auctioneer's clock settings (so compile, train, eval, run
and sweep need an auction block). No symbolic `derive`."""

from mechdsl.games.model import GameModel
from mechdsl.kinds.kind import Kind
from mechdsl.lang.game_checker import GameChecker

GAME = Kind(
    checker=GameChecker, model=GameModel, back_end="mechdsl.games.pipeline",
    verbs=("check", "fmt", "solve", "compile", "train", "eval", "run", "sweep"),
    summary="Stackelberg leaders and followers with a tier-2 auction; certified equilibrium, learned auctioneer",
    unavailable="compile, train, eval, run and sweep learn the tier-2 auctioneer: they need an `auction` block "
                "with `mechanism double_dutch`; a game without one supports check, fmt and solve",
)
