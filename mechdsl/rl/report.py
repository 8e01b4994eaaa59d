"""Plots (PNG, Agg backend) and a Markdown report of training runs and evaluations.

``write_report`` is the one-call entry: curves of several runs with the exact optimum as a
reference line, optional comparison bars (pruning rates, denoising steps), contract items per
type, and ``report.md`` embedding them above a table of the numbers.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from mechdsl.rl.algorithms.base import Agent  # noqa: E402
from mechdsl.rl.env import BatchedEnv, observation  # noqa: E402
from mechdsl.rl.evaluate import Evaluation, heldout_states  # noqa: E402
from mechdsl.seeds import REPORT_POLICY_SEED  # noqa: E402

Rows = Sequence[Mapping[str, Any]]
_TYPE_SUFFIX = re.compile(r"^(?P<item>.+?)_(?P<k>\d+)$")


def plot_curves(runs: Mapping[str, Rows], path: Path, *, metric: str = "test_utility",
                optimum: float | None = None, title: str | None = None, x: str = "step") -> Path:
    """``metric`` against ``x`` (training step, or ``env_samples`` to compare algorithms that
    collect different batches per step) for each run; a dashed line at the exact optimum."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, rows in runs.items():
        pts = [(r[x], r[metric]) for r in rows if r.get(metric) is not None]
        if len(pts) == 1:  # a run without learning (random): a level, not a point
            ax.axhline(pts[0][1], linestyle=":", linewidth=1.4, color="gray", label=label)
        elif pts:
            ax.plot(*zip(*pts), marker="o", markersize=2.5, linewidth=1.4, label=label)
    if optimum is not None:
        ax.axhline(optimum, color="black", linestyle="--", linewidth=1.0, label="exact optimum")
    ax.set_xlabel("training step" if x == "step" else x.replace("_", " "))
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title or metric.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_bars(values: Mapping[str, float], path: Path, *, ylabel: str, title: str,
              reference: float | None = None) -> Path:
    """One bar per label (e.g. final optimality ratio per pruning rate or denoising steps)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    labels = list(values)
    ax.bar(labels, [values[k] for k in labels], color="tab:blue")
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=1.0)
    for i, k in enumerate(labels):
        ax.annotate(f"{values[k]:.3g}", (i, values[k]), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def contract_items(env: BatchedEnv, agent: Agent, n_states: int = 512) -> dict[str, dict[int, float]]:
    """Mean of every per-type info tensor ``<item>_<k>`` under the policy: {item: {k: mean}}."""
    state = heldout_states(env, n_states)
    obs = observation(env, state)
    action = agent.act(obs, explore=False, generator=torch.Generator(device=obs.device).manual_seed(REPORT_POLICY_SEED))
    return items_of_actions(env, state, action)


def items_of_actions(env: BatchedEnv, state: torch.Tensor, action: torch.Tensor) -> dict[str, dict[int, float]]:
    """{item: {k: mean}} of the info tensors named ``<item>_<k>`` for given actions."""
    info = env.evaluate(state, action).info
    items: dict[str, dict[int, float]] = {}
    for key, value in info.items():
        match = _TYPE_SUFFIX.match(key)
        if match and value.dim() == 1:
            items.setdefault(match["item"], {})[int(match["k"])] = float(value.float().mean())
    return items


def plot_contract_items(items: Mapping[str, Mapping[int, float]], path: Path, *,
                        reference: Mapping[str, Mapping[int, float]] | None = None,
                        title: str = "contract items per type") -> Path:
    """Grouped bars: one group per item (allocation, payment, utility), one bar per type;
    ``reference`` (e.g. the exact optimum's items) is drawn as black outlines."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    names = list(items)
    types = sorted({k for per_type in items.values() for k in per_type})
    width = 0.8 / max(len(types), 1)
    for j, k in enumerate(types):
        xs = [i + (j - (len(types) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, [items[n].get(k, 0.0) for n in names], width=width, label=f"type {k}")
        if reference is not None:
            ax.bar(xs, [reference.get(n, {}).get(k, 0.0) for n in names], width=width, fill=False,
                   edgecolor="black", linewidth=1.2, label="optimum" if j == 0 else None)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("mean over held-out states")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def evaluation_table(evaluations: Mapping[str, Evaluation]) -> str:
    cols = [("optimality ratio", "optimality_ratio"), ("mean utility", "mean_utility"),
            ("violation rate", "violation_rate"), ("proposals repaired", "repair_rate"),
            ("pooled", "pooled_rate"), ("repair cost: mean", "repair_value_lost_mean"),
            ("worst", "repair_value_lost_worst"), ("params", "actor_params"),
            ("params deployed", "actor_params_deployed"), ("FLOPs/action", "actor_flops"),
            ("FLOPs deployed", "actor_flops_deployed"), ("inference s / 10k", "inference_seconds"),
            ("solver speedup", "solver_speedup")]
    lines = ["| run | " + " | ".join(c for c, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for label, ev in evaluations.items():
        d = ev.as_dict()
        lines.append(f"| {label} | " + " | ".join(_fmt(d[k]) for _, k in cols) + " |")
    return "\n".join(lines)


def write_report(out_dir: Path, runs: Mapping[str, Rows], evaluations: Mapping[str, Evaluation] | None = None, *,
                 optimum: float | None = None, comparisons: Mapping[str, Mapping[str, float]] | None = None,
                 curve_groups: Mapping[str, Mapping[str, Rows]] | None = None,
                 items: Mapping[str, Mapping[int, float]] | None = None,
                 items_reference: Mapping[str, Mapping[int, float]] | None = None, title: str = "Training report",
                 notes: str = "") -> Path:
    """Write the PNGs and ``report.md`` into ``out_dir``; returns the path of ``report.md``.

    ``runs``: the main learning curves; ``curve_groups``: further sets of curves, one plot each
    (e.g. pruning rates, denoising steps); ``comparisons``: {title: {setting: value}} as bars.
    """
    out_dir = Path(out_dir)
    sections = [f"# {title}", ""]
    if notes:
        sections += [notes, ""]
    curves = plot_curves(runs, out_dir / "test_utility.png", metric="test_utility", optimum=optimum,
                         title="test utility on held-out states")
    sections += ["## Learning curves", "", f"![test utility]({curves.name})", ""]
    if any(r.get("optimality_ratio") is not None for rows in runs.values() for r in rows):
        ratio = plot_curves(runs, out_dir / "optimality_ratio.png", metric="optimality_ratio", optimum=1.0,
                            title="optimality ratio")
        sections += [f"![optimality ratio]({ratio.name})", ""]
    for name, group in (curve_groups or {}).items():
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        png = plot_curves(group, out_dir / f"curves_{slug}.png", metric="test_utility", optimum=optimum, title=name)
        sections += [f"## {name}", "", f"![{name}]({png.name})", ""]
    for name, values in (comparisons or {}).items():
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        png = plot_bars(values, out_dir / f"compare_{slug}.png", ylabel="value", title=name)
        sections += [f"## {name}", "", f"![{name}]({png.name})", "",
                     "| setting | value |", "|---|---|", *[f"| {k} | {_fmt(v)} |" for k, v in values.items()], ""]
    if items:
        png = plot_contract_items(items, out_dir / "contract_items.png", reference=items_reference)
        sections += ["## Contract items per type", "", f"![contract items]({png.name})", ""]
    if evaluations:
        sections += ["## Held-out evaluation", "", evaluation_table(evaluations), ""]
        sections += [f"{label}: {ev.violation_rate:.1%} of the deployed contracts violate a constraint of the spec, so "
                     f"its optimality ratio {_fmt(ev.optimality_ratio)} is NOT a result (the optimum is over feasible "
                     f"contracts); counting each violating contract as worth 0 gives {_fmt(ev.feasible_ratio)}."
                     for label, ev in evaluations.items() if ev.violation_rate > 0 and ev.optimality_ratio is not None]
        sections += [f"{label}: the actor ascends "
                     + ("the env's exact reward through the action (critic = exact)." if ev.critic == "exact"
                        else "a learned critic Q(S, A) (critic = learned).")
                     for label, ev in evaluations.items() if ev.critic]
        sections += [f"{label}: the env pays "
                     + ("the best feasible payments for the policy's allocations, an LP per state (payments = optimal)."
                        if ev.payments == "optimal" else "what the policy's payment slacks place (payments = action).")
                     for label, ev in evaluations.items() if ev.payments]
        sections += [f"{label}: {ev.reference_failures} of {ev.n_states} held-out states have no exact reference "
                     "(every local solve failed); they are left out of the optimality ratio."
                     for label, ev in evaluations.items() if ev.reference_failures]
    final_rows = [f"| {label} | {_fmt(rows[-1].get('step'))} | {_fmt(rows[-1].get('test_utility'))} | "
                  f"{_fmt(rows[-1].get('optimality_ratio'))} | {_fmt(rows[-1].get('time_s'))} |"
                  for label, rows in runs.items() if rows]
    sections += ["## Final training metrics", "", "| run | step | test utility | optimality ratio | time s |",
                 "|---|---|---|---|---|", *final_rows, ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(sections))
    return path
