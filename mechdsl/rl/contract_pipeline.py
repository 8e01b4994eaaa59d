"""The contract pipeline (`mechanism NAME` specs) in the interface of `mechdsl.pipelines`."""

from __future__ import annotations

from pathlib import Path

from mechdsl.rl.runs import RunConfig


def compile(model, target: Path, *, source: str, force: bool = False) -> list[Path]:
    from mechdsl.codegen import compile_spec

    return compile_spec(model, target, force=force, source=source)


def train_run(config: RunConfig, run_dir: Path, model, *, resume: bool = False, log: str = "rich",
              eval_states: int = 1000, curve_states: int = 256, stages=None) -> dict:
    from mechdsl.rl.runs import train_contract_run

    return train_contract_run(config, run_dir, model, resume=resume, log=log, eval_states=eval_states,
                              curve_states=curve_states, stages=stages)


def evaluate_run(config: RunConfig, run_dir: Path, model, n_states: int, seed: int) -> dict:
    from mechdsl.rl.runs import build_env, evaluate_states, load_agent

    model, env = build_env(config, run_dir)
    agent, _ = load_agent(config, run_dir, env)
    return evaluate_states(model, env, agent, n_states, seed)
