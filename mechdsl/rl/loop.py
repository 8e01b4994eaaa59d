"""The training loop shared by every algorithm (EDMSAC Algorithm 1 lines 3-18, generalised).

One training step v:
  1. observe states: ``env.reset(collect_batch)`` at horizon 1 (or at an episode's start);
  2. act with exploration, ``env.step``, learning reward r = reward - penalty (eq. 46);
  3. off-policy agents store (S, A, r, S', d) in the replay buffer D and, once |D| >= B, make
     ``updates_per_step`` updates on minibatches from D; on-policy / reference agents update on
     the fresh batch (PPO, amortized);
  4. every ``eval_every`` steps: evaluate on fixed held-out states, log a metrics row,
     checkpoint atomically every ``checkpoint_every`` steps.
Randomness comes only from three ``torch.Generator`` objects (network init, environment,
agent), so the same seed gives the same metric curve on CPU, and their states are
checkpointed, so ``resume=True`` continues the identical run.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from mechdsl.errors import MechdslError
from mechdsl.rl.algorithms import HyperparameterError, make_agent, resolve_hparams
from mechdsl.rl.algorithms.base import Agent, critic_problem, uniform_actions
from mechdsl.rl.buffer import ReplayBuffer, Transition
from mechdsl.rl.checkpoint import (CHECKPOINT_NAME, CHECKPOINT_VERSION, load_checkpoint, require_finite_actions,
                                   restoring, save_checkpoint)
from mechdsl.rl.env import (VIOLATION_PENALTIES, BatchedEnv, learning_reward, observation, proposal_violation,
                            transition_tail)
from mechdsl.rl.evaluate import referenced_ratio
from mechdsl.rl.metrics import MetricsLog
from mechdsl.rl.progress import make_progress
from mechdsl.seeds import ACTION_SEED_OFFSET, TRAINING_EVALUATION_SEED
from mechdsl.tolerances import VIOLATION_TOLERANCE

EVAL_SEED = TRAINING_EVALUATION_SEED  # held-out states are the same for every run and seed


class TrainingDiverged(MechdslError, RuntimeError):
    """A non-finite number appeared; carries the step and the offending quantity. A user error
    (exit 2): a non-finite reward means the spec's numbers leave float64 somewhere in the env (a
    policy's actions are finite and inside their bounds), a non-finite loss or gradient means the
    learner's hyperparameters let it diverge; the hint says which."""

    def __init__(self, step: int, quantity: str, value: float) -> None:
        if quantity == "reward":
            hint = ("the env's reward is not finite for an action inside its bounds: the spec's numbers leave "
                    "float64 (or divide by zero) at some sampled state; `mechdsl solve SPEC` names the statement, "
                    "rescaling the spec's units usually fixes it")
        else:
            hint = "try smaller learning rates, gradient clipping (grad_clip) or a smaller action penalty"
        super().__init__(f"training diverged at step {step}: {quantity} = {value}", hint)
        self.step, self.quantity, self.value = step, quantity, value


@dataclass
class RunResult:
    algo: str
    seed: int
    steps: int
    hparams: Any
    rows: list[dict[str, Any]]
    agent: Agent
    out_dir: Path | None
    resumed_from: int | None
    wall_time: float

    @property
    def final(self) -> dict[str, Any]:
        return self.rows[-1] if self.rows else {}


def _check_finite(step: int, name: str, value: torch.Tensor | float) -> None:
    if isinstance(value, torch.Tensor):
        if not bool(torch.isfinite(value).all()):
            bad = value[~torch.isfinite(value)].flatten()[0].item()
            raise TrainingDiverged(step, name, bad)
    elif not math.isfinite(value):
        raise TrainingDiverged(step, name, value)


def _generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


@dataclass
class _Evaluator:
    """Fixed held-out states; deterministic evaluation of the current policy."""

    env: BatchedEnv
    state: torch.Tensor
    obs: torch.Tensor
    optimum: torch.Tensor | None   # (n,) exact optimum per state, NaN where no reference was found

    @staticmethod
    def make(env: BatchedEnv, n: int, device: torch.device) -> "_Evaluator":
        state = env.reset(n, _generator(env.device, EVAL_SEED)).to(device)
        return _Evaluator(env, state, observation(env, state), env.optimum(state))

    def __call__(self, agent: Agent) -> dict[str, float | None]:
        action = agent.act(self.obs, explore=False, generator=_generator(self.obs.device, EVAL_SEED + ACTION_SEED_OFFSET))
        result = self.env.evaluate(self.state, action)
        utility = float(result.reward.mean())
        ratio, _, _ = referenced_ratio(result.reward, self.optimum)
        return {"test_reward": float(learning_reward(result).mean()), "test_utility": utility,
                "optimality_ratio": ratio, "violation_rate": float((result.violation > VIOLATION_TOLERANCE).float().mean()),
                "violation_mean": float(result.violation.mean())}


