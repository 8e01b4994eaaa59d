"""Report of a game run: the learned auctioneer against PPO, greedy and random, and social
welfare against the efficient reference (the two plots of the seed paper's evaluation).

Policies compared on the same held-out markets (`mechdsl.rl.evaluate.heldout_states`):
the trained agents (deterministic actions), the greedy auctioneer (`Env.greedy_action`:
clocks from the lowest cost to the highest value at the finest step) and the uniformly
random auctioneer (actions uniform on [-1, 1]^3, drawn from a generator seeded by the run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from mechdsl.rl.env import observation  # noqa: E402
from mechdsl.rl.evaluate import heldout_states  # noqa: E402
from mechdsl.rl.report import _fmt, _save, evaluation_table  # noqa: E402


def policy_actions(env, agents: Mapping[str, object], state: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """Actions of every agent, the greedy and the random auctioneer on `state`."""
    obs = observation(env, state)
    actions = {name: agent.act(obs, explore=False, generator=torch.Generator(device=obs.device).manual_seed(seed))
               for name, agent in agents.items()}
    actions["greedy"] = env.greedy_action(state)
    generator = torch.Generator(device=env.device).manual_seed(seed + 1)
    actions["random"] = 2 * torch.rand(state.shape[0], env.action_dim, generator=generator, device=env.device,
                                       dtype=env.dtype) - 1
    return actions


def policy_outcomes(env, agents: Mapping[str, object], n_states: int, seed: int) -> dict[str, dict[str, float]]:
    """Mean reward (welfare - tick cost), welfare, ticks and welfare ratio per policy, plus
    the efficient welfare, on `n_states` held-out markets."""
    state = heldout_states(env, n_states)
    optimum = env.optimum(state).double()
    out = {}
    for name, action in policy_actions(env, agents, state, seed).items():
        result = env.evaluate(state, action)
        welfare = result.info["welfare"].double()
        out[name] = {"mean_reward": float(result.reward.double().mean()), "mean_welfare": float(welfare.mean()),
                     "mean_clock_rounds": float(result.info["clock_rounds"].double().mean()),
                     "welfare_ratio": float(welfare.mean() / optimum.mean()),
                     "mean_efficient_welfare": float(optimum.mean())}
    return out


def plot_test_reward(runs: Mapping[str, list], outcomes: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """Test reward against training step for the trained policies; greedy and random as
    levels; the efficient welfare (no tick cost) as the dashed reference."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, rows in runs.items():
        points = [(r["step"], r["test_utility"]) for r in rows if r.get("test_utility") is not None]
        if points:
            ax.plot(*zip(*points), marker="o", markersize=2.5, linewidth=1.4, label=label)
    for label, colour in (("greedy", "tab:green"), ("random", "tab:gray")):
        ax.axhline(outcomes[label]["mean_reward"], color=colour, linestyle=":", linewidth=1.4, label=label)
    efficient = next(iter(outcomes.values()))["mean_efficient_welfare"]
    ax.axhline(efficient, color="black", linestyle="--", linewidth=1.0, label="efficient welfare")
    ax.set_xlabel("training step")
    ax.set_ylabel("test reward (welfare - tick cost)")
    ax.set_title("test reward on held-out markets")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_welfare(outcomes: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """Mean social welfare and reward per policy against the efficient welfare; clock ticks
    on a second axis."""
    names = list(outcomes)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    xs = range(len(names))
    left.bar([x - 0.2 for x in xs], [outcomes[n]["mean_welfare"] for n in names], width=0.4, label="welfare")
    left.bar([x + 0.2 for x in xs], [outcomes[n]["mean_reward"] for n in names], width=0.4, label="reward")
    left.axhline(outcomes[names[0]]["mean_efficient_welfare"], color="black", linestyle="--", linewidth=1.0,
                 label="efficient welfare")
    left.set_xticks(list(xs), names)
    left.set_title("social welfare vs the efficient reference")
    left.legend(fontsize=8)
    left.grid(axis="y", alpha=0.3)
    right.bar(list(xs), [outcomes[n]["mean_clock_rounds"] for n in names], color="tab:orange")
    right.set_xticks(list(xs), names)
    right.set_title("clock ticks per market")
    right.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def write_game_report(run_dir: Path, model, config, runs: Mapping[str, list], outcomes: Mapping[str, Mapping],
                      evaluations: Mapping[str, object]) -> Path:
    run_dir = Path(run_dir)
    reward_png = plot_test_reward(runs, outcomes, run_dir / "test_reward.png")
    welfare_png = plot_welfare(outcomes, run_dir / "welfare.png")
    steps = {name: rows[-1]["step"] if rows else 0 for name, rows in runs.items()}
    table = ["| policy | training steps | mean reward | mean welfare | welfare / efficient | clock ticks |",
             "|---|---|---|---|---|---|"]
    for name, o in outcomes.items():
        table.append(f"| {name} | {steps.get(name, '-')} | {_fmt(o['mean_reward'])} | {_fmt(o['mean_welfare'])} | "
                     f"{_fmt(o['welfare_ratio'])} | {_fmt(o['mean_clock_rounds'])} |")
    efficient = next(iter(outcomes.values()))["mean_efficient_welfare"]
    round_cost = float(model.constants["round_cost"].value)
    sections = [
        f"# {model.name}: the tier-2 auctioneer, {config.algo}, seed {config.seed}", "",
        f"Spec `{config.spec}`, preset `{config.preset}`, device `{config.device}`. The agent sets the double "
        f"Dutch auction's clocks per market; reward = expected gains from trade - {round_cost:g} x clock ticks. "
        f"Greedy: clocks from the lowest cost to the highest value at the finest step; random: uniform actions. "
        f"Efficient welfare (mean {efficient:.4g}) is the reference; optimality ratio = mean reward / mean "
        "efficient welfare.", "",
        "## Test reward", "", f"![test reward]({reward_png.name})", "",
        "## Social welfare", "", f"![welfare]({welfare_png.name})", "",
        "## Held-out markets", "", *table, "",
        "## Evaluation of the trained policy", "", evaluation_table(evaluations), "",
    ]
    path = run_dir / "report.md"
    path.write_text("\n".join(sections))
    return path
