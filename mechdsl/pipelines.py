"""Which back end handles a checked model: contracts, games or sequential scenarios.

Every spec kind has a *pipeline module* exposing the same three functions, so the CLI
(`compile`, `train`, `run`, `eval`, `sweep`) never branches on the kind itself:

    compile(model, target: Path, *, source: str, force: bool = False) -> list[Path]
        write the generated batched-env package into `target` (idempotent, marker-guarded);
    train_run(config: RunConfig, run_dir: Path, model, *, resume, log, eval_states,
              curve_states, stages) -> dict
        train `config.algo` on the compiled env, evaluate, write report.md + plots (timing
        each stage in `stages`, a `mechdsl.rl.stages.StageClock`) and
        return the evaluation summary (keys `n_states`, `mean_utility`, `violation_rate`;
        `mean_optimum` and `optimality_ratio` where a reference optimum exists);
    evaluate_run(config: RunConfig, run_dir: Path, model, n_states: int, seed: int) -> dict
        per-state evaluation of a finished run (what `mechdsl eval --json` prints).

Contracts (`mechanism NAME`) use `mechdsl.rl.runs`; games (`game NAME`) use
`mechdsl.games.pipeline`; scenarios (`scenario NAME`) use `mechdsl.scenario.pipeline`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_PIPELINES = {
    "Model": "mechdsl.rl.contract_pipeline",
    "GameModel": "mechdsl.games.pipeline",
    "ScenarioModel": "mechdsl.scenario.pipeline",
}


def pipeline_of(model) -> ModuleType:
    """The pipeline module of a checked model (dispatch on its class name)."""
    name = type(model).__name__
    if name not in _PIPELINES:
        raise TypeError(f"no pipeline for {name}")
    return importlib.import_module(_PIPELINES[name])
