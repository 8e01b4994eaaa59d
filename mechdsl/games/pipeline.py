"""The game back end (`game NAME` specs), in the interface of `mechdsl.kinds.kind`.

What is trained is the tier-2 auctioneer (`mechdsl.games.codegen`): the spec's algorithm
learns the double Dutch auction's clock settings per market. A run folder holds what a
contract run holds (run.json, package/, checkpoint.pt, metrics.csv, evaluation.json,
report.md + PNGs) plus `compare/<algo>/` for the comparison algorithm trained in the same
run (PPO, or the spec's diffusion default when the spec itself asks for PPO). The greedy
and random auctioneers need no training and are scored on the same held-out markets.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mechdsl.games.codegen import compile_game, require_compilable
from mechdsl.rl.contract_pipeline import compile_and_train, deployed_policy
from mechdsl.rl.runs import RunConfig, load_package
from mechdsl.tolerances import VIOLATION_TOLERANCE

COMPARISON_SHARE = 4  # the comparison algorithm trains for steps // 4 (PPO collects 256 markets per step)


def check_trainable(model) -> None:
    """Refuse a game that cannot be trained before a sweep starts its trials (positioned, exit 2)."""
    require_compilable(model)


def compile(model, target: Path, *, source: str, force: bool = False) -> list[Path]:
    return compile_game(model, target, force=force, source=source)


def build_env(config: RunConfig, run_dir: Path, model, dtype: torch.dtype = torch.float32):
    """Compile the auctioneer env into `run_dir/package` (idempotent) and instantiate it."""
    compile_game(model, Path(run_dir) / "package", source=config.source)
    return load_package(Path(run_dir) / "package").Env(device=config.device, dtype=dtype)


def comparison_algorithm(algo: str) -> str:
    return "edmsac" if algo == "ppo" else "ppo"


def train_run(config: RunConfig, run_dir: Path, model, *, resume: bool = False, log: str = "rich",
              eval_states: int = 1000, curve_states: int = 256, stages=None) -> dict:
    """Train the spec's algorithm and the comparison algorithm, evaluate both against the
    greedy and random auctioneers and the efficient welfare, and write report.md; the time of
    each stage goes into `stages` (a `mechdsl.rl.stages.StageClock`)."""
    from mechdsl.games.report import policy_outcomes, write_game_report
    from mechdsl.rl import train
    from mechdsl.rl.evaluate import evaluate_policy
    from mechdsl.rl.stages import StageClock

    stages = stages if stages is not None else StageClock()
    env, result = compile_and_train(build_env, config, run_dir, model, resume=resume, log=log,
                                    curve_states=curve_states, stages=stages)
    other = comparison_algorithm(config.algo)
    other_steps = max(1, config.steps // COMPARISON_SHARE)
    with stages.stage(f"train {other} (comparison)"):
        compared = train(env, other, steps=other_steps, seed=config.seed, device=config.device,
                         preset=config.preset, out_dir=run_dir / "compare" / other, resume=resume,
                         eval_every=max(1, other_steps // 10), eval_states=curve_states, log=log)
    with stages.stage("evaluate"):
        evaluation = evaluate_policy(env, result.agent, n_states=eval_states)
        outcomes = policy_outcomes(env, {config.algo: result.agent, other: compared.agent}, eval_states,
                                   config.seed)
    summary = evaluation.as_dict()
    summary.update(mean_welfare=outcomes[config.algo]["mean_welfare"],
                   mean_clock_rounds=outcomes[config.algo]["mean_clock_rounds"],
                   comparison={name: {k: v for k, v in o.items() if k.startswith("mean_") or k == "welfare_ratio"}
                               for name, o in outcomes.items()},
                   comparison_steps={config.algo: config.steps, other: other_steps})
    (run_dir / "evaluation.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    with stages.stage("report"):
        write_game_report(run_dir, model, config, {config.algo: result.rows, other: compared.rows}, outcomes,
                          {config.algo: evaluation})
    return summary


def evaluate_run(config: RunConfig, run_dir: Path, model, n_states: int, seed: int) -> dict:
    """Per-market evaluation of a finished run: the learned clocks, reward ("objective"),
    welfare and ticks per market, the efficient welfare ("optimum") and the greedy
    auctioneer on the same markets."""
    env, state, result = deployed_policy(build_env, config, run_dir, model, n_states, seed)
    greedy = env.evaluate(state, env.greedy_action(state))
    optimum = env.optimum(state).double()
    objective = result.reward.double()
    rows = state.detach().double().cpu().tolist()
    clocks = torch.stack([result.info[k].double() for k in ("seller_clock_start", "buyer_clock_start", "clock_step")],
                         dim=1).cpu().tolist()
    return {
        "states": [dict(zip(env.state_names, row)) for row in rows],
        "clocks": [dict(zip(("seller_clock_start", "buyer_clock_start", "clock_step"), c)) for c in clocks],
        "objective": objective.cpu().tolist(),
        "welfare": result.info["welfare"].double().cpu().tolist(),
        "clock_rounds": result.info["clock_rounds"].double().cpu().tolist(),
        "optimum": optimum.cpu().tolist(),
        "optimality_ratio": float(objective.mean() / optimum.mean()),
        "welfare_ratio": float(result.info["welfare"].double().mean() / optimum.mean()),
        "violation_rate": float((result.violation > VIOLATION_TOLERANCE).double().mean()),
        "greedy": {"mean_reward": float(greedy.reward.double().mean()),
                   "mean_welfare": float(greedy.info["welfare"].double().mean()),
                   "mean_clock_rounds": float(greedy.info["clock_rounds"].double().mean())},
    }
