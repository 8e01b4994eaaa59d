"""Episode evaluation of scenario policies, the baselines, and their statistics.

`rollout(env, policy, episodes, seed)` plays `episodes` full episodes in one batch from
fixed starts (`seed`), with the env's per-slot randomness drawn from the same seeded
generator, so every policy meets the same initial states and, as long as its decisions do
not change the random draws' arguments, the same attacks. A policy maps (state, obs) to raw
actions in [-1, 1].

A policy with `decides = True` (mechdsl/scenario/myopic.py) returns decisions instead of raw
actions; they are scored with `env.transition_decided`.

`Episodes.count_traces` keeps every slot's counts (violated instances, rows on a fallback,
unavoidable violations); `hard_violations` splits each hard constraint's violations into the
unavoidable and the avoidable, per episode, in instances and in slots.

Baselines: `random_policy` (uniform raw actions) and, for specs that declare a softmax
action `target[v, s]`, a simplex `alpha`, a threshold `mtd`, a metric `dist[v, s]`, a
state `rep[u, s]` and a constant `B_thre` (the agent-migration scenario),
`greedy_nearest_trusted`: every vehicle asks for the nearest RSU whose reputation for its
user is at least B_thre (then the nearest overall), equal compute shares, and MTD on every
RSU whose mean reputation fell below B_thre. Its scores go through the spec's action map,
so with the spec's masked, capacitated `target` it is feasible: the map places vehicles in
order of nearness on trusted RSUs with room.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from mechdsl.rl.env import observation
from mechdsl.tolerances import VIOLATION_TOLERANCE

Policy = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
TOLERANCE = VIOLATION_TOLERANCE  # a slot violates a constraint whose excess is above this


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
    fallbacks: dict[str, np.ndarray] = field(default_factory=dict)    # choice -> rows on its fallback, summed
    unavoidable: dict[str, np.ndarray] = field(default_factory=dict)  # hard label -> violations no decision avoids
    count_traces: dict[str, np.ndarray] = field(default_factory=dict)  # info count key -> (slots, episodes)

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
        out.update({f"fallback_{k}_per_episode": float(v.mean()) for k, v in self.fallbacks.items()})
        out.update({f"unavoidable_{k}_per_episode": float(v.mean()) for k, v in self.unavoidable.items()})
        return out


def rollout(env, policy: Policy, episodes: int, seed: int, keep_metrics: tuple[str, ...] = ()) -> Episodes:
    """Play `episodes` episodes of `env.horizon` slots with `policy` (no exploration)."""
    generator = torch.Generator(device=env.device).manual_seed(seed)
    state = env.reset(episodes, generator)
    discount = float(getattr(env, "discount", 1.0))
    totals = {"returns": 0.0, "discounted": 0.0, "penalties": 0.0, "violating": 0.0}
    counted: dict[str, dict[str, np.ndarray]] = {"violations_": {}, "fallback_": {}, "unavoidable_": {}}
    traces: dict[str, list[np.ndarray]] = {}
    rewards, states, metrics = [], [state.detach().cpu().double().numpy()], {k: [] for k in keep_metrics}
    decides = getattr(policy, "decides", False)
    with torch.no_grad():
        for t in range(env.horizon):
            if decides:
                result, state = env.transition_decided(state, policy(state, observation(env, state)), generator)
            else:
                action = policy(state, observation(env, state)).clamp(-1, 1)
                result, state = env.transition(state, action, generator)
            reward = result.reward.double().cpu().numpy()
            totals["returns"] = totals["returns"] + reward
            totals["discounted"] = totals["discounted"] + discount ** t * reward
            totals["penalties"] = totals["penalties"] + result.penalty.double().cpu().numpy()
            totals["violating"] = totals["violating"] + (result.violation > TOLERANCE).double().cpu().numpy()
            for key, value in result.info.items():
                for prefix, sums in counted.items():
                    if key.startswith(prefix):
                        label, count = key.removeprefix(prefix), value.double().cpu().numpy()
                        sums[label] = sums.get(label, 0.0) + count
                        traces.setdefault(key, []).append(count)
            for key in keep_metrics:
                metrics[key].append(result.info[key].double().cpu().numpy())
            rewards.append(reward.mean())
            states.append(state.detach().cpu().double().numpy())
    return Episodes(np.asarray(totals["returns"]), np.asarray(totals["discounted"]), np.asarray(totals["penalties"]),
                    np.asarray(totals["violating"]), counted["violations_"], np.asarray(rewards),
                    {k: np.stack(v) for k, v in metrics.items()}, np.stack(states), env.horizon,
                    counted["fallback_"], counted["unavoidable_"], {k: np.stack(v) for k, v in traces.items()})


def hard_violation_counts(violated: np.ndarray, unavoidable: np.ndarray) -> dict[str, dict]:
    """One hard constraint's violations per episode and in total, split by whether a decision
    could have avoided them (what `mechdsl eval --json` prints under "hard").

    With v[t, e] the violated instances in slot t of episode e and u[t, e] = min(v, R - M*)
    those no capacity-respecting decision avoids (the rows that must take their fallback,
    docs/scenarios.md; u = 0 for a constraint no mask keeps), a = v - u >= 0 are avoidable.
    Per episode e: violations = sum_t v, unavoidable = sum_t u, avoidable = sum_t a;
    violating_slots = #{t: v > 0}, avoidable_slots = #{t: a > 0} and unavoidable_slots =
    violating_slots - avoidable_slots (slots whose every violation is excused). "total" sums
    each over episodes. Counts are integers; `violated` and `unavoidable` are (slots, episodes).
    """
    violated, unavoidable = np.rint(violated).astype(np.int64), np.rint(unavoidable).astype(np.int64)
    avoidable = violated - unavoidable
    per_episode = {"violations": violated.sum(0), "unavoidable": unavoidable.sum(0), "avoidable": avoidable.sum(0),
                   "violating_slots": (violated > 0).sum(0), "avoidable_slots": (avoidable > 0).sum(0)}
    per_episode["unavoidable_slots"] = per_episode["violating_slots"] - per_episode["avoidable_slots"]
    return {"per_episode": {k: v.tolist() for k, v in per_episode.items()},
            "total": {k: int(v.sum()) for k, v in per_episode.items()}}


def hard_violations(episodes: Episodes, labels) -> dict[str, dict]:
    """{label: hard_violation_counts} for each hard constraint `labels` names (package.HARD);
    a constraint without "unavoidable_<label>" counts (one no mask keeps) excuses nothing."""
    nothing = np.zeros((episodes.slots, episodes.episodes))
    return {label: hard_violation_counts(episodes.count_traces[f"violations_{label}"],
                                         episodes.count_traces.get(f"unavoidable_{label}", nothing))
            for label in labels}


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
        near = 0.5 * dist / dist.amax(2, keepdim=True)                        # in [0, 0.5]
        score = torch.where(rep >= threshold, 1 - near, -0.5 - near)           # trusted first, then nearest
        blocks = {"target": score.reshape(batch, -1),
                  "alpha": torch.zeros(batch, vehicles * rsus, device=state.device, dtype=state.dtype),
                  "mtd": torch.where(rep.mean(1) < threshold, 1.0, -1.0).to(state.dtype)}
        return torch.cat([blocks[name] for name in order], 1)
    return act
