"""Evaluation and report of a scenario run: the trained policy against the random policy, the
greedy nearest-trusted-RSU heuristic (feasible through the map) and the myopic per-slot
optimum (mechdsl/scenario/myopic.py) on the same held-out episodes, learning curves, per-slot
latency and reputation traces (PNG, Agg backend) and `report.md`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mechdsl.rl.evaluate import HELDOUT_SEED
from mechdsl.rl.report import _save, plot_curves
from mechdsl.scenario.myopic import myopic_optimum
from mechdsl.scenario.rollout import Episodes, agent_policy, greedy_nearest_trusted, random_policy, rollout


GREEDY, MYOPIC = "greedy nearest trusted (feasible)", "myopic per-slot optimum"


def reference_policies(env, package, seed: int = HELDOUT_SEED) -> dict:
    """{label: policy} of the references the spec supports: random, greedy, myopic optimum."""
    policies = {"random": random_policy(env.action_dim, seed)}
    greedy = greedy_nearest_trusted(package)
    if greedy is not None:
        policies[GREEDY] = greedy
    myopic = myopic_optimum(package)
    if myopic is not None:
        policies[MYOPIC] = myopic
    return policies


def compare_policies(env, package, agent, episodes: int, seed: int = HELDOUT_SEED) -> dict[str, Episodes]:
    """{label: Episodes} of the trained policy (if any) and the references on the same starts."""
    keep = tuple(k for k in ("lat_tot", "hits") if k in package.METRICS)
    policies = {"policy": agent_policy(agent, seed)} if agent is not None else {}
    policies.update(reference_policies(env, package, seed))
    return {label: rollout(env, policy, episodes, seed, keep) for label, policy in policies.items()}


def _table(results: dict[str, Episodes], latency: bool, hard: tuple[str, ...] = ()) -> str:
    """One row per policy; hard constraints get their violations per episode and, in
    parentheses, how many of them no decision could avoid (rows no assignment could place)."""
    labels = sorted({k for e in results.values() for k in e.violations})
    fallbacks = sorted({k for e in results.values() for k in e.fallbacks})
    head = ["policy", "total latency / episode" if latency else "return / episode", "sd", "penalty / episode",
            "avoidable violating slots", *[f"{k}{' (hard)' if k in hard else ''} / episode" for k in labels],
            *[f"fallback {k} / episode" for k in fallbacks]]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, e in results.items():
        value = -e.returns if latency else e.returns
        cells = []
        for k in labels:
            cell = f"{e.violations[k].mean():.3g}"
            if k in e.unavoidable:
                cell += f" ({e.unavoidable[k].mean():.3g} unavoidable)"
            cells.append(cell)
        row = [name, f"{value.mean():.4g}", f"{value.std():.3g}", f"{e.penalties.mean():.4g}",
               f"{e.violation_rate:.3f}", *cells, *[f"{e.fallbacks[k].mean():.3g}" for k in fallbacks]]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


REFERENCE_NOTES = [
    "References: `random` draws uniform raw actions; `" + GREEDY + "` asks every vehicle for the nearest RSU its "
    "user trusts, equal shares, MTD where the mean reputation fell below B_thre, all through the spec's action map "
    "(so masks and capacities hold); `" + MYOPIC + "` solves each slot exactly for that slot's latency (targets, "
    "shares and MTD; 22c and the most trusted placements enforced) knowing the hidden attack state, with no "
    "look-ahead (mechdsl/scenario/myopic.py).",
    "Violating slots count only violations a decision could have avoided; a hard constraint's violations in "
    "parentheses are those no capacity-respecting decision avoids (the vehicle's trusted RSUs are all full or none "
    "is trusted; the map then takes its fallback).",
]


def plot_traces(results: dict[str, Episodes], path: Path, *, latency: bool) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for name, e in results.items():
        trace = -e.reward_trace if latency else e.reward_trace
        ax.plot(range(1, len(trace) + 1), trace, marker="o", markersize=2.5, label=name)
    ax.set_xlabel("slot")
    ax.set_ylabel("total latency of the slot (s)" if latency else "reward")
    ax.set_title("per-slot " + ("latency" if latency else "reward") + " (mean over held-out episodes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_reputation(e: Episodes, package, path: Path, episode: int = 0) -> Path | None:
    """Reputation B_{u,s} of every user for each RSU in one episode; attacked slots shaded."""
    import matplotlib.pyplot as plt

    layout = package.STATE_LAYOUT
    if "rep[0, 0]" not in layout:
        return None
    vehicles, rsus = package.ACTIONS["target"][1] if "target" in package.ACTIONS else (None, None)
    if vehicles is None:
        return None
    fig, axes = plt.subplots(1, rsus, figsize=(3.0 * rsus, 3.0), sharey=True)
    hits = e.metric_traces.get("hits")
    for s, ax in enumerate(np.atleast_1d(axes)):
        for u in range(vehicles):
            column = layout.index(f"rep[{u}, {s}]")
            ax.plot(e.state_traces[:, episode, column], linewidth=1.0)
        if hits is not None:
            for t in np.flatnonzero(hits[:, episode, s] > 0.5):
                ax.axvspan(t - 0.5, t + 0.5, color="red", alpha=0.15)
        if "B_thre" in package.CONSTANTS:
            ax.axhline(package.CONSTANTS["B_thre"], color="black", linestyle="--", linewidth=0.8)
        ax.set_title(f"RSU {s}")
        ax.set_xlabel("slot")
    np.atleast_1d(axes)[0].set_ylabel("reputation (one line per user)")
    return _save(fig, path)


def evaluate_and_report(config, run_dir: Path, model, package, env, agent, rows, episodes: int, *,
                        wall_time: float | None = None) -> dict:
    latency = "lat_tot" in package.METRICS
    results = compare_policies(env, package, agent, episodes)
    policy = results["policy"]
    summary = {"n_states": policy.episodes, "mean_utility": float(policy.returns.mean()),
               "violation_rate": policy.violation_rate, "wall_time_s": wall_time,
               "policies": {k: e.summary() for k, e in results.items()}}
    if latency:
        summary["total_latency"] = {k: float(-e.returns.mean()) for k, e in results.items()}
    (run_dir / "evaluation.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    curves = plot_curves({config.algo: rows}, run_dir / "test_utility.png", metric="test_utility",
                         title="first-slot reward on held-out starts")
    train_curve = plot_curves({config.algo: rows}, run_dir / "train_reward.png", metric="train_reward",
                              title="mean learning reward per slot while training (with exploration)")
    traces = plot_traces(results, run_dir / "slot_latency.png", latency=latency)
    reputation = plot_reputation(policy, package, run_dir / "reputation.png")
    table = _table(results, latency, tuple(getattr(package, "HARD", {})))
    what = "total latency (s, summed over vehicles and slots)" if latency else "return"
    lines = [f"# {model.name}: {config.algo}, seed {config.seed}", "",
             f"Spec `{config.spec}`, {config.steps} training steps (one slot of {env.horizon} for a batch of "
             f"episodes each), preset `{config.preset}`, device `{config.device}`"
             + (f", training wall time {wall_time:.1f} s" if wall_time else "") + ".",
             f"Held-out evaluation: {policy.episodes} episodes from the same starts for every policy; "
             f"{what} per episode, mean and sd over episodes.", "", table, "",
             *[line for note in (REFERENCE_NOTES if MYOPIC in results else REFERENCE_NOTES[1:]) for line in (note, "")],
             "## Learning curves", "", f"![first-slot reward]({curves.name})", f"![train reward]({train_curve.name})",
             "", "## Per-slot latency", "", f"![slot latency]({traces.name})", ""]
    if reputation is not None:
        lines += ["## Reputation of the RSUs (trained policy, episode 0; red = DDoS hit, dashed = B_thre)", "",
                  f"![reputation]({reputation.name})", ""]
    (run_dir / "report.md").write_text("\n".join(lines))
    summary["comparison_text"] = f"  {what} per episode on {policy.episodes} held-out episodes:\n" + "\n".join(
        f"    {k:<24} {(-e.returns if latency else e.returns).mean():.6g}" for k, e in results.items())
    return summary
