"""The scenario back end (`scenario NAME` specs), in the interface of `mechdsl.kinds.kind`."""

from __future__ import annotations

from pathlib import Path

import torch

from mechdsl.rl.runs import RunConfig, load_package


def compile(model, target: Path, *, source: str, force: bool = False) -> list[Path]:
    from mechdsl.scenario.codegen import compile_scenario

    return compile_scenario(model, target, force=force, source=source)


def build_env(config: RunConfig, run_dir: Path, model, dtype: torch.dtype = torch.float32):
    """Compile the spec into `run_dir/package` (idempotent) and instantiate its env."""
    from mechdsl.scenario.codegen import compile_scenario

    compile_scenario(model, Path(run_dir) / "package", source=config.source)
    return load_package(Path(run_dir) / "package").Env(device=config.device, dtype=dtype)


def learning_hparams(config: RunConfig, model) -> dict:
    """The train block's hyperparameters; the discount over slots is the spec's `horizon ...
    discount gamma` unless the train block sets `gamma` itself."""
    from mechdsl.rl import hyperparameter_names

    hparams = dict(config.hparams)
    if "gamma" in hyperparameter_names(config.algo) and "gamma" not in hparams:
        hparams["gamma"] = model.discount
    return hparams


def train_run(config: RunConfig, run_dir: Path, model, *, resume: bool = False, log: str = "rich",
              eval_states: int = 1000, curve_states: int = 256, stages=None) -> dict:
    """Train on the generated env, then evaluate `eval_states` full episodes against the
    random policy and the greedy heuristic; writes evaluation.json and report.md. The time of
    each stage goes into `stages` (a `mechdsl.rl.stages.StageClock`)."""
    from mechdsl.rl import train
    from mechdsl.rl.stages import StageClock
    from mechdsl.scenario.report import evaluate_and_report

    stages = stages if stages is not None else StageClock()
    with stages.stage("compile"):
        env = build_env(config, run_dir, model)
        package = load_package(run_dir / "package")
    with stages.stage("train"):
        result = train(env, config.algo, steps=config.steps, seed=config.seed, device=config.device,
                       preset=config.preset, hparams=learning_hparams(config, model), out_dir=run_dir,
                       resume=resume, eval_every=max(1, config.steps // 20), eval_states=curve_states, log=log)
    with stages.stage("evaluate + report"):  # one function of mechdsl.scenario.report does both
        summary = evaluate_and_report(config, run_dir, model, package, env, result.agent, result.rows,
                                      eval_states, wall_time=result.wall_time)
    if log != "none":
        print(summary["comparison_text"])
    return {k: v for k, v in summary.items() if k != "comparison_text"}


def evaluate_run(config: RunConfig, run_dir: Path, model, n_states: int, seed: int) -> dict:
    """Per-episode returns of the trained policy on `n_states` episodes (what `eval --json` prints);
    "hard" splits each hard constraint's violations into those no decision could avoid and the
    rest, so a claim of no avoidable violation can be checked from the output."""
    from mechdsl.rl.runs import load_agent
    from mechdsl.scenario.rollout import agent_policy, hard_violations, rollout

    env = build_env(config, run_dir, model)
    agent, _ = load_agent(config, run_dir, env)
    episodes = rollout(env, agent_policy(agent, seed), n_states, seed)
    return {"objective": episodes.returns.tolist(), "violation_rate": episodes.violation_rate,
            "penalty": episodes.penalties.tolist(),
            "violations": {k: v.tolist() for k, v in episodes.violations.items()},
            "hard": hard_violations(episodes, load_package(Path(run_dir) / "package").HARD)}
