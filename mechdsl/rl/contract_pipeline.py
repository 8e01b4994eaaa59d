"""The contract back end (`mechanism NAME` specs), in the interface of `mechdsl.kinds.kind`:
compile the env package, build its env in a run folder, train, evaluate against the exact
optimum, and report (learning curves, optimality ratio, contract items per type)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from mechdsl.codegen import compile_spec
from mechdsl.model_json import state_json
from mechdsl.rl.evaluate import referenced_ratio
from mechdsl.rl.loop import train
from mechdsl.rl.payment_mode import learner_env
from mechdsl.rl.runs import RunConfig, load_agent, load_package, load_package_of, state_dicts
from mechdsl.rl.stages import StageClock
from mechdsl.tolerances import VIOLATION_TOLERANCE


def compile(model, target: Path, *, source: str, force: bool = False) -> list[Path]:
    return compile_spec(model, target, force=force, source=source)


def build_env(config: RunConfig, run_dir: Path, model, dtype: torch.dtype = torch.float32):
    """Compile the spec into `run_dir/package` (idempotent) and instantiate its env, in the payment
    mode the run's learner takes where the spec leaves it to the learner (`learner_env`)."""
    compile_spec(model, Path(run_dir) / "package", source=config.source)
    env = load_package(Path(run_dir) / "package").Env(device=config.device, dtype=dtype)
    return learner_env(env, config.algo, config.preset, config.hparams)


# The report's contract-item bars: the policy's mean contract over ITEM_STATES held-out states and
# the exact optimum's over REFERENCE_STATES of them (one exact solve each); never more than the
# final evaluation's --eval-states.
ITEM_STATES = 256
REFERENCE_STATES = 32
SOLVER_TIMING_STATES = 20  # states the exact solver is timed on for "speed vs exact solve"


def train_run(config: RunConfig, run_dir: Path, model, *, resume: bool = False, log: str = "rich",
              eval_states: int = 1000, curve_states: int = 256, stages: StageClock | None = None) -> dict:
    """A contract run: `curve_states` held-out states score the learning curve (each costs one
    exact solve)."""
    stages = stages if stages is not None else StageClock()
    env, result = compile_and_train(build_env, config, run_dir, model, resume=resume, log=log,
                                    curve_states=curve_states, stages=stages)
    return evaluate_and_report(config, run_dir, model, env, result.agent, result.rows, eval_states, stages)