def train(env: BatchedEnv, algo: str, *, steps: int, seed: int = 0, device: str | torch.device = "cpu",
          preset: str = "default", hparams: dict[str, Any] | None = None, out_dir: str | Path | None = None,
          resume: bool = False, eval_every: int = 100, checkpoint_every: int | None = None,
          eval_states: int = 256, log: str | Callable[[dict[str, Any]], None] = "rich") -> RunResult:
    """Train ``algo`` on ``env`` for ``steps`` training steps; see the module docstring.

    ``hparams`` overrides the ``preset`` values and is validated against the algorithm's
    dataclass. With ``resume=True`` and a checkpoint in ``out_dir``, the run continues from it
    (``steps`` is the total, so a finished run can be extended). ``log``: "rich" (progress
    bar), "plain" (one line per evaluation), "none", or a callable receiving each row.
    Raises ``TrainingDiverged`` on NaN/inf and ``HyperparameterError`` on a bad train block.
    """
    if steps < 1 or eval_every < 1 or (checkpoint_every is not None and checkpoint_every < 1):
        raise ValueError("steps, eval_every and checkpoint_every must be >= 1")
    device = torch.device(device)
    hp = resolve_hparams(algo, preset, hparams, env)
    if hp.collect_batch < 1 or hp.updates_per_step < 0:
        raise HyperparameterError(f"{algo}: collect_batch must be >= 1 and updates_per_step >= 0")
    if hp.lr_schedule not in LR_SCHEDULES or not 0.0 <= hp.lr_final <= 1.0:
        raise HyperparameterError(f"{algo}: lr_schedule must be one of {', '.join(LR_SCHEDULES)} and lr_final in "
                                  f"[0, 1], got {hp.lr_schedule!r} and {hp.lr_final}")
    if hp.violation_penalty not in VIOLATION_PENALTIES:
        raise HyperparameterError(f"{algo}: violation_penalty must be one of {', '.join(VIOLATION_PENALTIES)}, "
                                  f"got {hp.violation_penalty!r}")
    out = Path(out_dir) if out_dir is not None else None
    checkpoint_every = checkpoint_every or eval_every
    evaluator = _Evaluator.make(env, eval_states, device)

    if hp.violation_weight < 0:
        hp = dataclasses.replace(hp, violation_weight=automatic_violation_weight(env, hp, seed))
    problem = critic_problem(hp.critic, env) if hasattr(hp, "critic") else None
    if problem is not None:
        raise HyperparameterError(f"{algo}: {problem}")
    agent = make_agent(algo, env, hp, _generator(device, seed), device)
    env_gen, agent_gen = _generator(env.device, seed + 1), _generator(device, seed + 2)
    buffer = (ReplayBuffer(hp.buffer_size, env.state_dim, env.action_dim, device)
              if agent.uses_replay else None)
    start, updates, accum, rows, elapsed = 0, 0, {}, [], 0.0
    resumed_from = None
    ckpt_path = out / CHECKPOINT_NAME if out is not None else None
    if resume and ckpt_path is not None:
        ckpt = load_checkpoint(ckpt_path, device)
        if ckpt is not None:
            with restoring(ckpt_path):  # a checkpoint that does not fit is a CheckpointError naming the file
                _check_compatible(ckpt, algo, seed, hp)
                agent.load_state_dict(ckpt["agent"])
                if buffer is not None:
                    buffer.load_state_dict(ckpt["buffer"])
                env_gen.set_state(ckpt["env_generator"])
                agent_gen.set_state(ckpt["agent_generator"])
                start, updates, accum, elapsed = ckpt["step"], ckpt["updates"], ckpt["accum"], ckpt["elapsed"]
                rows = [r for r in ckpt["rows"] if r["step"] <= start]
            require_finite_actions(agent, evaluator.obs, ckpt_path)
            resumed_from = start
    agent.plan(steps * hp.updates_per_step)
    metrics = MetricsLog(out, rows)
    if out is not None:
        metrics.flush()

    def checkpoint(step: int) -> None:
        if ckpt_path is None:
            return
        save_checkpoint(ckpt_path, {
            "version": CHECKPOINT_VERSION, "algo": algo, "seed": seed, "hparams": dataclasses.asdict(hp),
            "step": step, "updates": updates, "accum": accum, "rows": metrics.rows,
            "elapsed": elapsed + time.perf_counter() - t0, "agent": agent.state_dict(),
            "buffer": buffer.state_dict() if buffer is not None else None,
            "env_generator": env_gen.get_state(), "agent_generator": agent_gen.get_state()})

    reward_scale = hp.reward_scale or probe_reward_scale(env, hp, seed, device)
    agent.set_reward_scale(reward_scale)
    t0 = time.perf_counter()
    state, episode_step = None, 0
    with make_progress(log, total=steps, completed=start, description=algo) as progress:
        for step in range(start + 1, steps + 1):
            if state is None or env.horizon == 1:
                state, episode_step = env.reset(hp.collect_batch, env_gen).to(device), 0
            obs = observation(env, state)
            if step <= getattr(hp, "warmup_steps", 0):
                action = uniform_actions(obs.shape[0], env.action_dim, agent_gen, obs)
            else:
                action = agent.act(obs, explore=True, generator=agent_gen)
            _check_finite(step, "action", action)
            result = env.step(action)
            reward = learning_reward(result, hp.violation_weight, hp.violation_penalty) * reward_scale
            _check_finite(step, "reward", reward)
            next_state, done = transition_tail(env, state, result)
            batch = Transition(state, obs, action, reward, next_state, observation(env, next_state), done)
            _add(accum, "train_reward", float(reward.mean()) / reward_scale)

            if buffer is not None:
                buffer.add(batch)
            if hp.lr_schedule != "constant":
                agent.scale_learning_rates(lr_factor(hp.lr_schedule, hp.lr_final, (step - 1) / steps))
            step_losses: list[tuple[str, torch.Tensor | float]] = []
            for _ in range(hp.updates_per_step):
                if buffer is not None and len(buffer) < hp.batch_size:
                    break
                sample = buffer.sample(hp.batch_size, agent_gen) if buffer is not None else batch
                losses = agent.update(sample, step=updates + 1, generator=agent_gen, env=env)
                updates += 1
                step_losses += losses.items()
            for name, value in _host_values(step_losses):
                _check_finite(step, name, value)
                _add(accum, name, value)

            episode_step += 1
            state = next_state
            if env.horizon > 1 and (bool((done > 0.5).all()) or episode_step >= env.horizon):
                state = None

            if step % eval_every == 0 or step == steps:
                row = {"step": step, "updates": updates, "env_samples": step * hp.collect_batch,
                       **evaluator(agent), **{k: s / n for k, (s, n) in sorted(accum.items())}}
                sparsity = agent.pruning_sparsity()
                if sparsity is not None:
                    row["sparsity"] = sparsity
                row["time_s"] = round(elapsed + time.perf_counter() - t0, 3)
                accum = {}
                metrics.append(row)
                _log_row(log, progress, row)
            if step % checkpoint_every == 0 or step == steps:
                checkpoint(step)
            progress.advance(step)
    wall = elapsed + time.perf_counter() - t0
    return RunResult(algo, seed, steps, hp, metrics.rows, agent, out, resumed_from, wall)


