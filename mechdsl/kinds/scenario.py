"""The scenario kind (`scenario NAME`): a sequential decision problem (state, action, next,
reward) compiled to a multi-slot env and learned; it has no exact optimum, so no `derive`
or `solve`."""

from mechdsl.kinds.kind import Kind
from mechdsl.lang.scenario_checker import ScenarioChecker
from mechdsl.scenario.model import ScenarioModel

SCENARIO = Kind(
    checker=ScenarioChecker, model=ScenarioModel, back_end="mechdsl.scenario.pipeline",
    verbs=("check", "fmt", "compile", "train", "eval", "run", "sweep"),
    summary="sequential decisions over slots; learned policy against random and greedy baselines",
)
