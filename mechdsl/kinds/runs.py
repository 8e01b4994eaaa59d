"""A training run of a spec of any kind: check it, save its configuration, hand it to the
kind's back end, and append the time of each stage to the report."""

from __future__ import annotations

from pathlib import Path

import torch

from mechdsl.kinds.registry import kind_of_model
from mechdsl.lang import load_source
from mechdsl.rl.checkpoint import CHECKPOINT_NAME, load_checkpoint
from mechdsl.rl.runs import RunConfig
from mechdsl.rl.stages import StageClock


CURVE_STATES = 256  # held-out states per learning-curve point


def configure_run(spec_path: str, source: str, model, **choices) -> RunConfig:
    """The spec's train block merged with the caller's choices (`mechdsl.rl.runs.configure`'s
    keywords): by the kind's back end where its algorithms are not the RL ones (auction_design)."""
    from mechdsl.rl.runs import configure

    configure_of_kind = getattr(kind_of_model(model).pipeline(), "configure", configure)
    return configure_of_kind(spec_path, source, model, **choices)


def train_run(config: RunConfig, run_dir: Path, *, resume: bool = False, log: str = "rich",
              eval_states: int = 1000, curve_states: int | None = None, stages: StageClock | None = None) -> dict:
    """Train, evaluate on held-out states and write the report; returns the evaluation.
    The learning curve scores `curve_states` held-out states per point (default: at most
    CURVE_STATES and at most `eval_states`, so a small final evaluation keeps the curve small too).
    The time of each stage goes into `stages` (if given) and at the end of report.md."""
    stages = stages if stages is not None else StageClock()
    curve_states = min(CURVE_STATES, eval_states) if curve_states is None else curve_states
    model = load_source(config.source, config.spec, config.overrides)
    kind = kind_of_model(model)
    kind.require("train", config.spec)
    trainable = getattr(kind.pipeline(), "check_trainable", None)  # a game without an auction: refused
    if trainable is not None:                                       # before the run folder is made
        trainable(model)
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume:  # a checkpoint that cannot be resumed is refused before run.json is rewritten
        load_checkpoint(run_dir / CHECKPOINT_NAME, torch.device(config.device))
    config.save(run_dir)
    summary = kind.pipeline().train_run(config, run_dir, model, resume=resume, log=log, eval_states=eval_states,
                                        curve_states=curve_states, stages=stages)
    stages.append_to_report(run_dir / "report.md")
    return summary


def evaluate_run(config: RunConfig, run_dir: Path, n_states: int, seed: int) -> dict:
    """The per-state evaluation of a finished run, as `mechdsl eval --json` prints it."""
    model = load_source(config.source, config.spec, config.overrides)
    kind = kind_of_model(model)
    kind.require("eval", config.spec)
    return kind.pipeline().evaluate_run(config, run_dir, model, n_states, seed)