LR_SCHEDULES = ("constant", "cosine")


def lr_factor(schedule: str, final: float, fraction: float) -> float:
    """Multiplier of the initial learning rates at run fraction f in [0, 1]:
    1 (constant) or final + (1 - final)(1 + cos(pi f)) / 2 (cosine: 1 at f = 0, final at f = 1)."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * min(max(fraction, 0.0), 1.0)))
    raise ValueError(f"unknown lr_schedule {schedule!r}; choose one of {LR_SCHEDULES}")


IQR_PER_STD = 1.349  # (q75 - q25) of a standard normal


def probe_reward_scale(env: BatchedEnv, hp, seed: int, device: torch.device, probe: int = 1024) -> float:
    """1 / spread of the learning reward of uniform random actions on a probe batch drawn from
    its own generator (so it does not disturb the training streams; same seed, same scale).

    The spread is the normal-consistent interquartile range, (q75 - q25) / 1.349 (the standard
    deviation for Gaussian rewards), not the standard deviation itself: random contracts have a
    heavy tail (payments far above their floors) that would set the unit. On two_period.mech
    (K = 2) the standard deviation is 19,300 against an IQR spread of 2,470 and an optimum of
    about 1,000, so scaling by it left the near-optimal region 8x flatter for the critics. A
    degenerate IQR (more than half of the rewards equal) falls back to the standard deviation."""
    generator = _generator(env.device, seed + 7919)
    state = env.reset(probe, generator)
    action = 2 * torch.rand(probe, env.action_dim, generator=generator, device=env.device, dtype=env.dtype) - 1
    reward = learning_reward(env.evaluate(state, action), hp.violation_weight, hp.violation_penalty).double()
    reward = reward[torch.isfinite(reward)]
    if reward.numel() < 2:
        return 1.0
    low, high = torch.quantile(reward, torch.tensor([0.25, 0.75], dtype=reward.dtype, device=reward.device)).tolist()
    spread = (high - low) / IQR_PER_STD
    if not spread > 1e-12:
        spread = float(reward.std())
    return 1.0 / spread if math.isfinite(spread) and spread > 1e-12 else 1.0


AUTO_VIOLATION_FACTOR = 10.0  # a typical violation costs this many reward spreads (automatic weight)


def automatic_violation_weight(env: BatchedEnv, hp, seed: int, probe: int = 1024) -> float:
    """The default `violation_weight`: what makes the spec's declared constraints hold in training.

    On a probe batch of uniform random actions (its own generator, as `probe_reward_scale`): where
    every DEPLOYED contract is feasible (the action map and the env's repair restore every
    constraint the spec declares), 0, as before: a penalty could only distort the learner. Where
    some are not (a declared constraint the map cannot build in, e.g. `constraint s[k] <= 300 for k
    in K` or Border's inequalities), w = AUTO_VIOLATION_FACTOR x (reward spread) / (median
    proposal violation of the violating proposals), so that the linear penalty w * v of a typical
    violation costs ten reward spreads. The linear penalty is exact (the constrained optimum
    maximises r - w v) once w exceeds the constraints' Lagrange multipliers, which are of the order
    of reward per unit of constraint, i.e. spread / violation scale. Only horizon-1 envs (the
    contract envs, the auctioneer) get a nonzero default: a scenario's hard constraints may be
    violated by every decision (`mechdsl eval --json`'s "hard" key), where a penalty cannot help."""
    if env.horizon != 1:
        return 0.0
    generator = _generator(env.device, seed + 7927)
    state = env.reset(probe, generator)
    action = 2 * torch.rand(probe, env.action_dim, generator=generator, device=env.device, dtype=env.dtype) - 1
    with torch.no_grad():
        result = env.evaluate(state, action)
    deployed_violates = result.violation.double() > VIOLATION_TOLERANCE
    if not bool(deployed_violates.any()):
        return 0.0
    violation = proposal_violation(result).double()
    violation = violation[torch.isfinite(violation) & (violation > VIOLATION_TOLERANCE)]
    reward = (result.reward - result.penalty).double()
    reward = reward[torch.isfinite(reward)]
    if violation.numel() == 0 or reward.numel() < 2:
        return 0.0
    low, high = torch.quantile(reward, torch.tensor([0.25, 0.75], dtype=reward.dtype, device=reward.device)).tolist()
    spread = (high - low) / IQR_PER_STD
    if not spread > 1e-12:
        spread = max(float(reward.std()), float(reward.abs().mean()), 1.0)
    return AUTO_VIOLATION_FACTOR * spread / float(violation.median())


def _host_values(losses: list[tuple[str, torch.Tensor | float]]) -> list[tuple[str, float]]:
    """The losses of one training step as Python floats, in update order, read from the device
    in one transfer (an agent may return 0-d tensors so that its update loop never waits for
    the device); float32 values convert exactly, so the sums are those of per-update ``.item()``."""
    tensors = [value.detach().reshape(()).to(torch.float64) for _, value in losses if isinstance(value, torch.Tensor)]
    read = iter(torch.stack(tensors).tolist() if tensors else [])
    return [(name, next(read) if isinstance(value, torch.Tensor) else float(value)) for name, value in losses]


def _add(accum: dict[str, tuple[float, int]], name: str, value: float) -> None:
    s, n = accum.get(name, (0.0, 0))
    accum[name] = (s + value, n + 1)


def _log_row(log, progress, row: dict[str, Any]) -> None:
    if callable(log):
        log(row)
    progress.report(row)


_ABSENT = "absent (a hyperparameter added since)"


def _check_compatible(ckpt: dict, algo: str, seed: int, hp) -> None:
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint version {ckpt.get('version')} is not supported")
    mismatches = []
    if ckpt["algo"] != algo:
        mismatches.append(f"algorithm {ckpt['algo']!r} != {algo!r}")
    if ckpt["seed"] != seed:
        mismatches.append(f"seed {ckpt['seed']} != {seed}")
    saved, current = ckpt["hparams"], dataclasses.asdict(hp)
    if saved != current:
        differing = sorted(k for k in saved.keys() | current.keys() if saved.get(k, _ABSENT) != current.get(k, _ABSENT))
        mismatches.append("hyperparameters differ: " + ", ".join(
            f"{k} {saved.get(k, _ABSENT)} in the checkpoint, {current.get(k, _ABSENT)} now" for k in differing))
    if mismatches:
        raise ValueError("cannot resume: the checkpoint belongs to another run (" + "; ".join(mismatches) + ")")