def compile_and_train(build_env, config: RunConfig, run_dir: Path, model, *, resume: bool, log: str,
                      curve_states: int, stages: StageClock):
    """(env, `mechdsl.rl.loop.train`'s result) of a run on a compiled package, the first two
    stages of every kind trained by the RL loop: "compile" (`build_env(config, run_dir, model)`,
    the kind's) and "train" (`config.algo` for `config.steps` steps into `run_dir`, the learning
    curve scored on `curve_states` held-out states 20 times in the run)."""
    with stages.stage("compile"):
        env = build_env(config, run_dir, model)
    with stages.stage("train"):
        result = train(env, config.algo, steps=config.steps, seed=config.seed, device=config.device,
                       preset=config.preset, hparams=config.hparams, out_dir=run_dir, resume=resume,
                       eval_every=max(1, config.steps // 20), eval_states=curve_states, log=log)
    return env, result


def deployed_policy(build_env, config: RunConfig, run_dir: Path, model, n_states: int, seed: int):
    """(env, states, StepResult) of a finished run's deterministic policy on `n_states` held-out
    states: the env rebuilt by the kind's `build_env`, the saved agent loaded, the states drawn
    with `seed` and the actions (explore=False) with `seed + 1`; what `mechdsl eval` scores."""
    from mechdsl.rl.env import observation

    env = build_env(config, run_dir, model)
    agent, _ = load_agent(config, run_dir, env)
    state = env.reset(n_states, torch.Generator(device=env.device).manual_seed(seed))
    action = agent.act(observation(env, state), explore=False,
                       generator=torch.Generator(device=env.device).manual_seed(seed + 1))
    return env, state, env.evaluate(state, action)


def contract_means(contract: dict[str, torch.Tensor], model) -> dict[str, dict[int, float]]:
    """{group: {type: mean over states}} for the plot of contract items per type; a
    variable indexed by earlier reports gets one group per report history (`T2[1, .]`)."""
    out: dict[str, dict[int, float]] = {}
    for name, v in model.variables.items():
        for index, symbol in zip(np.ndindex(*v.shape), v.symbols()):
            group = name if len(index) == 1 else f"{name}[{', '.join(map(str, index[:-1]))}, .]"
            out.setdefault(group, {})[index[-1]] = float(contract[symbol.name].double().mean())
    return out


def policy_contracts(env, agent, state: torch.Tensor, seed: int):
    """(StepResult, {contract entry name: (B,) tensor}) of the deterministic policy."""
    from mechdsl.rl.env import observation

    obs = observation(env, state)
    action = agent.act(obs, explore=False, generator=torch.Generator(device=obs.device).manual_seed(seed))
    result = env.evaluate(state, action)
    return result, {name: result.info[name] for name in load_package_of(env).CONTRACT_LAYOUT}


def evaluate_and_report(config: RunConfig, run_dir: Path, model, env, agent, rows, eval_states: int,
                        stages: StageClock | None = None) -> dict:
    from mechdsl.rl.evaluate import evaluate_policy, heldout_states
    from mechdsl.rl.report import write_report

    def solve_one(state_row: torch.Tensor) -> float:
        return float(env.optimum(state_row[None])[0])

    stages = stages if stages is not None else StageClock()
    with stages.stage("evaluate"):
        evaluation = evaluate_policy(env, agent, n_states=eval_states, solve_one=solve_one,
                                     solver_states=min(SOLVER_TIMING_STATES, eval_states))
        summary = evaluation.as_dict()
        state = heldout_states(env, min(ITEM_STATES, eval_states))
        _, contract = policy_contracts(env, agent, state, config.seed)
        items = contract_means(contract, model)
        reference = exact_contract_means(model, env, state[:min(REFERENCE_STATES, eval_states)])
    (run_dir / "evaluation.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    with stages.stage("report"):
        write_report(run_dir, {config.algo: rows}, {config.algo: evaluation}, optimum=evaluation.mean_optimum,
                     items=items, items_reference=reference,
                     title=f"{model.name}: {config.algo}, seed {config.seed}",
                     notes=(f"Spec `{config.spec}`, {config.steps} steps, preset `{config.preset}`, device "
                            f"`{config.device}`. Optimality ratio = mean policy utility / mean exact optimum on "
                            f"{evaluation.n_states} held-out states. The env's action reaches every feasible "
                            "contract (payments inside their feasible ranges, `action_from_contract`), the exact "
                            "optimum included, and an infeasible proposal is repaired before it is paid"
                            + (f"; yet {evaluation.violation_rate:.1%} of the deployed contracts violate a constraint "
                               "the repair does not restore, so they are not feasible contracts."
                               if evaluation.violation_rate > 0 else ".")))
    return summary


def _exact_contract_or_none(model, state: dict[str, float]) -> dict[str, float] | None:
    """The exact optimum's contract at `state`; None where no reference could be found."""
    from mechdsl.errors import ReferenceUnavailable
    from mechdsl.solve.exact import solve

    try:
        return solve(model, state).contract
    except ReferenceUnavailable:
        return None


def exact_contract_means(model, env, state: torch.Tensor) -> dict[str, dict[int, float]]:
    """Mean exact-optimal contract over a few states (reference bars in the report), over the
    states that have a reference."""
    solutions = [contract for named in state_dicts(model, env, state)
                 if (contract := _exact_contract_or_none(model, named)) is not None]
    if not solutions:
        return {}
    means = {name: torch.tensor([sum(c[name] for c in solutions) / len(solutions)])
             for name in solutions[0]}
    return contract_means(means, model)


def evaluate_states(model, env, agent, n: int, seed: int) -> dict:
    """Per-state policy contracts and utilities against the exact optimum, in the layout of
    `mechdsl solve --json` ("states", "contracts"), plus "objective", "optimum" (per state),
    "optimality_ratio" (mean objective / mean optimum over the states with a reference),
    "reference_failures" (states without one: their "optimum" is null) and "violation_rate"."""
    state = env.reset(n, torch.Generator(device=env.device).manual_seed(seed))
    result, contract = policy_contracts(env, agent, state, seed)
    optimum = env.optimum(state).double().cpu()
    ratio, _, failures = referenced_ratio(result.reward.double().cpu(), optimum)
    objective = result.reward.double().cpu().numpy()
    states = [state_json(model, named) for named in state_dicts(model, env, state)]
    contracts = []
    for b in range(n):
        contracts.append({name: np.asarray([float(contract[s.name][b]) for s in v.symbols()]).reshape(v.shape).tolist()
                          for name, v in model.variables.items()})
    return {"states": states, "contracts": contracts, "objective": objective.tolist(),
            "optimum": [value if math.isfinite(value) else None for value in optimum.tolist()],
            "optimality_ratio": ratio, "reference_failures": failures,
            "violation_rate": float((result.violation > VIOLATION_TOLERANCE).double().mean())}


def evaluate_run(config: RunConfig, run_dir: Path, model, n_states: int, seed: int) -> dict:
    env = build_env(config, run_dir, model)
    agent, _ = load_agent(config, run_dir, env)
    return evaluate_states(model, env, agent, n_states, seed)
