"""Episode evaluation of scenario policies, the baselines, and their statistics.

`rollout(env, policy, episodes, seed)` plays `episodes` full episodes in one batch from
fixed starts (`seed`), with the env's per-slot randomness drawn from the same seeded
generator, so every policy meets the same initial states and, as long as its decisions do
not change the random draws' arguments, the same attacks. A policy maps (state, obs) to raw
actions in [-1, 1].

Baselines: `random_policy` (uniform raw actions) and, for specs that declare a softmax
action `target[v, s]`, a simplex `alpha`, a threshold `mtd`, a metric `dist[v, s]`, a
state `rep[u, s]` and a constant `B_thre` (the agent-migration scenario),
`greedy_nearest_trusted`: every vehicle pre-migrates to the nearest RSU whose reputation
for its user is at least B_thre (the nearest overall when none is), equal compute shares,
and MTD on every RSU whose mean reputation fell below B_thre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from mechdsl.rl.env import observation

Policy = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
TOLERANCE = 1e-6


@dataclass
class Episodes:
    """Per-episode totals (arrays of length `episodes`) and per-slot traces."""

    returns: np.ndarray             # sum over slots of the reward
    discounted: np.ndarray          # sum over slots of discount^t reward
    penalties: np.ndarray           # sum over slots of the constraint penalty
    violating_slots: np.ndarray     # slots with any violated constraint
    violations: dict[str, np.ndarray]  # label -> violated instances summed over slots
    reward_trace: np.ndarray        # (slots,) mean reward per slot
    metric_traces: dict[str, np.ndarray]  # metric -> (slots, episodes, *shape)
    state_traces: np.ndarray        # (slots + 1, episodes, state_dim) states seen
    slots: int

    @property
    def episodes(self) -> int:
        return len(self.returns)

    @property
    def violation_rate(self) -> float:
        return float(self.violating_slots.sum() / (self.episodes * self.slots))

    def summary(self) -> dict:
        out = {"episodes": self.episodes, "slots": self.slots, "mean_return": float(self.returns.mean()),
               "std_return": float(self.returns.std()), "mean_discounted_return": float(self.discounted.mean()),
               "mean_penalty": float(self.penalties.mean()), "violation_rate": self.violation_rate}
        out.update({f"violations_{k}_per_episode": float(v.mean()) for k, v in self.violations.items()})
        return out


def rollout(env, policy: Policy, episodes: int, seed: int, keep_metrics: tuple[str, ...] = ()) -> Episodes:
    """Play `episodes` episodes of `env.horizon` slots with `policy` (no exploration)."""
    generator = torch.Generator(device=env.device).manual_seed(seed)
    state = env.reset(episodes, generator)
    discount = float(getattr(env, "discount", 1.0))
    totals = {"returns": 0.0, "discounted": 0.0, "penalties": 0.0, "violating": 0.0}
    violations: dict[str, np.ndarray] = {}
    rewards, states, metrics = [], [state.detach().cpu().double().numpy()], {k: [] for k in keep_metrics}
    with torch.no_grad():
        for t in range(env.horizon):
            action = policy(state, observation(env, state)).clamp(-1, 1)
            result, state = env.transition(state, action, generator)
            reward = result.reward.double().cpu().numpy()
            totals["returns"] = totals["returns"] + reward
            totals["discounted"] = totals["discounted"] + discount ** t * reward
            totals["penalties"] = totals["penalties"] + result.penalty.double().cpu().numpy()
            totals["violating"] = totals["violating"] + (result.violation > TOLERANCE).double().cpu().numpy()
            for key, value in result.info.items():
                if key.startswith("violations_"):
                    label = key.removeprefix("violations_")
                    violations[label] = violations.get(label, 0.0) + value.double().cpu().numpy()
            for key in keep_metrics:
                metrics[key].append(result.info[key].double().cpu().numpy())
            rewards.append(reward.mean())
            states.append(state.detach().cpu().double().numpy())
    return Episodes(np.asarray(totals["returns"]), np.asarray(totals["discounted"]), np.asarray(totals["penalties"]),
                    np.asarray(totals["violating"]), violations, np.asarray(rewards),
                    {k: np.stack(v) for k, v in metrics.items()}, np.stack(states), env.horizon)


# ---------------------------------------------------------------- policies
def agent_policy(agent, seed: int = 0) -> Policy:
    """The agent's deterministic action; one generator for the whole rollout (a fresh one per
    slot would make a stochastic agent, such as `random`, repeat its decision every slot)."""
    generators: dict[str, torch.Generator] = {}

    def act(state: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        key = str(obs.device)
        if key not in generators:
            generators[key] = torch.Generator(device=obs.device).manual_seed(seed)
        return agent.act(obs, explore=False, generator=generators[key])
    return act


def random_policy(action_dim: int, seed: int) -> Policy:
    generator = torch.Generator().manual_seed(seed)

    def act(state: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        raw = 2 * torch.rand(state.shape[0], action_dim, generator=generator, dtype=torch.float64) - 1
        return raw.to(state.device, state.dtype)
    return act


def greedy_nearest_trusted(package) -> Policy | None:
    """The nearest-trusted-RSU heuristic (module docstring); None if the spec lacks its names."""
    actions, layout = package.ACTIONS, package.STATE_LAYOUT
    needed = (actions.get("target", ("",))[0] == "softmax" and actions.get("alpha", ("",))[0] == "simplex"
              and actions.get("mtd", ("",))[0] == "threshold" and "dist" in package.METRICS
              and "B_thre" in package.CONSTANTS and "rep[0, 0]" in layout)
    if not needed:
        return None
    vehicles, rsus = actions["target"][1]
    rep_columns = [layout.index(f"rep[{u}, {s}]") for u in range(vehicles) for s in range(rsus)]
    threshold = float(package.CONSTANTS["B_thre"])
    order = list(actions)

    def act(state: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        batch = state.shape[0]
        zeros = torch.zeros(batch, len(package.ACTION_LAYOUT), device=state.device, dtype=state.dtype)
        dist = package.evaluate(state, zeros).info["dist"]                      # (B, V, S)
        rep = state[:, rep_columns].reshape(batch, vehicles, rsus)
        score = torch.where(rep >= threshold, -dist, -dist - 1e9)              # trusted first, then nearest
        choice = torch.nn.functional.one_hot(score.argmax(2), rsus).to(state.dtype)
        blocks = {"target": (2 * choice - 1).reshape(batch, -1),
                  "alpha": torch.zeros(batch, vehicles * rsus, device=state.device, dtype=state.dtype),
                  "mtd": torch.where(rep.mean(1) < threshold, 1.0, -1.0).to(state.dtype)}
        return torch.cat([blocks[name] for name in order], 1)
    return act
